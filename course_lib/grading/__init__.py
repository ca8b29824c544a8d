"""Batch grading: run each submitted notebook in its own sandbox, grade its answers in the grader's own process.

    python -m course_lib.grading SUBMISSIONS --out OUT_DIR [--jobs N] [--resume] [--memory 4G] [--disk 512M]
                                 [--cell-timeout 60] [--timeout 600] [--assignment NN] [--full] [--no-sandbox]
                                 [--layout canvas|moodle|blackboard|nbgrader|folders|flat] [--attempts latest|all]

SUBMISSIONS is a folder or .zip: a platform's download, `<student>.ipynb` files or `<student>/` folders (`ingest`
detects which, reads each student's latest attempt and lists every file it did not grade in OUT_DIR/ingest.csv).
Writes OUT_DIR/gradebook.csv (student, points per exercise, total, max) and OUT_DIR/feedback/<student>.md, both
atomically and only once every submission's sandbox has ended; OUT_DIR/.grading/ keeps the run's secret seed and
each graded student's record, so a rerun gives the same gradebook and `--resume` grades only those not yet done
(or graded by other checks: each record and the gradebook's `checks` column name the checks version,
`batch.checks_version`).

How a submission is graded (the threat model and what the sandbox does and does not protect: docs/instructors.md):
- Its code cells run in order, without the learner's `check("KEY", name)` lines, in a fresh runner
  (course_lib.grading.runner) inside a bubblewrap sandbox (course_lib.grading.sandbox): no network, no processes of anyone else,
  a read-only file system without the solutions, the submissions or the grader's output, and limits on memory,
  processes, disk, output and time. Errors in a cell do not stop the run.
- Right after the cell holding `check("KEY", ...)` (or, if that line was changed or removed, after the last cell
  defining the exercise's answer, e.g. `def mean_image`), the grader runs exercise KEY's test here, in its own
  process, with inputs drawn from the run's secret seed. The test only *calls* the answer inside the sandbox,
  through a pipe that carries plain data, and compares what comes back with values it computed itself.
- Points come from the grader's registry: an exercise's points if its test passed, the share of them its passed
  parts weigh if it passed some (`checks.part`; rounded to 2 decimals, never the full points), else 0.

Modules, one per stage of the instructor's path:
- `ingest`: the platforms' downloads, one submission per student, each with a safe key
- `reading`: reading submitted notebooks, finding the check lines, planning the grading steps
- `sandbox`: the bubblewrap sandbox each submission runs in, and the channel to it
- `runner`: what runs inside a sandbox: the submission's cells and calls of its answers
- `submission`: grading one submitted notebook
- `batch`: a folder of submissions, `jobs` at a time, with records for `--resume`
- `report`: the feedback files and the gradebook
- `__main__`: the command line
"""

"""Batch grading: run each submitted notebook in its own sandbox, grade its answers in the grader's own process.

    python -m course_lib.grading SUBMISSIONS --out OUT_DIR [--assignment NN|FILE.toml] [--roster FILE]
                                 [--overrides FILE] [--jobs N] [--resume] [--memory 4G] [--disk 512M]
                                 [--cell-timeout 60] [--timeout 600] [--full] [--no-sandbox]
                                 [--layout canvas|moodle|blackboard|nbgrader|folders|flat] [--attempts latest|all]

SUBMISSIONS is a folder or .zip: a platform's download, `<student>.ipynb` files or `<student>/` folders (`ingest`
detects which, reads each student's latest attempt and lists every file it did not grade in OUT_DIR/ingest.csv).
Writes OUT_DIR/gradebook.csv (student, points per exercise, total, max, status, days_late, late_penalty,
adjustment, id, name, section, flags, checks), OUT_DIR/feedback/<student>.md and, with a roster, the platform's
import file and feedback bundle, all atomically and only once every submission's sandbox has ended;
OUT_DIR/.grading/ keeps each graded student's record, so `--resume` grades only those not yet done, whose
notebook changed, or graded by other checks (each record and the gradebook's `checks` column name the checks
version, `batch.checks_version`). No seed is kept: each grading draws a fresh secret.

How a submission is graded (the threat model and what the sandbox does and does not protect: docs/instructors.md):
- Before any of its code runs, the runner reads and parses its code cells inside the sandbox (the grader's own
  process only decodes the JSON and matches check lines, in linear time).
- Its code cells run in order, without the learner's `check("KEY", name)` lines, in a fresh runner
  (course_lib.grading.runner) inside a bubblewrap sandbox (course_lib.grading.sandbox): no network, no processes of anyone else,
  a read-only file system without the solutions, the submissions or the grader's output, and limits on memory,
  processes, disk, output and time. Errors in a cell do not stop the run.
- Right after the cell holding the last `check("KEY", name)` (grading `name`), or, if that line was changed or
  removed, after the last cell defining the exercise's answer, e.g. `def mean_image`, the grader runs exercise
  KEY's test here, in its own process, with inputs drawn from this grading's fresh secret. The test only *calls* the answer inside the sandbox,
  through a pipe that carries plain data, and compares what comes back with values it computed itself.
- Points come from the grader's registry: an exercise's points if its test passed, the share of them its passed
  parts weigh if it passed some (`checks.part`; rounded to 2 decimals, never the full points), else 0; an answer
  that is, or calls, course_lib's own function gets 0 and a flag (docs/instructors.md, "Answers must be written").
- Facts about an answer that a test needs beyond its return values (is its input unchanged, its layers, its
  gradients) come from probes run in a second, fresh sandbox where the answer is rebuilt from the imports and
  the definitions it needs alone (submission.ProbeSandbox), never next to the rest of the submission's code.

Modules, one per stage of the instructor's path:
- `ingest`: the platforms' downloads, one submission per student, each with a safe key
- `reading`: reading submitted notebooks, finding the check lines, planning the grading steps
- `sandbox`: the bubblewrap sandbox each submission runs in, and the channel to it
- `runner`: what runs inside a sandbox: the submission's cells and calls of its answers
- `confine`: what confines a sandbox beyond bubblewrap: the seccomp filter, the unprivileged uid, its identity
- `submission`: grading one submitted notebook
- `batch`: a folder of submissions, `jobs` at a time, with records for `--resume`
- `assignment`: the assignment file: exercises and points, deadline, late policy
- `overrides`: the instructor's manual grades, applied after the automatic ones
- `report`: each student's final line, the feedback files and the gradebook
- `lms`: rosters of Canvas, Moodle or a plain CSV; the file each platform imports; feedback bundles
- `__main__`: the command line
"""

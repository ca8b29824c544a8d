"""Batch grading: run each submitted notebook in its own sandbox, grade its answers in the grader's own process.

    python -m course_lib.grading SUBMISSIONS_DIR --out OUT_DIR [--jobs N] [--resume] [--memory 4G] [--disk 512M]
                                 [--cell-timeout 60] [--timeout 600] [--assignment NN] [--full] [--no-sandbox]

A submission is `SUBMISSIONS_DIR/<student>.ipynb`, or a folder `SUBMISSIONS_DIR/<student>/` holding one notebook.
Writes OUT_DIR/gradebook.csv (student, points per exercise, total, max, flags) and OUT_DIR/feedback/<student>.md,
both atomically and only once every submission's sandbox has ended; OUT_DIR/.grading/ keeps each graded student's
record, so `--resume` grades only those not yet done or whose notebook changed (no seed is kept: each grading draws
a fresh secret).

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
- Points come from the grader's registry: an exercise's points if its test passed, else 0; an answer that is, or
  calls, course_lib's own function gets 0 and a flag (docs/instructors.md, "Answers must be written").

Modules, one per stage of the instructor's path:
- `reading`: reading submitted notebooks, finding the check lines, planning the grading steps
- `sandbox`: the bubblewrap sandbox each submission runs in, and the channel to it
- `runner`: what runs inside a sandbox: the submission's cells and calls of its answers
- `submission`: grading one submitted notebook
- `batch`: a folder of submissions, `jobs` at a time, with records for `--resume`
- `report`: the feedback files and the gradebook
- `__main__`: the command line
"""

"""course_lib: the code the course's notebooks share.

Modules: `config` (fast mode, device, seeding), `data` (datasets as tensors), `environment` (the setup check),
`checks` (exercise checks), `make_exercises` (exercises/ from solutions/), `grading` (batch grading).
"""

__version__ = "0.1.0"

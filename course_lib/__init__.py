"""course_lib: the code the course's notebooks share.

Modules: `config` (fast mode, device, seeding), `data` (datasets as tensors), `celeba` (faces for notebook 06), `environment` (the setup check).
"""

__version__ = "0.1.0"

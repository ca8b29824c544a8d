"""course_lib: the code the course's notebooks share.

Modules: `config` (fast mode, device, seeding), `data` (datasets as tensors), `environment` (the setup check),
`latent` (lerp, slerp, latent grids), `viz` (figures), `widgets` (interactive latent-space explorers).
"""

__version__ = "0.1.0"

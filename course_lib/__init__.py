"""course_lib: the code the course's notebooks share.

Modules:
- `config`: fast mode, device, seeding
- `data`: datasets as in-memory tensors (Fashion-MNIST; CelebA re-exported from `celeba`)
- `celeba`: faces for notebook 06, and the drawn stand-in used where CelebA is absent
- `environment`: the setup check of notebook 00
- `latent`: lerp, slerp and latent grids
- `viz`: figures (image grids, latent maps, decoded grids, loss curves)
- `widgets`: interactive latent-space explorers
- `checks`: exercise checks
"""

__version__ = "0.1.0"

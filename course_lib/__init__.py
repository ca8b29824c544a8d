"""course_lib: the code the course's notebooks share.

Modules:
- `config`: fast mode, device, seeding
- `validate`: the rules for arguments and data (whole numbers, ranges, image batches, latent points)
- `data`: datasets as in-memory tensors (Fashion-MNIST; CelebA re-exported from `celeba`)
- `celeba`: faces for notebook 06, and the drawn stand-in used where CelebA is absent
- `environment`: the setup check of notebook 00
- `models`: autoencoder and VAE (conv and MLP) on shared encoder/decoder blocks; reparameterisation, Gaussian KL
- `train`: the one training loop (`fit`, which stops a diverging run), `evaluate`, checkpoints
- `latent`: lerp, slerp and latent grids
- `viz`: figures (image grids, latent maps, decoded grids, 2-D densities, loss curves) and PNG encoding
- `widgets`: interactive latent-space explorers
- `density`: likelihood-based density models (Gaussian MLE and classifier, independent Bernoulli, Bernoulli
  mixture), binarisation, bits per dimension
- `checks`: exercise checks (learners' instant feedback; the grader runs the same ones)
- `make_exercises`: generates exercises/ from solutions/ (`python -m course_lib.make_exercises [--check]`)
- `grading`: batch grading of submitted notebooks (`python -m course_lib.grading SUBMISSIONS --out OUT`)
- `pretrained`: notebook 05's checkpoints: finding, loading and remaking them (`python -m course_lib.pretrained`)
"""

__version__ = "0.1.0"

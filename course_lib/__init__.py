"""course_lib: the code the course's notebooks share.

Modules:
- `config`: fast mode, device, seeding
- `data`: datasets as in-memory tensors (Fashion-MNIST; CelebA re-exported from `celeba`)
- `celeba`: faces for notebook 06, and the drawn stand-in used where CelebA is absent
- `environment`: the setup check of notebook 00
- `models`: autoencoder and VAE (conv and MLP) on shared encoder/decoder blocks; reparameterisation, Gaussian KL
- `train`: the one training loop (`fit`), `evaluate`, checkpoints
- `latent`: lerp, slerp and latent grids
- `viz`: figures (image grids, latent maps, decoded grids, loss curves)
- `widgets`: interactive latent-space explorers
- `density`: likelihood-based density models (Gaussian MLE and classifier, independent Bernoulli, Bernoulli mixture), binarisation, bits per dimension
- `checks`: exercise-check machinery (registry, `check`, the plain-data channel); learners' instant feedback and
  the grader run the same exercise definitions
- `checks_00` ... `checks_06`: each notebook's exercise definitions
- `make_exercises`: generates exercises/ from solutions/ (`python -m course_lib.make_exercises [--check]`)
- `grading`: batch grading of submitted notebooks (`python -m course_lib.grading SUBMISSIONS --out OUT`)
- `sandbox`: the bubblewrap sandbox each submission runs in, and the channel to it
- `runner`: what runs inside a sandbox: the submission's cells and calls of its answers
"""

__version__ = "0.1.0"

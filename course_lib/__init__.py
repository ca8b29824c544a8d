"""course_lib: the code the course's notebooks share.

Modules:
- `config`: fast mode, device, seeding
- `validate`: the rules for arguments and data (whole numbers, ranges, image batches, latent points)
- `data`: datasets as in-memory tensors (Fashion-MNIST) and what every loader shares (folders, errors, subsets)
- `celeba`: faces for notebook 06: local copies, prepared files, the no-account Parquet mirror, the stand-in
- `standin`: the drawn cartoon faces that stand in for CelebA where it is absent
- `download`: one file over HTTP(S): resumable, verified, locked, never half-written
- `environment`: the setup check of notebook 00
- `models`: autoencoder and VAE (conv and MLP) on shared encoder/decoder blocks; reparameterisation, Gaussian KL
- `train`: the one training loop (`fit`, which stops a diverging run), `evaluate`, checkpoints
- `latent`: lerp, slerp and latent grids
- `viz`: figures (image grids, latent maps, decoded grids, 2-D densities, loss curves) and PNG encoding
- `widgets`: interactive latent-space explorers
- `density`: likelihood-based density models (Gaussian MLE and classifier, independent Bernoulli, Bernoulli mixture), binarisation, bits per dimension
- `checks`: exercise-check machinery (registry, `check`, the plain-data channel); learners' instant feedback and
  the grader run the same exercise definitions
- `checks_00` ... `checks_06`: each notebook's exercise definitions
- `reference`: course_lib's answer to every exercise, and `yours_or_reference`, which lets an exercise notebook's
  other cells run while an exercise is blank
- `make_exercises`: generates exercises/ from solutions/ (`python -m course_lib.make_exercises [--check]`)
- `pretrained`: the committed checkpoints: finding, loading and remaking them (`python -m course_lib.pretrained [faces]`)
- `grading/`: the instructor's grader, a subpackage of its own (`python -m course_lib.grading SUBMISSIONS --out OUT`):
  reading submissions, the bubblewrap sandbox and its runner, grading, the batch, the gradebook and feedback
"""

__version__ = "0.1.0"

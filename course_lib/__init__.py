"""course_lib: the code the course's notebooks share.

Modules:
- `config`: fast mode, device, seeding
- `data`: datasets as in-memory tensors (Fashion-MNIST) and what every loader shares (folders, errors, subsets)
- `celeba`: faces for notebook 06: local copies, prepared files, the no-account Parquet mirror, the stand-in
- `standin`: the drawn cartoon faces that stand in for CelebA where it is absent
- `download`: one file over HTTP(S): resumable, verified, locked, never half-written
- `environment`: the setup check of notebook 00
- `models`: autoencoder and VAE (conv and MLP) on shared encoder/decoder blocks; reparameterisation, Gaussian KL
- `train`: the one training loop (`fit`), `evaluate`, checkpoints
- `latent`: lerp, slerp and latent grids
- `viz`: figures (image grids, latent maps, decoded grids, loss curves)
- `widgets`: interactive latent-space explorers
- `density`: likelihood-based density models (Gaussian MLE and classifier, independent Bernoulli, Bernoulli mixture), binarisation, bits per dimension
- `checks`: exercise checks (learners' instant feedback; the grader runs the same ones)
- `make_exercises`: generates exercises/ from solutions/ (`python -m course_lib.make_exercises [--check]`)
- `grading`: batch grading of submitted notebooks (`python -m course_lib.grading SUBMISSIONS --out OUT`)
"""

__version__ = "0.1.0"

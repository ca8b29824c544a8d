"""Exercise checks of notebook 03, representation learning (how to write one: see course_lib.checks)."""
from __future__ import annotations

import torch

from course_lib.checks import Answer, CheckFailure, exercise, expect_close, expect_prediction, real_tensor, short


def _pca_data(n: int, d: int, rng: torch.Generator) -> torch.Tensor:
    """n points in d dimensions with clearly different variances per direction and a large offset."""
    scales = torch.linspace(3.0, 0.2, d)
    rotation = torch.linalg.qr(torch.randn(d, d, generator=rng))[0]
    return (torch.randn(n, d, generator=rng) * scales) @ rotation.T + 5 * torch.randn(d, generator=rng)


@exercise("03.1", "PCA directions from one SVD", answer="pca_directions", points=2,
          hint="Centre the data on its mean observation, take one SVD of the centred data, and keep the k right "
               "singular vectors with the largest singular values as the columns of W, shape (d, k).",
          more="torch.linalg.svd with full_matrices=False returns U, S and Vh; the rows of Vh are the directions, "
               "largest singular value first; .T turns rows into columns.")
def _check_pca_directions(answer: Answer, rng: torch.Generator) -> None:
    for n, d, k in [(200, 5, 2), (300, 8, 1), (50, 4, 4), (400, 12, 5)]:
        x = _pca_data(n, d, rng)
        tried = f"pca_directions(x of shape ({n}, {d}), k={k})"
        got = answer(x, k, tried=tried)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailure(tried, "a pair (mean, W)", got)
        mean, w = (real_tensor(part, torch.float32) for part in got)
        expect_close(mean, x.mean(0), tried=tried + " -> mean", rtol=1e-4, atol=1e-4)
        if tuple(w.shape) != (d, k):
            raise CheckFailure(tried + " -> W", f"shape ({d}, {k}): one direction per column", tuple(w.shape),
                               "W holds the directions as columns: take the first k rows of Vt and transpose.")
        expect_close(w.T @ w, torch.eye(k), tried=tried + " -> W.T @ W", rtol=1e-3, atol=1e-3,
                     hint="The directions must be orthonormal (unit length): use Vt's rows, not scaled by S.")
        v = torch.linalg.svd(x - x.mean(0), full_matrices=False)[2][:k].T
        expect_close(w @ w.T, v @ v.T, tried=tried + " -> W @ W.T (the subspace W spans)", rtol=1e-3, atol=1e-3,
                     hint="Centre x (subtract the mean) before the SVD, and keep the k directions of LARGEST "
                          "variance (the first rows of Vt).")
        # the same subspace is not enough: column j must be the direction of the j-th largest variance (its sign is
        # free, as an SVD's is)
        along = (w.T @ v).diagonal().abs()
        if not torch.allclose(along, torch.ones(k), atol=1e-3):
            variance = ((x - x.mean(0)) @ w).var(0)
            raise CheckFailure(tried + " -> the variance of the data along each column of W, in order",
                               f"{short(((x - x.mean(0)) @ v).var(0))}: largest first",
                               short(variance), "Order the columns from the largest variance down: column 0 is "
                               "the direction of largest variance, the first row of Vt.")


@exercise("03.2", "The linear encoder and decoder", answer="pca_encode_decode", points=1,
          hint="Encode: subtract the mean observation, then project onto the k directions (a matrix product with W). "
               "Decode: map the latent points back with the transpose of W and add the mean again.",
          more="the matrix product @ and the transpose .T; broadcasting subtracts or adds a (d,) mean to every row.")
def _check_pca_encode_decode(answer: Answer, rng: torch.Generator) -> None:
    for n, d, k in [(10, 6, 2), (1, 4, 1), (25, 9, 9), (7, 784, 3)]:
        w = torch.linalg.qr(torch.randn(d, k, generator=rng))[0]
        mean = torch.rand(d, generator=rng) + 0.5
        x = torch.rand(n, d, generator=rng)
        tried = f"pca_encode_decode(x of shape ({n}, {d}), mean of shape ({d},), W of shape ({d}, {k}))"
        got = answer(x, mean, w, tried=tried)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailure(tried, "a pair (z, x_hat)", got)
        z = (x - mean) @ w
        expect_close(got[0], z, tried=tried + " -> z", rtol=1e-4, atol=1e-4,
                     hint="Encode the centred images: subtract the mean before multiplying by W.")
        expect_close(got[1], z @ w.T + mean, tried=tried + " -> x_hat", rtol=1e-4, atol=1e-4,
                     hint="Decode with W.T and add the mean back.")


def _explained(x: torch.Tensor, power: int = 2) -> torch.Tensor:
    """The share of the variance of x that the first 1, 2, ... principal components explain (float64); power=1
    gives what the singular values themselves, wrongly taken as variances, would say."""
    weight = torch.linalg.svdvals((x - x.mean(0)).double()) ** power
    return weight.cumsum(0) / weight.sum()


@exercise("03.3", "How many components? Read it off, then measure it", answer="components_needed", points=2,
          hint="The variance along each principal direction is proportional to its squared singular value. Add "
               "them up from the largest, as a share of the total, and return the first k (a whole number, counting "
               "from 1) whose share reaches `fraction`. Centre the data first.",
          more="torch.linalg.svdvals (or the S of your SVD), .cumsum, a comparison with fraction, and int(...) for "
               "the count.")
def _check_components_needed(answer: Answer, rng: torch.Generator) -> None:
    cases = [(_pca_data(300, 6, rng), 0.5), (_pca_data(300, 6, rng), 0.9), (_pca_data(500, 12, rng), 0.95),
             (_pca_data(200, 8, rng), 0.99), (_pca_data(100, 5, rng), 0.01),
             (torch.randn(400, 10, generator=rng) * torch.logspace(0, -1, 10) + 3, 0.8)]
    for x, fraction in cases:
        share = _explained(x)
        # k is right if its share reaches the fraction, and the share of k - 1 does not (with a little slack for
        # float32 arithmetic right at the boundary)
        right = [k for k in range(1, len(share) + 1)
                 if share[k - 1] >= fraction - 1e-5 and (k == 1 or share[k - 2] < fraction + 1e-5)]
        tried = f"components_needed(x of shape {tuple(x.shape)}, fraction={fraction})"
        got = answer(x, fraction, tried=tried)
        try:
            value = float(got.item() if isinstance(got, torch.Tensor) else got)
        except (TypeError, ValueError, RuntimeError):
            raise CheckFailure(tried, "a whole number of components", short(got)) from None
        if value in right:
            continue
        hint = "The smallest k whose first k components explain at least that share of the variance."
        if value + 1 in right:
            hint = "Off by one: k counts components from 1, while positions count from 0."
        elif value == int((_explained(x, power=1) < fraction).sum()) + 1:
            hint = "Variance goes with the SQUARE of the singular values."
        raise CheckFailure(tried, right[0], value, hint)


# Measured by tests/test_claims.py::test_nb03_ninety_percent_of_the_variance_takes_about_80_components: 79
# components on the 5,000 training images of the full-mode curve (67 on fast mode's 1,000); the tolerance covers both.
K_FOR_90_PERCENT, K_TOLERANCE = 79, 15


@exercise("03.4", "Predict: read the number of components off the curve", answer="my_k_for_90_percent", points=1,
          hint="Find 0.9 on the vertical axis, go across to the curve, and down to the horizontal axis: that "
               "number of components is your reading.",
          more="Write one whole number before you run components_needed; zoom into the plot (or draw a "
               "horizontal line at 0.9 with ax.axhline) if the curve is hard to read.")
def _check_k_for_90_percent(answer: Answer, rng: torch.Generator) -> None:
    expect_prediction(answer, measured=K_FOR_90_PERCENT, tolerance=K_TOLERANCE,
                      what="the number of components that explain 90% of the variance",
                      hint="Read where the curve first reaches 0.9 on the vertical axis; the answer is the "
                           "number of components below that point.")


def _codes_table(rng: torch.Generator, n: int) -> dict[str, dict[str, float]]:
    """n codes with reconstruction errors and probe accuracies drawn so that the code with the most accurate probe
    reconstructs neither best nor (from n = 3 on) worst: a code that keeps more detail need not separate the
    classes better."""
    names = ["pca", "autoencoder", "vae", "pixels", "random projection"][:n]
    accuracy = (0.4 + 0.01 * torch.randperm(50, generator=rng)[:n]).tolist()  # no two alike
    error = sorted((0.01 + 0.05 * torch.rand(n, generator=rng)).tolist())
    dims = torch.randint(2, 200, (n,), generator=rng).tolist()
    best = max(range(n), key=accuracy.__getitem__)
    others = [i for i in range(n) if i != best]
    middle = 1 if n < 3 else int(torch.randint(1, n - 1, (1,), generator=rng))
    error.insert(0, error.pop(middle))  # the error the best code gets: the largest for n = 2, a middle one after
    error = dict(zip([best, *others], error))
    order = torch.randperm(n, generator=rng).tolist()
    return {names[i]: {"reconstruction_error": round(error[i], 4), "probe_accuracy": round(accuracy[i], 2),
                       "latent_dim": int(dims[i])} for i in order}


@exercise("03.5", "Which code would you classify with?", answer="code_for_classification", points=2,
          hint="The task is to predict labels from 100 labelled examples. Which of the measured numbers says how "
               "well a simple classifier, trained on that code, does that task on held-out images? A code that "
               "reconstructs well keeps detail, not necessarily the detail that tells the classes apart.",
          more="Loop over the dict's items (or use max with a key function) and return the name, a string.")
def _check_code_for_classification(answer: Answer, rng: torch.Generator) -> None:
    for n in (2, 3, 4, 5):
        codes = _codes_table(rng, n)
        tried = f"code_for_classification({short(codes, 300)})"
        got = answer(codes, tried=tried)
        right = max(codes, key=lambda name: codes[name]["probe_accuracy"])
        if got == right:
            continue
        hint = "Classification with few labels is what the probe accuracy measures: choose by it alone."
        if got == min(codes, key=lambda name: codes[name]["reconstruction_error"]):
            hint = ("That code reconstructs best, but reconstruction error says how much detail a code keeps, not "
                    "whether a classifier trained on 100 labels can tell the classes apart.")
        elif got == min(codes, key=lambda name: codes[name]["probe_accuracy"]):
            hint = "That code's probe is the least accurate: higher accuracy is better."
        raise CheckFailure(tried, repr(right), short(got), hint)

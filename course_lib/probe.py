"""What a representation keeps, measured with labels the encoder never saw: a linear probe (`linear_probe`) and
nearest-neighbour retrieval (`knn_retrieval`), and one table of both for several encoders (`probe_table`).

Codes are arrays or tensors (n, d), one row per image; labels are whole numbers (n,). The encoders are trained
without labels; the labels only judge them afterwards.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from course_lib import validate

CHUNK = 1000  # test codes compared with all training codes at once in knn_retrieval


def _codes_and_labels(codes: Any, labels: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """codes (n, d) as float32 and labels (n,) as int64, or a ValueError that names `name` and the shapes."""
    if isinstance(codes, torch.Tensor):
        codes = codes.detach().cpu().numpy()
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    codes, labels = np.asarray(codes, dtype=np.float32), np.asarray(labels)
    if codes.ndim != 2 or labels.shape != (codes.shape[0],):
        raise ValueError(f"{name}_codes must be (n, d) and {name}_labels (n,) with the same n; got "
                         f"{name}_codes {codes.shape} and {name}_labels {labels.shape}. Flatten images with "
                         ".flatten(1) first.")
    if codes.shape[0] == 0:
        raise ValueError(f"{name}_codes is empty: it needs at least one row.")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name}_labels must be whole-number class labels; got dtype {labels.dtype}.")
    if not np.isfinite(codes).all():
        raise ValueError(f"{name}_codes holds NaN or infinite values; check the encoder that made them.")
    return codes, labels.astype(np.int64)


def _check(train_codes: Any, train_labels: Any, test_codes: Any, test_labels: Any):
    train_codes, train_labels = _codes_and_labels(train_codes, train_labels, "train")
    test_codes, test_labels = _codes_and_labels(test_codes, test_labels, "test")
    if train_codes.shape[1] != test_codes.shape[1]:
        raise ValueError(f"train_codes have {train_codes.shape[1]} dimensions and test_codes {test_codes.shape[1]}: "
                         "encode both with the same encoder.")
    return train_codes, train_labels, test_codes, test_labels


def labelled_subset(labels: np.ndarray, n_labels: int, *, seed: int = 0) -> np.ndarray:
    """The indices (n_labels,) of a class-balanced random subset of `labels` (n,): n_labels // C of each of the C
    classes, and one more of randomly chosen classes for the remainder. Raises a ValueError when n_labels is
    below C (some class would get no example) or when a class has too few examples."""
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    n_labels = validate.whole_number(n_labels, "n_labels", minimum=1)
    if n_labels < len(classes):
        raise ValueError(f"n_labels={n_labels} is fewer than the {len(classes)} classes in train_labels: a probe "
                         f"needs at least one example of each class; use n_labels >= {len(classes)}.")
    if n_labels > len(labels):
        raise ValueError(f"n_labels={n_labels} is more than the {len(labels)} training codes available; pass more "
                         "training codes or a smaller n_labels.")
    rng = np.random.default_rng(seed)
    per_class = np.full(len(classes), n_labels // len(classes))
    per_class[rng.choice(len(classes), n_labels % len(classes), replace=False)] += 1
    short = per_class > counts
    if short.any():
        raise ValueError(f"n_labels={n_labels} asks for {per_class[short].tolist()} examples of classes "
                         f"{classes[short].tolist()}, which have only {counts[short].tolist()}; pass more training "
                         "codes or a smaller n_labels.")
    chosen = [rng.choice(np.flatnonzero(labels == c), m, replace=False) for c, m in zip(classes, per_class)]
    return np.sort(np.concatenate(chosen))


def linear_probe(train_codes: Any, train_labels: Any, test_codes: Any, test_labels: Any, *, n_labels: int,
                 seed: int = 0) -> float:
    """Test accuracy of a linear classifier trained on the codes of only `n_labels` labelled training images.

    train_codes (n, d), train_labels (n,), test_codes (m, d), test_labels (m,): arrays or tensors, labels whole
    numbers. The classifier is scikit-learn's LogisticRegression (default L2 penalty, C = 1) on codes
    standardised with the subset's mean and spread, fitted on a class-balanced random subset of n_labels training
    codes (`labelled_subset`, seeded by `seed`). Returns the share of test codes it labels correctly, in [0, 1].
    """
    train_codes, train_labels, test_codes, test_labels = _check(train_codes, train_labels, test_codes, test_labels)
    chosen = labelled_subset(train_labels, n_labels, seed=seed)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    classifier.fit(train_codes[chosen], train_labels[chosen])
    return float(classifier.score(test_codes, test_labels))


def knn_retrieval(train_codes: Any, train_labels: Any, test_codes: Any, test_labels: Any, *, k: int = 10) -> float:
    """Precision@k of nearest-neighbour retrieval: for each test code, the share of its k nearest training codes
    (Euclidean distance between the codes as they are) that have its label, averaged over the test codes.

    Shapes as in `linear_probe`; every training code counts as labelled. 1.0: every neighbour is of the same
    class; with C balanced classes and codes that say nothing about class, about 1 / C.
    """
    train_codes, train_labels, test_codes, test_labels = _check(train_codes, train_labels, test_codes, test_labels)
    k = validate.whole_number(k, "k", maximum=len(train_codes), hint="the number of neighbours, at most the number "
                                                                     "of training codes")
    train_t, train_y = torch.from_numpy(train_codes), torch.from_numpy(train_labels)
    hits = []
    for codes, labels in zip(torch.from_numpy(test_codes).split(CHUNK), torch.from_numpy(test_labels).split(CHUNK)):
        nearest = torch.cdist(codes, train_t).topk(k, dim=1, largest=False).indices  # (chunk, k)
        hits.append((train_y[nearest] == labels[:, None]).float().mean(1))
    return torch.cat(hits).mean().item()


def probe_table(codes: Mapping[str, tuple[Any, Any]], train_labels: Any, test_labels: Any, *,
                n_labels: Sequence[int] = (100, 1000), k: int = 10, repeats: int = 3) -> list[dict]:
    """One row per encoder: codes maps a name to (train codes (n, d), test codes (m, d)).

    Each row: name, dims (d), probe@N for each N in n_labels (the mean of `linear_probe` over seeds
    0 .. repeats - 1, each a different labelled subset) and knn@k (`knn_retrieval`).
    """
    repeats = validate.whole_number(repeats, "repeats")
    rows = []
    for name, (train_codes, test_codes) in codes.items():
        knn = knn_retrieval(train_codes, train_labels, test_codes, test_labels, k=k)  # checks the shapes
        row: dict = {"name": name, "dims": int(np.shape(train_codes)[1])}
        for n in n_labels:
            row[f"probe@{n}"] = float(np.mean([linear_probe(train_codes, train_labels, test_codes, test_labels,
                                                            n_labels=n, seed=seed) for seed in range(repeats)]))
        rows.append({**row, f"knn@{k}": knn})
    return rows


def format_table(rows: Sequence[dict]) -> str:
    """The rows of `probe_table` as a text table, accuracies in percent."""
    columns = [key for key in rows[0] if key not in ("name", "dims")]
    width = max(len(row["name"]) for row in rows) + 2
    lines = [f"{'code':{width}s}{'dims':>5s}" + "".join(f"{c:>11s}" for c in columns)]
    lines += [f"{row['name']:{width}s}{row['dims']:5d}" + "".join(f"{row[c]:11.1%}" for c in columns) for row in rows]
    return "\n".join(lines)

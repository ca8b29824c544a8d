import numpy as np
import pytest
import torch

from course_lib.probe import format_table, knn_retrieval, labelled_subset, linear_probe, probe_table


def _labels(n, classes=10, seed=0):
    return np.random.default_rng(seed).permutation(np.arange(n) % classes)


def test_a_probe_on_codes_that_are_the_one_hot_labels_is_perfect():
    train_y, test_y = _labels(500), _labels(200, seed=1)
    assert linear_probe(np.eye(10)[train_y], train_y, np.eye(10)[test_y], test_y, n_labels=20) == 1.0


def test_a_probe_on_noise_scores_about_one_over_the_classes():
    rng = np.random.default_rng(0)
    train_y, test_y = _labels(2000), _labels(4000, seed=1)
    accuracy = linear_probe(rng.normal(size=(2000, 8)), train_y, rng.normal(size=(4000, 8)), test_y, n_labels=1000)
    assert accuracy == pytest.approx(0.1, abs=0.02)


def test_more_labels_help_a_probe_on_noisy_class_means():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(10, 20))
    train_y, test_y = _labels(3000), _labels(2000, seed=1)
    train_x, test_x = means[train_y] + 2 * rng.normal(size=(3000, 20)), means[test_y] + 2 * rng.normal(size=(2000, 20))
    few, many = (linear_probe(train_x, train_y, test_x, test_y, n_labels=n) for n in (20, 2000))
    assert 0.15 < few < many - 0.1


def test_the_labelled_subset_is_balanced_seeded_and_draws_only_existing_rows():
    labels = _labels(1000)
    chosen = labelled_subset(labels, 105, seed=3)
    assert len(chosen) == len(set(chosen.tolist())) == 105
    assert sorted(np.bincount(labels[chosen]).tolist()) == [10] * 5 + [11] * 5
    assert np.array_equal(chosen, labelled_subset(labels, 105, seed=3))
    assert not np.array_equal(chosen, labelled_subset(labels, 105, seed=4))


def test_retrieval_on_separated_clusters_is_perfect_and_on_noise_about_one_over_the_classes():
    rng = np.random.default_rng(0)
    train_y, test_y = _labels(1000), _labels(300, seed=1)
    centres = 100 * np.eye(10)
    assert knn_retrieval(centres[train_y] + rng.normal(size=(1000, 10)), train_y,
                         centres[test_y] + rng.normal(size=(300, 10)), test_y, k=10) == 1.0
    noise = knn_retrieval(rng.normal(size=(1000, 5)), train_y, rng.normal(size=(3000, 5)), _labels(3000), k=10)
    assert noise == pytest.approx(0.1, abs=0.02)


def test_retrieval_is_the_share_of_the_k_nearest_with_the_same_label():
    train = torch.tensor([[0.0], [1.0], [2.0], [10.0]])
    train_y = torch.tensor([0, 0, 1, 1])
    # the test point at 0.4: nearest 0.0 (label 0), 1.0 (0), 2.0 (1); at 9: 10.0 (1), 2.0 (1), 1.0 (0)
    share = knn_retrieval(train, train_y, torch.tensor([[0.4], [9.0]]), torch.tensor([0, 1]), k=3)
    assert share == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert knn_retrieval(train, train_y, torch.tensor([[0.4], [9.0]]), torch.tensor([0, 1]), k=1) == 1.0


def test_the_table_has_one_row_per_encoder_with_its_dimension():
    rng = np.random.default_rng(0)
    train_y, test_y = _labels(300), _labels(100, seed=1)
    codes = {"one-hot": (np.eye(10)[train_y], np.eye(10)[test_y]),
             "noise": (rng.normal(size=(300, 3)), rng.normal(size=(100, 3)))}
    rows = probe_table(codes, train_y, test_y, n_labels=(10, 100), k=5, repeats=2)
    assert [(r["name"], r["dims"]) for r in rows] == [("one-hot", 10), ("noise", 3)]
    assert rows[0]["probe@10"] == rows[0]["probe@100"] == rows[0]["knn@5"] == 1.0
    assert rows[1]["knn@5"] < 0.5
    text = format_table(rows)
    assert "probe@100" in text and "100.0%" in text and "noise" in text


@pytest.mark.parametrize("call, message", [
    (lambda x, y: linear_probe(x, y, x, y, n_labels=5), "fewer than the 10 classes"),
    (lambda x, y: linear_probe(x, y, x, y, n_labels=101), "more than the 100 training codes"),
    (lambda x, y: linear_probe(x[:, 0], y, x, y, n_labels=20), r"train_codes must be \(n, d\)"),
    (lambda x, y: linear_probe(x, y[:50], x, y, n_labels=20), r"train_labels \(50,\)"),
    (lambda x, y: linear_probe(x, y, x[:, :2], y, n_labels=20), "same encoder"),
    (lambda x, y: linear_probe(x, y.astype(float), x, y, n_labels=20), "whole-number class labels"),
    (lambda x, y: knn_retrieval(x, y, x, y, k=0), "k=0"),
    (lambda x, y: knn_retrieval(x, y, x, y, k=101), "at most the number of training codes"),
    (lambda x, y: knn_retrieval(np.full_like(x, np.nan), y, x, y), "NaN"),
])
def test_wrong_input_gets_an_error_that_says_what_is_wrong(call, message):
    x, y = np.random.default_rng(0).normal(size=(100, 4)), _labels(100)
    with pytest.raises(ValueError, match=message):
        call(x, y)


def test_a_class_with_too_few_examples_is_named():
    labels = np.array([0] * 95 + [1] * 5)
    with pytest.raises(ValueError, match=r"classes \[1\], which have only \[5\]"):
        labelled_subset(labels, 20)

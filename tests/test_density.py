import inspect
import math

import pytest
import torch

from course_lib import density
from course_lib.data import load_fashion_mnist


@pytest.fixture(scope="module")
def images():
    """Binarised Fashion-MNIST: 3000 training and 1000 test images (small, so the tests stay quick)."""
    train = density.binarize(load_fashion_mnist("train", n=3000, seed=0).as_float())
    test = density.binarize(load_fashion_mnist("test", n=1000, seed=0).as_float())
    return train, test


# ---- the shared likelihood definition ---------------------------------------------------------------------------

def test_binarize_samples_each_pixel_from_its_grey_value_and_repeats_with_its_seed():
    grey = torch.tensor([0.0, 0.25, 0.5, 1.0]).expand(20_000, 4).contiguous()
    binary = density.binarize(grey, seed=3)
    assert set(binary.unique().tolist()) == {0.0, 1.0}
    assert binary.mean(0).tolist() == pytest.approx([0.0, 0.25, 0.5, 1.0], abs=0.015)
    assert torch.equal(binary, density.binarize(grey, seed=3))
    assert not torch.equal(binary, density.binarize(grey, seed=4))
    assert torch.equal(density.binarize(grey), density.binarize(grey, seed=density.TEST_SEED))
    assert not torch.equal(density.binarize(grey, seed=None), density.binarize(grey, seed=None))  # fresh samples
    images = torch.rand(3, 1, 4, 4, dtype=torch.float64)
    kept = images.clone()
    out = density.binarize(images)
    assert out.dtype == torch.float32 and out.shape == images.shape and torch.equal(images, kept)


@pytest.mark.parametrize("bad, error, match", [
    (torch.full((2, 3), 200, dtype=torch.uint8), TypeError, "as_float"),
    (torch.tensor([[0.0, 2.0]]), ValueError, r"\[0, 1\]"),
    (torch.tensor([[0.0, float("nan")]]), ValueError, r"\[0, 1\]"),
])
def test_binarize_rejects_unscaled_images(bad, error, match):
    with pytest.raises(error, match=match):
        density.binarize(bad)
    with pytest.raises(ValueError, match="seed"):
        density.binarize(torch.zeros(1, 2), seed=-1)


def test_bits_per_dim_converts_nats():
    assert density.bits_per_dim(-784 * math.log(2)) == pytest.approx(1.0)
    assert density.bits_per_dim(-2 * math.log(2), dims=4) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="dims"):
        density.bits_per_dim(-1.0, dims=0)


# ---- image models -----------------------------------------------------------------------------------------------

def test_independent_bernoulli_is_the_clamped_pixel_frequency_and_scores_exactly():
    x = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    model = density.IndependentBernoulli(eps=0.01).fit(x)
    assert torch.allclose(model.probs_, torch.tensor([0.99, 0.01, 0.5]))
    new = torch.tensor([[1.0, 1.0, 0.0]])
    expected = math.log(0.99) + math.log(0.01) + math.log(0.5)
    assert model.score_samples(new).item() == pytest.approx(expected, rel=1e-5)
    assert model.score(torch.cat([new, new])) == pytest.approx(expected, rel=1e-5)


def test_models_keep_the_image_shape_and_sample_binary_images(images):
    train, _ = images
    for model in (density.IndependentBernoulli().fit(train), density.BernoulliMixture(3, max_iter=3).fit(train)):
        samples = model.sample(5, seed=1)
        assert samples.shape == (5, 1, 28, 28)
        assert set(samples.unique().tolist()) <= {0.0, 1.0}
        assert torch.equal(samples, model.sample(5, seed=1)) and not torch.equal(samples, model.sample(5, seed=2))


def test_independent_pixel_samples_match_pixel_frequencies_but_not_pixel_pairs(images):
    """The prose: the marginals are right, the dependence between neighbouring pixels is lost."""
    train, _ = images
    model = density.IndependentBernoulli().fit(train)
    samples = model.sample(3000, seed=0).reshape(3000, -1)
    data = train.reshape(len(train), -1)
    assert (samples.mean(0) - data.mean(0)).abs().max() < 0.05
    centre, right = 14 * 28 + 14, 14 * 28 + 15  # two neighbouring pixels in the middle of the image
    def corr(v):
        return torch.corrcoef(v[:, [centre, right]].T)[0, 1].item()
    assert corr(data) > 0.15 and abs(corr(samples)) < 0.1  # sampled binarisation dilutes it from about 0.66


def test_mixture_beats_the_independent_pixel_model_on_held_out_images(images):
    train, test = images
    independent = density.IndependentBernoulli().fit(train).score(test)
    mixture = density.BernoulliMixture(10, max_iter=20, seed=0).fit(train).score(test)
    assert mixture > independent + 50  # nats per image; the full-size gap is larger (see notebook 02)
    assert density.bits_per_dim(mixture) < density.bits_per_dim(independent)


def test_em_never_lowers_the_training_likelihood_and_repeats_with_its_seed(images):
    train, _ = images
    first = density.BernoulliMixture(5, max_iter=10, tol=0.0, seed=3).fit(train)
    steps = torch.tensor(first.history_)
    assert len(steps) == 10 and torch.all(steps[1:] - steps[:-1] > -1e-3)
    again = density.BernoulliMixture(5, max_iter=10, tol=0.0, seed=3).fit(train)
    assert torch.equal(first.probs_, again.probs_) and torch.equal(first.weights_, again.weights_)
    other = density.BernoulliMixture(5, max_iter=10, tol=0.0, seed=4).fit(train)
    assert not torch.equal(first.probs_, other.probs_)
    assert first.weights_.sum().item() == pytest.approx(1.0)
    assert first.probs_.min() >= first.eps and first.probs_.max() <= 1 - first.eps


def test_mixture_score_is_a_log_sum_exp_over_components():
    model = density.BernoulliMixture(2)
    model.shape_, model.weights_ = (2,), torch.tensor([0.25, 0.75])
    model.probs_ = torch.tensor([[0.9, 0.9], [0.1, 0.2]])
    x = torch.tensor([[1.0, 0.0]])
    expected = math.log(0.25 * 0.9 * 0.1 + 0.75 * 0.1 * 0.8)
    assert model.score_samples(x).item() == pytest.approx(expected, rel=1e-5)


def test_ctrl_c_during_fit_keeps_the_iterations_done(images, monkeypatch):
    train, _ = images
    model = density.BernoulliMixture(3, max_iter=10, tol=0.0)
    real = model._log_joint
    calls = {"n": 0}

    def interrupt_on_the_third(rows):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(rows)

    monkeypatch.setattr(model, "_log_joint", interrupt_on_the_third)
    with pytest.warns(UserWarning, match="interrupted after 2 EM iterations"):
        model.fit(train)
    monkeypatch.undo()
    assert model.n_iter_ == 2 and torch.isfinite(model.score_samples(train[:5])).all()


@pytest.mark.parametrize("make", [density.IndependentBernoulli, lambda: density.BernoulliMixture(2)])
def test_image_models_explain_bad_input(make, images):
    train, _ = images
    for use in (lambda m: m.score(train), lambda m: m.score_samples(train), lambda m: m.sample(2)):
        with pytest.raises(density.NotFittedError, match=r"not fitted yet: call fit\(x\) first"):
            use(make())
    with pytest.raises(ValueError, match="binarize"):
        make().fit(train * 0.5)
    model = make().fit(train[:50])
    with pytest.raises(ValueError, match=r"fitted on images of shape \(n, 1, 28, 28\)"):
        model.score(train[:5, :, :14])
    with pytest.raises(ValueError, match="n=0"):
        model.sample(0)
    with pytest.raises(ValueError, match="smaller n_components"):
        density.BernoulliMixture(20).fit(train[:10])


@pytest.mark.parametrize("model, name", [
    (density.BernoulliMixture(0), "n_components=0"),
    (density.BernoulliMixture(2, max_iter=0), "max_iter=0"),
    (density.BernoulliMixture(2, tol=-1.0), "tol=-1.0"),
    (density.BernoulliMixture(2, eps=0.5), "eps=0.5"),
    (density.IndependentBernoulli(eps=0.0), "eps=0.0"),
])
def test_bad_settings_are_named_when_fit_checks_them(model, name, images):
    with pytest.raises(ValueError, match=name):
        model.fit(images[0][:50])
    assert not density.is_fitted(model)


@pytest.mark.parametrize("model, data, learned", [
    (density.IndependentBernoulli(eps=0.01), "images", {"probs_", "shape_"}),
    (density.BernoulliMixture(3, max_iter=2, seed=5), "images",
     {"weights_", "probs_", "history_", "n_iter_", "converged_", "shape_"}),
    (density.GaussianClassifier(reg=0.1), "points", {"means_", "covariances_", "priors_"}),
])
def test_models_follow_the_scikit_learn_conventions(model, data, learned, images):
    """__init__ stores its keyword arguments and nothing else; fit adds the learned attributes, ending in _."""
    parameters = list(inspect.signature(type(model).__init__).parameters)[1:]
    assert set(vars(model)) == set(parameters) and not density.is_fitted(model)
    assert not any(hasattr(model, name) for name in learned)
    settings = dict(vars(model))
    arguments = (images[0][:100],) if data == "images" else density.make_two_class_data(50)
    assert model.fit(*arguments) is model and density.is_fitted(model)
    assert set(vars(model)) == set(parameters) | learned
    assert {k: vars(model)[k] for k in settings} == settings  # fit does not change the settings


# ---- 2-D: data, closed-form and gradient MLE, the generative classifier -----------------------------------------

def test_two_class_data_repeats_with_its_seed_and_has_the_stated_classes():
    x, y = density.make_two_class_data(1000, seed=0)
    assert x.shape == (1000, 2) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert (y == 0).sum() == 600 and (y == 1).sum() == 400
    assert torch.equal(x, density.make_two_class_data(1000, seed=0)[0])
    assert not torch.equal(x, density.make_two_class_data(1000, seed=1)[0])
    for label, mean in enumerate(density.TWO_CLASS_MEANS):
        assert torch.allclose(x[y == label].mean(0), torch.tensor(mean), atol=0.15)
    with pytest.raises(ValueError, match="n=1"):
        density.make_two_class_data(1)


def test_closed_form_mle_is_where_gradient_ascent_on_the_log_likelihood_ends():
    x = torch.randn(500, 1, generator=torch.Generator().manual_seed(0)) * 2.0 + 3.0
    mean, cov = density.gaussian_mle(x)
    assert mean.item() == pytest.approx(x.mean().item()) and cov.item() == pytest.approx(x.var(unbiased=False).item())
    mu = torch.zeros(1, requires_grad=True)
    log_sigma = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.Adam([mu, log_sigma], lr=0.05)
    for _ in range(1500):
        optimiser.zero_grad()
        nll = -torch.distributions.Normal(mu, log_sigma.exp()).log_prob(x).mean()
        nll.backward()
        optimiser.step()
    assert mu.item() == pytest.approx(mean.item(), abs=1e-3)
    assert log_sigma.exp().item() == pytest.approx(cov.sqrt().item(), abs=1e-3)


def test_generative_classifier_samples_follow_the_class_means():
    x, y = density.make_two_class_data(2000, seed=0)
    model = density.GaussianClassifier().fit(x, y)
    for label in (0, 1):
        new, labels = model.sample(4000, label=label, seed=label)
        assert torch.all(labels == label)
        assert torch.allclose(new.mean(0), model.means_[label], atol=0.06)
        assert torch.allclose(torch.cov(new.T), model.covariances_[label], atol=0.08)
        assert torch.allclose(model.means_[label], torch.tensor(density.TWO_CLASS_MEANS[label]), atol=0.1)
    _, drawn = model.sample(5000, seed=0)
    assert (drawn == 0).float().mean().item() == pytest.approx(0.6, abs=0.03)


def test_generative_classifier_uses_bayes_rule_and_classifies_well():
    x, y = density.make_two_class_data(1000, seed=0)
    test_x, test_y = density.make_two_class_data(1000, seed=1)
    model = density.GaussianClassifier().fit(x, y)
    proba = model.predict_proba(test_x)
    joint = model.log_likelihood(test_x).exp() * model.priors_
    assert torch.allclose(proba, joint / joint.sum(1, keepdim=True), atol=1e-5)
    assert torch.allclose(model.score_samples(test_x).exp(), joint.sum(1), rtol=1e-4)
    assert (model.predict(test_x) == test_y).float().mean() > 0.9
    with pytest.raises(ValueError, match="label=2"):
        model.sample(3, label=2)
    with pytest.raises(density.NotFittedError, match=r"call fit\(x, y\) first"):
        density.GaussianClassifier().predict(test_x)
    with pytest.raises(ValueError, match="missing"):
        density.GaussianClassifier().fit(x, y * 2)

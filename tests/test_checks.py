"""The exercise-check API, then each notebook's checks (one section per notebook, appended below)."""
import numpy as np
import pytest
import torch

from course_lib import checks
from course_lib.checks import (FAILED, NOT_DONE, PASSED, CheckFailure, ExerciseNotPassed, call, check, exercise,
                               expect_close, run_check)


@pytest.fixture
def square_exercise():
    """A throwaway exercise 99.1, 'square a tensor', removed again after the test."""

    @exercise("99.1", "square a tensor", points=3, hint="use x * x")
    def _test(answer):
        for values in ([1.0, 2.0], [0.0], [-3.0, 0.5, 4.0]):
            tried = f"square(tensor({values}))"
            expect_close(call(answer, torch.tensor(values), tried=tried), torch.tensor(values) ** 2, tried=tried)

    yield "99.1"
    del checks.EXERCISES["99.1"]


def _stub(*args):
    raise NotImplementedError("use x * x")


def test_a_right_answer_passes_with_its_points(square_exercise, capsys):
    result = check(square_exercise, lambda x: x * x)
    assert (result.status, result.points, result.max_points) == (PASSED, 3, 3) and result.passed
    assert capsys.readouterr().out.strip() == "[99.1] square a tensor: passed (3/3)."


def test_a_stub_is_not_done_yet(square_exercise):
    result = run_check(square_exercise, _stub)
    assert (result.status, result.points) == (NOT_DONE, 0)
    assert "not done yet" in result.message and "Hint: use x * x" in result.message


def test_a_wrong_answer_says_what_was_tried_expected_and_got(square_exercise):
    result = run_check(square_exercise, lambda x: x.abs() * x)  # right for the first inputs, wrong for negatives
    assert result.status == FAILED and result.points == 0
    assert "tried:    square(tensor([-3.0, 0.5, 4.0]))" in result.message
    assert "expected: tensor([ 9.0000, 0.2500, 16.0000])" in result.message
    assert "got:      tensor([-9.0000, 0.2500, 16.0000])" in result.message and "hint:     use x * x" in result.message


def test_a_wrong_shape_is_named(square_exercise):
    result = run_check(square_exercise, lambda x: (x * x).sum())
    assert result.status == FAILED and "expected: 'shape (2,)'" in result.message and "got:      'shape ()'" in result.message


def test_a_large_wrong_tensor_shows_the_first_wrong_entry():
    expected = torch.zeros(3, 4)
    got = expected.clone()
    got[1, 2] = 5.0
    with pytest.raises(CheckFailure) as failed:
        expect_close(got, expected, tried="f()")
    assert failed.value.expected == "tensor of shape (3, 4), with 0 at index (1, 2)"
    assert failed.value.got == "tensor of shape (3, 4), with 5 at index (1, 2)"


def test_code_that_raises_is_reported_in_one_line(square_exercise):
    def broken(x):
        return x.nonexistent()

    result = run_check(square_exercise, broken)
    assert result.status == FAILED and "AttributeError" in result.message and "Traceback" not in result.message


def test_passing_the_result_instead_of_the_function_is_explained(square_exercise):
    result = run_check(square_exercise, torch.tensor([1.0, 4.0]))
    assert result.status == FAILED and "Pass the function itself" in result.message


def test_check_raises_a_short_error_that_ipython_renders_as_the_message_only(square_exercise):
    with pytest.raises(ExerciseNotPassed) as raised:
        check(square_exercise, _stub)
    assert raised.value._render_traceback_() == [raised.value.result.message]
    assert raised.value.result.status == NOT_DONE


def test_an_unknown_key_lists_the_known_ones(square_exercise):
    with pytest.raises(KeyError, match=r"There is no exercise '99\.9'.*99\.1"):
        run_check("99.9", _stub)


def test_a_key_cannot_be_registered_twice(square_exercise):
    with pytest.raises(ValueError, match="registered twice"):
        exercise("99.1", "again")(lambda answer: None)


def test_check_failure_carries_its_parts():
    failure = CheckFailure("f(1)", 2, 3, "add one")
    assert (failure.tried, failure.expected, failure.got, failure.hint) == ("f(1)", 2, 3, "add one")


# ---- notebook 00: warm-up ----

def _mean_image(images, labels, label):
    chosen = images[labels == label]
    if len(chosen) == 0:
        raise ValueError(f"no image has label {label}")
    return chosen.mean(dim=0)


def _binarise(images, threshold=0.5):
    return (images > threshold).float()


def _on_fraction(images, threshold=0.5):
    return (images > threshold).float().mean(dim=(1, 2, 3))


WARMUP_WRONG = {
    "00.1": [lambda images, labels, label: images.mean(dim=0),                       # ignores the label
             lambda images, labels, label: images[labels == label].mean(dim=(0, 1)),  # drops the channel axis
             lambda images, labels, label: images[labels == label].mean(dim=0)],      # NaN instead of ValueError
    "00.2": [lambda images, threshold=0.5: (images >= threshold).float(),             # equal counts as on
             lambda images, threshold=0.5: images > threshold,                        # bool, not float
             lambda images, threshold=0.5: images.gt_(threshold)],                    # writes into the input
    "00.3": [lambda images, threshold=0.5: (images > threshold).float().mean(),       # one number, not one per image
             lambda images, threshold=0.5: (images > threshold).float().sum(dim=(1, 2, 3)),
             lambda images, threshold=0.5: (images > threshold).float().mean(dim=(1, 2, 3)).squeeze()],
}


@pytest.mark.parametrize("key, answer", [("00.1", _mean_image), ("00.2", _binarise), ("00.3", _on_fraction)])
def test_warmup_reference_answers_pass(key, answer):
    assert run_check(key, answer).status == PASSED


@pytest.mark.parametrize("key", ["00.1", "00.2", "00.3"])
def test_warmup_stubs_are_not_done(key):
    assert run_check(key, _stub).status == NOT_DONE


@pytest.mark.parametrize("key, index", [(key, i) for key, wrongs in WARMUP_WRONG.items() for i in range(len(wrongs))])
def test_warmup_plausible_wrong_answers_fail_with_a_message(key, index):
    result = run_check(key, WARMUP_WRONG[key][index])
    assert result.status == FAILED, result.message
    assert "tried:" in result.message and "expected:" in result.message


def not_done(*args):
    raise NotImplementedError("stub")


# ---- notebook 01: generative vs discriminative modelling ---------------------------------------------------------

def sample_gaussian(mean, cov, n):
    return mean + torch.randn(n, len(mean)) @ torch.linalg.cholesky(cov).T


def bayes_posterior(log_px_given_y, prior):
    return torch.softmax(log_px_given_y + prior.log(), dim=1)


def generate(pixel_means, k):
    return torch.bernoulli(pixel_means.expand(k, *pixel_means.shape))


NOTEBOOK_01 = {
    "01.1": (sample_gaussian, [
        lambda mean, cov, n: mean + torch.randn(n, len(mean)) @ cov,                      # cov, not its root
        lambda mean, cov, n: mean + torch.randn(n, len(mean)) * cov.diagonal().sqrt(),    # ignores correlation
        lambda mean, cov, n: mean.expand(n, -1).clone(),                                  # no randomness
    ]),
    "01.2": (bayes_posterior, [
        lambda log_lik, prior: torch.softmax(log_lik, dim=1),                             # forgets p(y)
        lambda log_lik, prior: (log_lik.exp() * prior) / (log_lik.exp() * prior).sum(1, keepdim=True),  # underflow
    ]),
    "01.3": (generate, [
        lambda means, k: means.expand(k, *means.shape).clone(),                          # the mean image, k times
        lambda means, k: (means > 0.5).float().expand(k, *means.shape).clone(),          # a fixed threshold
        lambda means, k: torch.randint(0, 2, (k, *means.shape)).float(),                 # random, but not the model
    ]),
}


# ---- notebook 02: density estimation and maximum likelihood ------------------------------------------------------

def gaussian_log_likelihood(x, mu, sigma):
    return (-torch.log(sigma) - 0.5 * torch.log(torch.tensor(2 * torch.pi)) - (x - mu) ** 2 / (2 * sigma ** 2)).sum()


def gaussian_mle(x):
    mu = x.mean()
    return mu, ((x - mu) ** 2).mean().sqrt()


def best_bandwidth(train, held_out, bandwidths):
    from sklearn.neighbors import KernelDensity
    scores = [KernelDensity(bandwidth=h).fit(train).score_samples(held_out).mean() for h in bandwidths]
    return bandwidths[int(np.argmax(scores))]


def independent_pixel_log_likelihood(train, test, eps=1e-3):
    p = train.mean(0).clamp(eps, 1 - eps)
    return test @ p.log() + (1 - test) @ (1 - p).log()


def best_on_training_points(train, held_out, bandwidths):
    return best_bandwidth(train, train, bandwidths)


NOTEBOOK_02 = {
    "02.1": (gaussian_log_likelihood, [
        lambda x, mu, sigma: torch.distributions.Normal(mu, sigma).log_prob(x).mean(),   # mean, not sum
        lambda x, mu, sigma: torch.distributions.Normal(mu, sigma ** 0.5).log_prob(x).sum(),  # sigma as variance
    ]),
    "02.2": (gaussian_mle, [
        lambda x: (x.mean(), x.std()),                                                    # divides by n - 1
        lambda x: (x.mean(), x.var(unbiased=False)),                                      # variance, not std
    ]),
    "02.3": (best_bandwidth, [
        best_on_training_points,                                                          # judged on train
        lambda train, held_out, bandwidths: bandwidths[len(bandwidths) // 2],             # a fixed guess
    ]),
    "02.4": (independent_pixel_log_likelihood, [
        lambda train, test, eps=1e-3: test @ train.mean(0).log() + (1 - test) @ (1 - train.mean(0)).log(),  # no clamp
        lambda train, test, eps=1e-3: independent_pixel_log_likelihood(train, test, eps).sum(),             # total
    ]),
}


@pytest.mark.parametrize("key", sorted({**NOTEBOOK_01, **NOTEBOOK_02}))
def test_notebook_01_02_checks_pass_stub_and_wrong_answers(key):
    reference, wrong_answers = {**NOTEBOOK_01, **NOTEBOOK_02}[key]
    torch.manual_seed(0)
    assert checks.run_check(key, reference).status == PASSED, checks.run_check(key, reference).message
    assert checks.run_check(key, not_done).status == NOT_DONE
    for wrong in wrong_answers:
        result = checks.run_check(key, wrong)
        assert result.status == FAILED, f"{key} accepted a wrong answer"
        assert "tried:" in result.message or "raised" in result.message


def test_notebook_01_02_check_messages_say_what_went_wrong():
    mean_image = checks.run_check("01.3", NOTEBOOK_01["01.3"][1][0])
    assert "k identical images" in mean_image.message and "random element" in mean_image.message
    underflow = checks.run_check("01.2", NOTEBOOK_01["01.2"][1][1])
    assert "underflow" in underflow.message
    on_train = checks.run_check("02.3", best_on_training_points)
    assert "held_out" in on_train.message
    no_clamp = checks.run_check("02.4", NOTEBOOK_02["02.4"][1][0])
    assert "clamp" in no_clamp.message


# ---- notebook 05: the variational autoencoder ------------------------------------------------------------------------

def reparameterize(mean, logvar, eps):
    return mean + torch.exp(0.5 * logvar) * eps


def gaussian_kl(mean, logvar):
    return 0.5 * (logvar.exp() + mean ** 2 - 1 - logvar).sum(dim=1)


def elbo(x, logits, mean, logvar):
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)
    return -bce - gaussian_kl(mean, logvar)


def iwae_estimate(log_px_z, log_pz, log_qz):
    return torch.logsumexp(log_px_z + log_pz - log_qz, dim=1) - np.log(log_px_z.shape[1])


NOTEBOOK_05 = {
    "05.1": (reparameterize, [
        lambda mean, logvar, eps: mean + torch.exp(logvar) * eps,                     # variance, not std
        lambda mean, logvar, eps: (mean + torch.exp(0.5 * logvar) * eps).detach(),     # no gradient path
    ]),
    "05.2": (gaussian_kl, [
        lambda mean, logvar: gaussian_kl(mean, logvar).sum(),                          # summed over the batch
        lambda mean, logvar: 0.5 * (logvar.exp() + mean ** 2 - logvar).sum(dim=1),     # forgot the -1
    ]),
    "05.3": (elbo, [
        lambda x, logits, mean, logvar: -elbo(x, logits, mean, logvar),                # the loss, not the ELBO
        lambda x, logits, mean, logvar: -torch.nn.functional.binary_cross_entropy_with_logits(
            logits, x, reduction="none").flatten(1).mean(dim=1) - gaussian_kl(mean, logvar),  # mean over pixels
    ]),
    "05.4": (iwae_estimate, [
        lambda a, b, c: (a + b - c).mean(dim=1),                                       # the ELBO, not IWAE
        lambda a, b, c: torch.log(torch.exp(a + b - c).mean(dim=1)),                   # underflows to -inf
    ]),
}


@pytest.mark.parametrize("key", sorted(NOTEBOOK_05))
def test_notebook_05_checks_pass_stub_and_wrong_answers(key):
    reference, wrong_answers = NOTEBOOK_05[key]
    assert checks.run_check(key, reference).status == PASSED, checks.run_check(key, reference).message
    assert checks.run_check(key, not_done).status == NOT_DONE
    for wrong in wrong_answers:
        result = checks.run_check(key, wrong)
        assert result.status == FAILED, f"{key} accepted a wrong answer"
        assert "tried:" in result.message or "raised" in result.message


def test_notebook_05_check_messages_say_what_went_wrong():
    detached = checks.run_check("05.1", NOTEBOOK_05["05.1"][1][1])
    assert "grad_fn" in detached.message
    underflow = checks.run_check("05.4", NOTEBOOK_05["05.4"][1][1])
    assert "logsumexp" in underflow.message

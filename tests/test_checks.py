import numpy as np
import pytest
import torch

from course_lib import checks
from course_lib.checks import FAILED, NOT_DONE, PASSED


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

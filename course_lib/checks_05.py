"""Exercise checks of notebook 05, the variational autoencoder (how to write one: see course_lib.checks)."""
from __future__ import annotations

import math
from typing import Any, Callable

import torch

from course_lib.checks import Answer, CheckFailure, as_number, exercise, expect_close, part, real_tensor, short


def _gaussian_cases(rng: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(mean, logvar) pairs of shape (batch, d): the prior itself, one dimension, and random ones."""
    return [(torch.zeros(2, 3), torch.zeros(2, 3)), (torch.tensor([[1.5]]), torch.tensor([[-2.0]])),
            (torch.randn(4, 2, generator=rng), torch.randn(4, 2, generator=rng)),
            (torch.randn(3, 16, generator=rng) * 2, torch.randn(3, 16, generator=rng) - 1)]


def _probe_gradient_path(reparameterize: Callable, mean: torch.Tensor, logvar: torch.Tensor,
                         eps: torch.Tensor) -> dict[str, Any]:
    """Runs next to the learner's answer: call it on mean and logvar that require gradients; is z connected?"""
    z = reparameterize(mean.requires_grad_(), logvar.requires_grad_(), eps)
    if isinstance(z, torch.Tensor):
        return {"z": z.detach(), "grad_fn": z.grad_fn is not None}
    return {"z": z, "grad_fn": False}


@exercise("05.1", "The reparameterisation step", answer="reparameterize", points=2,
          hint="z = μ + σ ⊙ ε, where the standard deviation σ is exp(½ · log σ²), not exp(log σ²); build it from the "
               "inputs with tensor operations, so that gradients reach them.",
          more="torch.exp and elementwise arithmetic; no .detach(), .item() or torch.no_grad() on the way.")
def _check_reparameterize(answer: Answer, rng: torch.Generator) -> None:
    for mean, logvar in _gaussian_cases(rng):
        eps = torch.randn(mean.shape, generator=rng)
        tried = f"reparameterize(mean={short(mean)}, logvar={short(logvar)}, eps=...)"
        got = answer.probe(_probe_gradient_path, mean, logvar, eps, tried=tried)
        if not isinstance(got, dict) or "z" not in got:
            raise CheckFailure(tried, "a tensor z", got)
        expect_close(got["z"], mean + torch.exp(0.5 * logvar) * eps, tried=tried)
        if got.get("grad_fn") is not True:
            raise CheckFailure(tried, "a tensor that gradients can flow through to mean and logvar",
                               "a result with no grad_fn", "Compute z from mean and logvar with torch "
                               "operations (no .detach(), .item() or torch.no_grad()).")


def _kl_diagonal(mean_q: torch.Tensor, logvar_q: torch.Tensor, mean_p: torch.Tensor,
                 logvar_p: torch.Tensor) -> torch.Tensor:
    """KL(N(mean_q, diag e^logvar_q) ‖ N(mean_p, diag e^logvar_p)) per row, all (n, d) -> (n,), in float64."""
    mq, lq, mp, lp = (t.double() for t in (mean_q, logvar_q, mean_p, logvar_p))
    return 0.5 * (lp - lq + (lq.exp() + (mq - mp) ** 2) / lp.exp() - 1).sum(-1)


def _kl_monte_carlo(mean_q: torch.Tensor, logvar_q: torch.Tensor, mean_p: torch.Tensor, logvar_p: torch.Tensor,
                    samples: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The definition E_q[log q(z) − log p(z)] estimated from `samples` draws of z ~ q per row: (estimate, standard
    error), both (n,), float64."""
    mq, lq, mp, lp = (t.double() for t in (mean_q, logvar_q, mean_p, logvar_p))
    z = mq + (0.5 * lq).exp() * torch.randn(samples, *mq.shape, generator=rng, dtype=torch.float64)
    q = torch.distributions.Normal(mq, (0.5 * lq).exp())
    p = torch.distributions.Normal(mp, (0.5 * lp).exp())
    terms = (q.log_prob(z) - p.log_prob(z)).sum(-1)  # (samples, n)
    return terms.mean(0), terms.std(0) / math.sqrt(samples)


def _kl_mistakes(mq: torch.Tensor, lq: torch.Tensor, mp: torch.Tensor, lp: torch.Tensor) -> list[tuple[torch.Tensor,
                                                                                                          str]]:
    """What the plausible wrong derivations return on these inputs, each with what went wrong."""
    mq, lq, mp, lp = (t.double() for t in (mq, lq, mp, lp))
    right = _kl_diagonal(mq, lq, mp, lp)
    return [
        (_kl_diagonal(mp, lp, mq, lq), "That is KL(p ‖ q), the divergence the other way round: the definition "
         "averages log q − log p over draws from q, so q's variance is the one divided by p's."),
        (0.5 * (lp - lq + (lq + (mq - mp) ** 2) / lp - 1).sum(-1), "logvar is log σ², not σ²: the variances are "
         "exp(logvar), while log σ² itself appears as it is."),
        (2 * right, "Twice the KL: every term of a Gaussian's log-density carries a factor ½."),
        (0.5 * (lp - lq + (mq - mp) ** 2 / lp.exp() - 1).sum(-1), "The term σ_q² / σ_p² (the trace term, "
         "E_q[(z − μ_q)²] / σ_p²) is missing: the square (z − μ_p)² under q has a variance part as well as a "
         "mean part."),
        (0.5 * (lp - lq + (lq.exp() + (mq - mp) ** 2) / lp.exp()).sum(-1), "The −1 per dimension is missing: it "
         "is E_q[(z − μ_q)² / σ_q²], from log q."),
        (right / mq.shape[-1], "That is the mean over the latent dimensions; the KL of independent dimensions is "
         "their sum."),
    ]


def _kl_hint(got: Any, mistakes: list[tuple[torch.Tensor, str]], default: str) -> str:
    """The hint of the first mistake whose value `got` matches, else `default` (NaN gets its own)."""
    try:
        got_t = real_tensor(got)
    except (TypeError, ValueError, RuntimeError):
        return default
    if got_t.isnan().any():
        return "NaN: a logarithm of a negative number? logvar can be negative; the variance is exp(logvar), and " \
               "log σ² is logvar itself."
    for value, hint in mistakes:
        if got_t.shape == value.shape and torch.allclose(got_t, value, rtol=1e-4, atol=1e-5):
            return hint
    return default


def _kl_call(answer: Answer, mq: torch.Tensor, lq: torch.Tensor, mp: torch.Tensor, lp: torch.Tensor,
             what: str) -> tuple[Any, str]:
    tried = (f"gaussian_kl(mean_q, logvar_q, mean_p, logvar_p), {what}, shape {tuple(mq.shape)}: "
             f"mean_q={short(mq)}, logvar_q={short(lq)}, mean_p={short(mp)}, logvar_p={short(lp)}")
    return answer(mq, lq, mp, lp, tried=tried), tried


KL_SAMPLES = 100_000  # Monte Carlo draws per row in 05.2's check


@exercise("05.2", "The KL divergence between two diagonal Gaussians, derived", answer="gaussian_kl", points=3,
          hint="Start from KL(q ‖ p) = E_q[log q(z) − log p(z)]. Write out both Gaussian log-densities for one "
               "dimension; the expectation under q needs only E_q[z − μ_q] = 0 and E_q[(z − μ_q)²] = σ_q², after "
               "writing z − μ_p as (z − μ_q) + (μ_q − μ_p). Dimensions are independent: their KLs add up. One "
               "number per row.",
          more="Check your formula on paper: it must give 0 when q = p, and ½ (σ² + μ² − 1 − log σ²) per "
               "dimension when p = N(0, 1). In code: .exp() for the variances, ** 2, and .sum over the last axis.")
def _check_gaussian_kl(answer: Answer, rng: torch.Generator) -> None:
    def draw(n: int, d: int, scale: float = 1.0) -> torch.Tensor:
        return torch.randn(n, d, generator=rng) * scale

    def shape() -> tuple[int, int]:
        return int(torch.randint(2, 6, (), generator=rng)), int(torch.randint(2, 9, (), generator=rng))

    with part("closed form, random q and p", weight=2):
        for _ in range(3):
            n, d = shape()
            mq, lq, mp, lp = draw(n, d, 2), draw(n, d), draw(n, d, 2), draw(n, d)
            got, tried = _kl_call(answer, mq, lq, mp, lp, "random q and p")
            expected = _kl_diagonal(mq, lq, mp, lp)
            expect_close(got, expected, tried=tried, rtol=1e-4, atol=1e-5, hint=_kl_hint(
                got, _kl_mistakes(mq, lq, mp, lp), "Compare your formula with E_q[log q − log p], one dimension "
                "at a time, then add up the dimensions of each row."))
    with part("against a Monte Carlo estimate of E_q[log q − log p]", weight=1):
        n, d = 3, int(torch.randint(2, 5, (), generator=rng))
        mq, mp = draw(n, d), draw(n, d)
        lq = -2 + torch.rand(n, d, generator=rng)  # q narrower than p: the KL is far from its reverse
        lp = torch.rand(n, d, generator=rng)
        got, tried = _kl_call(answer, mq, lq, mp, lp, f"with {KL_SAMPLES:,} draws z ~ q averaging log q(z) − log p(z)")
        estimate, error = _kl_monte_carlo(mq, lq, mp, lp, KL_SAMPLES, rng)
        # 5 standard errors: an honest closed form lands outside with probability about 6e-7 per row
        expect_close(got, estimate, tried=tried, rtol=0, atol=float(5 * error.max()), hint=_kl_hint(
            got, _kl_mistakes(mq, lq, mp, lp), f"Within 5 Monte Carlo standard errors ({5 * error.max():.3g} nats) "
            "of the estimate, your value should be: it is not, so the formula does not match the definition."))
    with part("p = N(0, I), the VAE's prior, and p = q", weight=1):
        n, d = shape()
        mq, lq = draw(n, d, 2), draw(n, d)
        zeros = torch.zeros(n, d)
        got, tried = _kl_call(answer, mq, lq, zeros, zeros, "p = N(0, I)")
        expect_close(got, 0.5 * (lq.exp() + mq ** 2 - 1 - lq).sum(-1), tried=tried, hint=_kl_hint(
            got, _kl_mistakes(mq, lq, zeros, zeros), "With p = N(0, I) each dimension gives ½ (σ² + μ² − 1 − log σ²)."))
        got, tried = _kl_call(answer, mq, lq, mq.clone(), lq.clone(), "p = q")
        expect_close(got, torch.zeros(n), tried=tried, atol=1e-5,
                     hint="A distribution's KL divergence from itself is 0: every term should cancel when q = p.")


@exercise("05.3", "The ELBO of each image", answer="elbo", points=2,
          hint="ELBO = log p(x | z) − KL(q(z | x) ‖ N(0, I)): the first term is minus the binary cross-entropy from "
               "the logits summed over each image's pixels, the second your KL; both per image, shape (batch,).",
          more="F.binary_cross_entropy_with_logits with reduction='none', a sum over each image's pixels, and your "
               "gaussian_kl.")
def _check_elbo(answer: Answer, rng: torch.Generator) -> None:
    for batch, d in [(1, 1), (3, 2), (5, 8)]:
        x = (torch.rand(batch, 1, 4, 4, generator=rng) > 0.5).float()
        logits = torch.randn(batch, 1, 4, 4, generator=rng) * 3
        mean, logvar = torch.randn(batch, d, generator=rng), torch.randn(batch, d, generator=rng)
        tried = f"elbo(x (batch={batch}, 1, 4, 4), logits, mean (batch={batch}, d={d}), logvar)"
        got = answer(x, logits, mean, logvar, tried=tried)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        expected = -bce - 0.5 * (logvar.exp() + mean.pow(2) - 1 - logvar).sum(dim=1)
        expect_close(got, expected, tried=tried, hint="Sum the BCE over each image's pixels and the KL over the "
                     "latent dimensions, keep one value per image, and subtract both (the ELBO is a log-likelihood "
                     "bound: negative, higher is better).")


@exercise("05.4", "The importance-weighted estimate of log p(x)", answer="iwae_estimate", points=2,
          hint="k is the number of latent samples per image, the length of axis 1. Each sample's log-weight is "
               "log p(x|z) + log p(z) − log q(z|x); the estimate is the log of the average weight, computed in log "
               "space: log Σ exp(log-weights) − log k.",
          more="torch.logsumexp over the sample axis, and math.log (or torch.log) of k.")
def _check_iwae(answer: Answer, rng: torch.Generator) -> None:
    cases = [(torch.full((1, 1), -3.0), torch.full((1, 1), -1.0), torch.full((1, 1), -1.5)),
             (torch.randn(2, 5, generator=rng), torch.randn(2, 5, generator=rng), torch.randn(2, 5, generator=rng)),
             (torch.randn(3, 100, generator=rng) * 5 - 600, torch.randn(3, 100, generator=rng) - 20,
              torch.randn(3, 100, generator=rng) - 18)]  # realistic sizes: exp() of these underflows to 0
    for log_px_z, log_pz, log_qz in cases:
        tried = (f"iwae_estimate(log_px_z, log_pz, log_qz) with shape {tuple(log_px_z.shape)}, log p(x|z) around "
                 f"{log_px_z.mean().item():.0f}")
        got = answer(log_px_z, log_pz, log_qz, tried=tried)
        k = log_px_z.shape[1]
        expected = torch.logsumexp(log_px_z + log_pz - log_qz, dim=1) - math.log(k)
        expect_close(got, expected, tried=tried, rtol=1e-5, atol=1e-4,
                     hint="Average the weights (not their logs) over the k samples of each image, and do it in "
                     "log space with torch.logsumexp: exp(-600) underflows to 0.")


# ---- scoring samples: sampling from N(0, I) ---------------------------------------------------------------------

def _classifier_score(probs: torch.Tensor) -> float:
    """exp(mean over rows of KL(p(y|x) || p(y))), p(y) the mean row, with 0 log 0 = 0 (float64)."""
    p = probs.double()
    marginal = p.mean(0, keepdim=True)
    return torch.exp((torch.special.xlogy(p, p) - torch.special.xlogy(p, marginal)).sum(1).mean()).item()


@exercise("05.5", "Score decoded N(0, I) draws with a classifier", answer="classifier_score", points=2,
          hint="p(y) is the classifier's average prediction over all samples. For each sample, KL(p(y|x) ‖ p(y)) = "
               "Σ_c p(c|x) (log p(c|x) − log p(c)), where a class with p(c|x) = 0 adds 0; the score is exp of the "
               "mean KL over the samples. It lies between 1 and the number of classes.",
          more="the mean over the sample axis for p(y); torch.special.xlogy(a, b), which is a · log b and 0 where "
               "a = 0; .sum over the class axis; torch.exp.")
def _check_classifier_score(answer: Answer, rng: torch.Generator) -> None:
    one_hot = torch.eye(4).repeat(2, 1)  # 8 confident samples, the 4 classes used evenly
    cases = [("8 identical rows", torch.tensor([0.7, 0.2, 0.1]).repeat(8, 1)),
             ("8 one-hot rows, 2 of each of 4 classes", one_hot),
             ("5 one-hot rows, all the same class", torch.eye(3)[[1] * 5]),
             ("50 random rows over 10 classes", torch.softmax(torch.randn(50, 10, generator=rng) * 2, dim=1)),
             ("30 peaked random rows over 10 classes", torch.softmax(torch.randn(30, 10, generator=rng) * 6, dim=1))]
    for what, probs in cases:
        tried = f"classifier_score(probs: {what}, shape {tuple(probs.shape)})"
        got = answer(probs, tried=tried)
        expected = _classifier_score(probs)
        value = as_number(got)
        hint = "exp of the average, over samples, of KL(p(y|x) ‖ p(y)), with p(y) the average row."
        if value is not None and math.isnan(value):
            hint = "0 · log 0 gave NaN: a class a sample rules out (probability 0) adds 0 to its KL."
        elif value is not None and math.isclose(value, math.log(expected), rel_tol=1e-4, abs_tol=1e-6):
            hint = "That is the mean KL; the score is its exponential."
        expect_close(got, expected, tried=tried, rtol=1e-4, atol=1e-5, hint=hint)


# ---- the gap identity: log p(x) − ELBO = KL(q(z|x) ‖ p(z|x)), on a model with K latent states -------------------

def _gap_identity(log_px_z: torch.Tensor, log_pz: torch.Tensor, log_qz: torch.Tensor) -> torch.Tensor:
    """log p(x) − ELBO(q) per row, from the definitions (not from the KL): (n, K), (K,), (n, K) -> (n,), float64."""
    joint = log_px_z.double() + log_pz.double()
    q = log_qz.double().exp()
    return torch.logsumexp(joint, dim=1) - (q * (joint - log_qz.double())).sum(1)


def _gap_mistakes(log_px_z: torch.Tensor, log_pz: torch.Tensor, log_qz: torch.Tensor) -> list[tuple[torch.Tensor,
                                                                                                        str]]:
    """What the plausible wrong derivations return, each with what went wrong."""
    joint, log_q = log_px_z.double() + log_pz.double(), log_qz.double()
    log_post = torch.log_softmax(joint, dim=1)
    kl = lambda a, b: (a.exp() * (a - b)).sum(1)  # KL between two rows of log-probabilities
    return [(kl(log_post, log_q), "That is KL(p(z|x) ‖ q), the reverse divergence: the ELBO averages over q, so "
                                  "the gap weighs log q − log p(z|x) by q."),
            (kl(log_q, joint), "log p(x|z) + log p(z) is the joint log p(x, z), not yet the posterior: Bayes' rule "
                               "divides by p(x) = Σ_z p(x|z) p(z), so each row of the posterior sums to 1."),
            (kl(log_q, torch.log_softmax(log_px_z.double(), dim=1)),
             "The prior is missing: Bayes' rule multiplies the likelihood p(x|z) by p(z) before normalising."),
            (-_gap_identity(log_px_z, log_pz, log_qz), "The sign: the ELBO is a lower bound, so the gap log p(x) − "
                                                       "ELBO is never negative."),
            ((log_q.exp() * (joint - log_q)).sum(1), "That is the ELBO itself; the gap is what separates it from "
                                                     "log p(x), a divergence between q and the posterior.")]


def _gap_call(answer: Answer, log_px_z: torch.Tensor, log_pz: torch.Tensor, log_qz: torch.Tensor,
              what: str) -> tuple[Any, str]:
    tried = (f"elbo_gap(log_px_z, log_pz, log_qz), {what}: n={log_px_z.shape[0]} rows, K={log_px_z.shape[1]} "
             f"states, log p(x|z) around {log_px_z.mean().item():.0f}, log_pz={short(log_pz)}")
    return answer(log_px_z, log_pz, log_qz, tried=tried), tried


def _expect_gap(got: Any, expected: torch.Tensor, mistakes: list[tuple[torch.Tensor, str]], tried: str) -> None:
    hint = "Compute the posterior p(z|x) by Bayes' rule (in log space), then KL(q ‖ p(z|x)) = Σ_z q (log q − log " \
           "p(z|x)) for each row."
    try:
        got_t = real_tensor(got)
    except (TypeError, ValueError, RuntimeError):
        got_t = None
    if got_t is not None and got_t.shape == expected.shape:
        if not torch.isfinite(got_t).all():
            hint = ("Not finite: exp(−1000) underflows to 0, even in float64. Normalise the posterior in log space "
                    "(logsumexp).")
        for value, what in mistakes:
            if torch.allclose(got_t, value, rtol=1e-4, atol=1e-5):
                hint = what
                break
    expect_close(got, expected, tried=tried, rtol=1e-4, atol=1e-4, hint=hint)


@exercise("05.6", "The ELBO's gap is a KL divergence, derived", answer="elbo_gap", points=3,
          hint="log p(x) does not depend on z, so it equals its own average over z ~ q; inside that average, Bayes' "
               "rule writes it with p(x, z) and the posterior p(z|x). What is left once the ELBO is taken out?",
          more="log p(x) = log p(x, z) − log p(z|x) for any z; average over q and add and subtract log q(z|x): one "
               "part is the ELBO, the other a KL, which your function computes. The posterior's log is log p(x|z) + "
               "log p(z) minus its log-normaliser over the K states (torch.log_softmax, or torch.logsumexp); q "
               "itself is log_qz.exp(); then a sum over the state axis.")
def _check_elbo_gap(answer: Answer, rng: torch.Generator) -> None:
    def model(n: int, k: int, level: float) -> tuple[torch.Tensor, torch.Tensor]:
        log_px_z = level + 4 * torch.randn(n, k, generator=rng, dtype=torch.float64)
        log_pz = torch.log_softmax(torch.randn(k, generator=rng, dtype=torch.float64), dim=0)
        return log_px_z, log_pz

    def random_q(n: int, k: int) -> torch.Tensor:
        return torch.log_softmax(2 * torch.randn(n, k, generator=rng, dtype=torch.float64), dim=1)

    with part("log p(x) − ELBO on random models and random q", weight=3):
        for level in (-3.0, -1000.0):  # -1000: log p(x|z) of an image of a few thousand pixels; exp() underflows
            n, k = int(torch.randint(2, 7, (), generator=rng)), int(torch.randint(2, 9, (), generator=rng))
            log_px_z, log_pz = model(n, k, level)
            log_qz = random_q(n, k)
            got, tried = _gap_call(answer, log_px_z, log_pz, log_qz, "random q")
            _expect_gap(got, _gap_identity(log_px_z, log_pz, log_qz), _gap_mistakes(log_px_z, log_pz, log_qz), tried)
    with part("q equal to the exact posterior (gap 0), and q near it", weight=1):
        n, k = int(torch.randint(2, 7, (), generator=rng)), int(torch.randint(3, 9, (), generator=rng))
        log_px_z, log_pz = model(n, k, -20.0)
        posterior = torch.log_softmax(log_px_z + log_pz, dim=1)
        got, tried = _gap_call(answer, log_px_z, log_pz, posterior, "q = p(z|x) exactly")
        _expect_gap(got, torch.zeros(n, dtype=torch.float64), _gap_mistakes(log_px_z, log_pz, posterior), tried)
        near = torch.log_softmax(posterior + torch.randn(n, k, generator=rng, dtype=torch.float64), dim=1)
        got, tried = _gap_call(answer, log_px_z, log_pz, near, "q = p(z|x) with its log-probabilities jittered")
        _expect_gap(got, _gap_identity(log_px_z, log_pz, near), _gap_mistakes(log_px_z, log_pz, near), tried)


# ---- reading a rate–distortion sweep (interpretation) -----------------------------------------------------------

def _sweep(rng: torch.Generator, n: int, *, beta_one_best: bool) -> tuple[list[float], list[float], list[float]]:
    """A β sweep of n models (β ascending, 1 among them): rates falling and distortions rising with β, drawn until
    the best ELBO is at β = 1 (beta_one_best) or elsewhere, and never where the plausible misreadings point (the
    lowest distortion, the lowest rate, the lowest D + β·R)."""
    while True:
        betas = sorted({1.0, *(round(float(2 ** (6 * torch.rand((), generator=rng) - 3)), 2) for _ in range(n - 1))})
        rates = sorted((float(5 + 40 * torch.rand((), generator=rng)) for _ in betas), reverse=True)
        distortions = sorted(float(200 + 80 * torch.rand((), generator=rng)) for _ in betas)
        totals = [r + d for r, d in zip(rates, distortions)]
        best = totals.index(min(totals))
        losses = [d + b * r for b, r, d in zip(betas, rates, distortions)]
        misread = {distortions.index(min(distortions)), rates.index(min(rates)), losses.index(min(losses))}
        if len(betas) == n and best not in misread and (betas[best] == 1.0) == beta_one_best:
            return betas, rates, distortions


@exercise("05.7", "Which model of a β sweep has the best ELBO (interpretation)", answer="best_elbo", points=2,
          hint="Is there one objective by which every model can be scored, whatever β it was trained with? Write it "
               "with the two columns you are given.",
          more="The ELBO is −(distortion + rate), nats per image, for every model; each model's own loss D + β·R is "
               "not comparable across models. One number per model, the index of the largest, and the β and the "
               "ELBO at that index (a negative number).")
def _check_best_elbo(answer: Answer, rng: torch.Generator) -> None:
    for name, n, beta_one_best in (("β = 1 best", 4, True), ("another β best", 5, False), ("another β best", 6, False)):
        betas, rates, distortions = _sweep(rng, n, beta_one_best=beta_one_best)
        elbos = [-(r + d) for r, d in zip(rates, distortions)]
        best = elbos.index(max(elbos))
        tried = (f"best_elbo(betas={betas}, rates={[round(r, 1) for r in rates]}, "
                 f"distortions={[round(d, 1) for d in distortions]})")
        with part(f"a sweep of {n} models, {name}"):
            got = answer(betas, rates, distortions, tried=tried)
            if not isinstance(got, (tuple, list)) or len(got) != 2:
                raise CheckFailure(tried, "a pair (β, ELBO)", short(got), "Return two numbers: the β and its ELBO.")
            beta, elbo = as_number(got[0]), as_number(got[1])
            if beta != betas[best]:
                losses = [d + b * r for b, r, d in zip(betas, rates, distortions)]
                readings = [(distortions.index(min(distortions)), "That model reconstructs best, but it pays for it "
                                                                   "in rate: the ELBO counts both."),
                            (rates.index(min(rates)), "That model sends the fewest nats, but distorts the most: the "
                                                      "ELBO counts both."),
                            (losses.index(min(losses)), "Each model minimised its own D + β·R with its own β; those "
                                                        "losses are on different scales. The ELBO weighs rate and "
                                                        "distortion equally.")]
                why = " ".join(text for index, text in readings if betas[index] == beta)
                raise CheckFailure(tried, f"β = {betas[best]:g}", short(got[0]), why)
            expect_close(elbo, elbos[best], tried=tried, rtol=1e-6,
                         hint="The ELBO is minus the sum of distortion and rate: a negative number of nats per image.")

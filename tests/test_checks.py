"""The exercise-check machinery (course_lib.checks: registry, check, the plain-data channel), then each notebook's
checks (course_lib.checks_00 ... checks_06, one section per module, appended below)."""
import numpy as np
import pytest
import torch

from course_lib import checks
from course_lib.checks import (FAILED, NOT_DONE, PASSED, CheckFailure, ExerciseNotPassed, check, exercise,
                               expect_close, run_check)


@pytest.fixture
def square_exercise():
    """A throwaway exercise 99.1, 'square a tensor', removed again after the test."""

    @exercise("99.1", "square a tensor", answer="square", points=3, hint="use x * x")
    def _test(answer, rng):
        for values in ([1.0, 2.0], [0.0], [-3.0, 0.5, 4.0]):
            tried = f"square(tensor({values}))"
            expect_close(answer(torch.tensor(values), tried=tried), torch.tensor(values) ** 2, tried=tried)

    yield "99.1"
    del checks.EXERCISES["99.1"]


def _stub(*args):
    raise NotImplementedError("use x * x")


def test_a_right_answer_passes_with_its_points(square_exercise, capsys):
    assert check(square_exercise, lambda x: x * x) is None  # nothing for Jupyter to echo after the message
    assert capsys.readouterr().out.strip() == "[99.1] square a tensor: passed (3/3)."
    result = run_check(square_exercise, lambda x: x * x)
    assert (result.status, result.points, result.max_points) == (PASSED, 3, 3) and result.passed


def test_a_stub_is_not_done_yet(square_exercise):
    result = run_check(square_exercise, _stub)
    assert (result.status, result.points) == (NOT_DONE, 0)
    assert "not done yet" in result.message and "Hint: use x * x" in result.message


def test_an_answer_calling_an_unfinished_one_names_that_exercise():
    """00.3's answer calls the learner's `binarise`, still a stub: the message names 00.2, not 00.3's own stub."""
    def binarise(images, threshold=0.5):
        raise NotImplementedError("a pixel is on when ...")

    def on_fraction(images, threshold=0.5):
        return binarise(images, threshold).mean(dim=(1, 2, 3))

    result = run_check("00.3", on_fraction)
    assert result.status == NOT_DONE
    assert "your `binarise` (exercise 00.2) is not done yet, and your answer calls it" in result.message
    assert "Replace the `raise NotImplementedError`" not in result.message
    def on_fraction(images, threshold=0.5):  # noqa: F811 (the answer's own stub: the usual message)
        raise NotImplementedError("binarise first, ...")

    own = run_check("00.3", on_fraction)
    assert "Replace the `raise NotImplementedError`" in own.message and "00.2" not in own.message


def test_a_wrong_answer_says_what_was_tried_expected_and_got(square_exercise):
    result = run_check(square_exercise, lambda x: x.abs() * x)  # right for the first inputs, wrong for negatives
    assert result.status == FAILED and result.points == 0
    assert "tried:    square(tensor([-3.0, 0.5, 4.0]))" in result.message
    assert "expected: tensor([ 9.0000, 0.2500, 16.0000])" in result.message
    assert "got:      tensor([-9.0000, 0.2500, 16.0000])" in result.message and "hint:     use x * x" in result.message


@pytest.fixture
def parts_exercise():
    """A throwaway exercise 99.2 whose test has three weighted parts (1, 1 and 2), removed again after the test."""

    @exercise("99.2", "square a tensor, in parts", answer="square", points=3, hint="use x * x")
    def _test(answer, rng):
        for values, weight in (([1.0, 2.0], 1), ([0.0], 1), ([-3.0, 0.5, 4.0], 2)):
            with checks.part(f"square(tensor({values}))", weight=weight):
                tried = f"square(tensor({values}))"
                expect_close(answer(torch.tensor(values), tried=tried), torch.tensor(values) ** 2, tried=tried)

    yield "99.2"
    del checks.EXERCISES["99.2"]


def test_a_half_right_answer_earns_the_weight_of_the_parts_it_passes(parts_exercise):
    result = run_check(parts_exercise, lambda x: x.abs() * x)  # right for the first two parts, wrong for negatives
    assert result.status == FAILED and not result.passed
    assert result.fraction == 0.5 and result.points == 1.5 and result.max_points == 3
    assert [(p.name, p.weight, p.passed) for p in result.parts] == [
        ("square(tensor([1.0, 2.0]))", 1, True), ("square(tensor([0.0]))", 1, True),
        ("square(tensor([-3.0, 0.5, 4.0]))", 2, False)]
    assert "partly right (1.5/3 points: 2 of 3 parts)" in result.message
    assert "passed:   square(tensor([1.0, 2.0]))" in result.message
    assert "FAILED:   square(tensor([-3.0, 0.5, 4.0]))" in result.message
    assert "got:      tensor([-9.0000, 0.2500, 16.0000])" in result.message
    with pytest.raises(ExerciseNotPassed, match="partly right"):  # the learner's check still stops "run all"
        check(parts_exercise, lambda x: x.abs() * x)


def test_parts_give_a_complete_answer_its_points_and_a_wrong_or_unfinished_one_none(parts_exercise):
    right = run_check(parts_exercise, lambda x: x * x)
    assert (right.status, right.points, right.fraction) == (PASSED, 3, 1.0)
    assert right.message == "[99.2] square a tensor, in parts: passed (3/3)."
    wrong = run_check(parts_exercise, lambda x: x + 1)
    assert (wrong.status, wrong.points, wrong.fraction) == (FAILED, 0, 0.0) and "not right yet" in wrong.message
    assert run_check(parts_exercise, _stub).points == 0
    almost = run_check(parts_exercise, lambda x: x * x if len(x) < 3 else x * x + 1e-3)
    assert almost.points == 1.5 and almost.points < almost.max_points


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
        exercise("99.1", "again", answer="square")(lambda answer, rng: None)


def test_check_failure_carries_its_parts():
    failure = CheckFailure("f(1)", 2, 3, "add one")
    assert (failure.tried, failure.expected, failure.got, failure.hint) == ("f(1)", 2, 3, "add one")


def test_the_registry_loads_one_notebooks_module_when_asked_for_one_of_its_keys():
    import subprocess
    import sys
    code = ("import sys; from course_lib import checks; checks.get('03.1'); "
            "print(sorted(m for m in sys.modules if m.startswith('course_lib.checks_'))); "
            "print(len(checks.EXERCISES), checks.load('02'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "['course_lib.checks_03']"
    assert out[1] == f"{len(checks.EXERCISES)} {[f'02.{i}' for i in range(1, 13)]}" and len(checks.EXERCISES) >= 30  # 02.10 after 02.9


# ---- the plain-data channel ----

def _same(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b) and all(_same(x, y) is None for x, y in zip(a, b))
    elif isinstance(a, dict):
        assert list(a) == list(b) and all(_same(a[k], b[k]) is None for k in a)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def test_the_channel_carries_plain_data_exactly():
    value = {"tensors": (torch.rand(3, 4), torch.tensor(2.5, dtype=torch.float64), torch.zeros(0, 5),
                         torch.tensor([True, False]), torch.arange(6).reshape(2, 3)[:, 1:],  # not contiguous
                         torch.rand(2, 2, dtype=torch.bfloat16), torch.rand(3, requires_grad=True) * 2),
             "numpy": [np.arange(4, dtype=np.int16), np.float32(0.25), np.bool_(True), np.zeros((2, 0))],
             7: [None, True, 3, 10**30, -0.0, float("nan"), float("inf"), "naïve ✓", ""],
             "nested": [[[(1, 2), {"a": []}]]]}
    back = checks.decode(checks.encode(value))
    expected = dict(value, tensors=tuple(t.detach().contiguous() for t in value["tensors"]))
    _same(back, expected)
    assert not back["tensors"][-1].requires_grad and isinstance(back["numpy"][1], np.float32)


def _nested(depth):
    return [_nested(depth - 1)] if depth else 1


@pytest.mark.parametrize("value, reason", [
    (object(), "object cannot be sent"), (lambda: 1, "function cannot be sent"),
    (torch.nn.Linear(2, 2), "Linear cannot be sent"), ({(1, 2): 3}, "keys other than"),
    (torch.eye(3).to_sparse(), "cannot be sent"), (np.array(["a"]), "dtype <U1 cannot be sent"),
    (np.array([object()]), "dtype object cannot be sent"), (_nested(checks.MAX_DEPTH + 1), "nested"),
    (torch.zeros(1000), "larger than the limit"), (list(range(500_000)), "larger than the limit"),
])
def test_the_channel_refuses_what_is_not_plain_data(value, reason):
    with pytest.raises(checks.ChannelError, match=reason):
        checks.encode(value, limit=3000 if isinstance(value, torch.Tensor) else checks.MAX_MESSAGE)


def test_decoding_malformed_data_raises_only_channel_error():
    import json
    import random
    good = checks.encode({"x": torch.rand(5, 3), "y": [1, 2.0, "three", (np.arange(3),)]})
    size = int.from_bytes(good[4:8], "big")

    def message(header, buffers=b""):
        raw = json.dumps(header).encode()
        return checks.MAGIC + len(raw).to_bytes(4, "big") + raw + buffers

    bad = [b"", b"CLv1", good[:-1], good + b"x", b"XXXX" + good[4:], good[:4] + (2**31).to_bytes(4, "big") + good[8:],
           "a string", None, message({"v": {"T": ["float32", [2, 2], 0]}, "b": [12]}, bytes(12)),
           message({"v": {"T": ["float32", [-1], 0]}, "b": [4]}, bytes(4)),
           message({"v": {"T": ["object", [1], 0]}, "b": [8]}, bytes(8)),
           message({"v": {"T": ["float32", [1], 5]}, "b": [4]}, bytes(4)),
           message({"v": {"A": ["float64", [1], 0]}, "b": [4]}, bytes(4)),
           message({"v": {"S": ["float32", [2], 0]}, "b": [8]}, bytes(8)),
           message({"v": {"X": 1}, "b": []}), message({"v": {"t": 1}, "b": []}), message({"v": {"d": [[1.5, 2]]}, "b": []}),
           message({"v": {"d": [[1]]}, "b": []}), message({"v": 1, "b": [-4]}), message({"v": 1}), message([1, 2]),
           checks.MAGIC + (10).to_bytes(4, "big") + b"\xff" * 10,
           message({"v": 1, "b": []})[:8] + b"[" * 100_000 + b"]" * 100_000]
    rng = random.Random(0)
    for _ in range(300):
        corrupt = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            corrupt[rng.randrange(8, 8 + size)] = rng.randrange(256)
        bad.append(bytes(corrupt))
    for data in bad:
        try:
            checks.decode(data)
        except checks.ChannelError:
            pass


def test_perform_reports_what_happened_to_the_call():
    request = checks.encode({"args": [torch.ones(2)], "probe": None})
    assert torch.equal(checks.decode(checks.perform(lambda x: x * 2, request))["value"], torch.full((2,), 2.0))
    raised = checks.decode(checks.perform(lambda x: int("no"), request))
    assert raised["outcome"] == "raised" and raised["types"][:3] == ["ValueError", "Exception", "BaseException"]
    assert checks.decode(checks.perform(torch.ones(1), request))["outcome"] == "not_callable"
    assert checks.decode(checks.perform(lambda x: object(), request))["outcome"] == "unsendable"


def test_an_answer_gets_copies_so_it_cannot_change_the_checks_own_inputs(square_exercise):
    def square_in_place(x):
        return x.mul_(x)

    assert run_check(square_exercise, square_in_place).status == PASSED


def test_the_inputs_come_from_the_callers_seed():
    seen = {}

    def spy(seed):
        def answer(images, labels, label):
            seen.setdefault(seed, []).append(images.sum().item())
            raise NotImplementedError
        return answer

    for seed in (checks.PUBLIC_SEED, checks.PUBLIC_SEED, 12345):
        checks.evaluate(checks.get("00.1"), checks.LocalAnswer(spy(seed)), seed)
    assert len(seen[checks.PUBLIC_SEED]) == 2 and seen[checks.PUBLIC_SEED][0] == seen[checks.PUBLIC_SEED][1]
    assert seen[12345][0] != seen[checks.PUBLIC_SEED][0]


def test_every_bit_of_the_secret_counts():
    """torch's CPU generator keeps only 32 bits of a seed: the secret goes through SHA-256 first, so secrets that
    differ only above bit 32 (or far above it: the grader's are 256-bit) draw different inputs."""
    seen = {}

    def spy(seed):
        def answer(images, labels, label):
            seen[seed] = images.clone()
            raise NotImplementedError
        return answer

    low = 987654321
    for seed in (low, low + 2**32, low + 2**40, low + 2**255):
        checks.evaluate(checks.get("00.1"), checks.LocalAnswer(spy(seed)), seed)
    assert torch.equal(torch.rand(3, generator=torch.Generator().manual_seed(low)),
                       torch.rand(3, generator=torch.Generator().manual_seed(low + 2**32)))  # why: torch drops them
    firsts = [seen[seed] for seed in sorted(seen)]
    assert all(not torch.equal(a, b) for i, a in enumerate(firsts) for b in firsts[i + 1:])


def test_the_graders_messages_show_inputs_by_shape_and_first_values_only():
    def wrong(images, threshold=0.5):
        return images

    learner = checks.evaluate(checks.get("00.2"), checks.LocalAnswer(wrong), 7).message
    grader = checks.evaluate(checks.get("00.2"), checks.LocalAnswer(wrong), 7, brief=True).message
    assert "got:      'tensor of shape (3, 1, 4, 4), with" in learner
    assert "got:      'tensor of shape (3, 1, 4, 4) starting [" in grader
    x = torch.arange(48.0).reshape(3, 1, 4, 4) / 7
    assert checks.short(torch.tensor([0.5, 0.25])) == "tensor([0.5000, 0.2500])"
    token = checks._BRIEF.set(True)
    try:
        assert checks.short(x) == "tensor of shape (3, 1, 4, 4) starting [0, 0.1429, 0.2857, ...]"
        assert checks.short(torch.tensor([0.5, 0.25])) == "tensor of shape (2,) starting [0.5, 0.25]"
    finally:
        checks._BRIEF.reset(token)


def test_an_answer_that_is_or_calls_course_libs_own_function_fails_the_learners_check_too():
    from course_lib import latent, models

    def wrapper(mean_q, logvar_q, mean_p, logvar_p):
        return models.gaussian_kl(mean_q - mean_p, logvar_q)

    def own(mean_q, logvar_q, mean_p, logvar_p):
        return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mean_q - mean_p) ** 2) / logvar_p.exp() - 1).sum(-1)

    class Encoder(models.ConvEncoder):
        pass

    assert "uses course_lib's own `course_lib.models.gaussian_kl`" in run_check("05.2", models.gaussian_kl).message
    assert run_check("05.2", wrapper).status == FAILED and "write it yourself" in run_check("05.2", wrapper).message
    assert run_check("06.2", latent.slerp).status == FAILED
    assert checks.library_use(Encoder) == "course_lib.models.ConvEncoder"
    assert run_check("05.2", own).status == PASSED


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


def nearest_distance(samples, train):
    return torch.cdist(samples.flatten(1), train.flatten(1)).min(dim=1).values


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
    "01.4": (nearest_distance, [
        lambda s, t: nearest_distance(s, t) ** 2,                                          # squared distances
        lambda s, t: torch.cdist(s.flatten(1), s.flatten(1)).min(dim=1).values,           # samples vs themselves
        lambda s, t: torch.cdist(s.flatten(1), t.flatten(1)).mean(dim=1),                 # mean, not nearest
        lambda s, t: torch.cdist(s.flatten(1), t.flatten(1)).argmin(dim=1).float(),       # which one, not how far
        lambda s, t: (s.flatten(1)[:, None] - t.flatten(1)).abs().sum(-1).min(1).values,  # city-block distance
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


def log10_size(shape, levels):
    import math
    return math.prod(shape) * math.log10(levels)


def histogram_density(x, edges):
    counts = torch.histogram(x, bins=edges).hist
    return counts / (len(x) * (edges[1:] - edges[:-1]))


def neighbour_correlation(images):
    a, b = images[:, 0, :, :-1], images[:, 0, :, 1:]
    a, b = a - a.mean(0), b - b.mean(0)
    return (a * b).mean(0) / (a.pow(2).mean(0).sqrt() * b.pow(2).mean(0).sqrt())


def share_seen(samples, data):
    seen = {tuple(row) for row in data.flatten(1).tolist()}
    return sum(tuple(row) in seen for row in samples.flatten(1).tolist()) / len(samples)


def em_step(x, weights, means, variances):
    log_joint = weights.log() + torch.distributions.Normal(means, variances.sqrt()).log_prob(x[:, None])
    resp = torch.softmax(log_joint, dim=1)
    counts = resp.sum(0)
    new_means = resp.T @ x / counts
    return counts / len(x), new_means, (resp * (x[:, None] - new_means) ** 2).sum(0) / counts


def _em_sigma(x, weights, means, variances):  # returns standard deviations where variances are asked for
    w, m, v = em_step(x, weights, means, variances)
    return w, m, v.sqrt()


def _em_no_weights_in_e_step(x, weights, means, variances):  # Bayes' rule without the prior w_k
    _, m, v = em_step(x, torch.full_like(weights, 1 / len(weights)), means, variances)
    return em_step(x, weights, means, variances)[0], m, v


def _pooled_correlation(images):
    a, b = images[..., :-1].flatten(), images[..., 1:].flatten()
    return torch.corrcoef(torch.stack([a, b]))[0, 1]


def _with_itself(images):  # each pixel paired with itself
    a = images[:, 0, :, :-1] - images[:, 0, :, :-1].mean(0)
    return (a * a).mean(0) / a.pow(2).mean(0)


def _mixed_divisors(images):  # covariance divided by n, standard deviations by n - 1
    a, b = images[:, 0, :, :-1], images[:, 0, :, 1:]
    return ((a - a.mean(0)) * (b - b.mean(0))).mean(0) / (a.std(0) * b.std(0))


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
    "02.5": (log10_size, [
        lambda shape, levels: np.prod(shape) * np.log(levels),                             # natural log
        lambda shape, levels: shape[-1] * shape[-2] * np.log10(levels),                    # forgets channels
        lambda shape, levels: float(np.log10(float(levels) ** int(np.prod(shape)))),       # overflows
        lambda shape, levels: np.log10(np.prod(shape) * levels),                           # product, not power
    ]),
    "02.6": (histogram_density, [
        lambda x, edges: torch.histogram(x, bins=edges).hist / len(x),                     # shares, not densities
        lambda x, edges: torch.histogram(x, bins=edges).hist / (edges[1:] - edges[:-1]),   # forgets n
        lambda x, edges: torch.histogram(x, bins=edges).hist / (len(x) * (edges[1] - edges[0])),  # equal widths
        lambda x, edges: torch.histc(x, len(edges) - 1, edges[0].item(), edges[-1].item())
        / (len(x) * (edges[1:] - edges[:-1])),                                             # ignores the edges
    ]),
    "02.7": (neighbour_correlation, [
        _pooled_correlation,                                                               # one number
        lambda im: neighbour_correlation(im.transpose(2, 3)).T,                            # vertical neighbours
        _mixed_divisors,                                                                   # n and n - 1 mixed
        lambda im: ((im[:, 0, :, :-1] - im[:, 0, :, :-1].mean(0))
                    * (im[:, 0, :, 1:] - im[:, 0, :, 1:].mean(0))).mean(0),                # covariance
        lambda im: neighbour_correlation(im).nan_to_num(0.0),                              # hides undefined pairs
        _with_itself,                                                                      # no neighbour
    ]),
    "02.8": (share_seen, [
        lambda s, d: share_seen(d, s),                                                     # the other way round
        lambda s, d: share_seen(s, d) * len(s),                                            # a count
        lambda s, d: share_seen(torch.unique(s.flatten(1), dim=0), d.flatten(1)),          # drops repeats
        lambda s, d: share_seen(s.flatten(1).sum(1, keepdim=True), d.flatten(1).sum(1, keepdim=True)),  # same total
    ]),
    "02.9": (em_step, [
        _em_sigma,                                                                         # σ, not σ²
        _em_no_weights_in_e_step,                                                          # no w_k in the E step
        lambda x, w, m, v: tuple(t[::-1] for t in em_step(x, w, m, v)),                    # components reordered
    ]),
}


def test_notebook_01_02_check_messages_say_what_went_wrong():
    mean_image = checks.run_check("01.3", NOTEBOOK_01["01.3"][1][0])
    assert "k identical images" in mean_image.message and "random element" in mean_image.message
    underflow = checks.run_check("01.2", NOTEBOOK_01["01.2"][1][1])
    assert "underflow" in underflow.message
    on_train = checks.run_check("02.3", best_on_training_points)
    assert "held_out" in on_train.message
    no_clamp = checks.run_check("02.4", NOTEBOOK_02["02.4"][1][0])
    assert "clamp" in no_clamp.message


# ---- notebooks 03 and 04: representation learning, the autoencoder ----

def pca_directions(x, k):
    mean = x.mean(0)
    return mean, torch.linalg.svd(x - mean, full_matrices=False)[2][:k].T


def pca_encode_decode(x, mean, w):
    z = (x - mean) @ w
    return z, z @ w.T + mean


def components_needed(x, fraction):
    variance = torch.linalg.svdvals(x - x.mean(0)) ** 2
    return int((variance.cumsum(0) / variance.sum() < fraction).sum()) + 1


def sample_box(z_train, n):
    low, high = z_train.min(0).values, z_train.max(0).values
    return low + (high - low) * torch.rand(n, z_train.shape[1])


def gap_share(z_train, z_test, z_random):
    threshold = torch.cdist(z_test, z_train).min(1).values.quantile(0.95)
    return (torch.cdist(z_random, z_train).min(1).values > threshold).float().mean()


def _gap_share_nearest_rank(z_train, z_test, z_random):  # another percentile convention: also right
    distance = torch.cdist(z_test, z_train).min(1).values
    threshold = distance.kthvalue(int(np.ceil(0.95 * len(distance)))).values
    return (torch.cdist(z_random, z_train).min(1).values > threshold).float().mean().item()


def conv_encoder(latent_dim, relu=True):
    act = torch.nn.ReLU if relu else torch.nn.Identity
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, stride=2, padding=1), act(), torch.nn.Conv2d(16, 32, 3, stride=2, padding=1), act(),
        torch.nn.Conv2d(32, 64, 3, stride=2, padding=1), act(), torch.nn.Flatten(), torch.nn.Linear(1024, latent_dim))


def reconstruction_loss(logits, x):
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def interpolate(z_a, z_b, steps):
    t = torch.linspace(0, 1, steps)[:, None]
    return (1 - t) * z_a + t * z_b


NOTEBOOKS_03_04 = {
    "03.1": (pca_directions, [
        lambda x, k: (x.mean(0), torch.linalg.svd(x, full_matrices=False)[2][:k].T),                 # not centred
        lambda x, k: (x.mean(0), torch.linalg.svd(x - x.mean(0), full_matrices=False)[2][-k:].T),    # smallest
        lambda x, k: (x.mean(0), (lambda s: s[2][:k].T * s[1][:k])(torch.linalg.svd(x - x.mean(0), False))),  # scaled
    ]),
    "03.2": (pca_encode_decode, [
        lambda x, mean, w: (x @ w, x @ w @ w.T + mean),                                          # no centring
        lambda x, mean, w: ((x - mean) @ w, (x - mean) @ w @ w.T),                               # mean not added back
    ]),
    "03.3": (components_needed, [
        lambda x, f: components_needed(x, f) - 1,                                                # a position
        lambda x, f: int((torch.linalg.svdvals(x - x.mean(0)).cumsum(0)
                          / torch.linalg.svdvals(x - x.mean(0)).sum() < f).sum()) + 1,           # not squared
        lambda x, f: int(((torch.linalg.svdvals(x) ** 2).cumsum(0)
                          / (torch.linalg.svdvals(x) ** 2).sum() < f).sum()) + 1,                # not centred
        lambda x, f: int(np.ceil(f * x.shape[1])),                                               # a share of the axes
    ]),
    "04.1": (conv_encoder, [
        lambda d: conv_encoder(d, relu=False),                                                   # linear
        lambda d: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 29), torch.nn.ReLU(),
                                      torch.nn.Linear(29, d)),                                   # an MLP
        lambda d: torch.nn.Sequential(*list(conv_encoder(d))[:-1], torch.nn.Linear(1024, d + 1)),  # wrong size
    ]),
    "04.2": (reconstruction_loss, [
        lambda logits, x: reconstruction_loss(logits, x) / x[0].numel(),                         # mean over pixels
        lambda logits, x: -(x * torch.sigmoid(logits).log()
                            + (1 - x) * (1 - torch.sigmoid(logits)).log()).flatten(1).sum(1),    # overflows
        lambda logits, x: torch.nn.functional.binary_cross_entropy(
            torch.sigmoid(logits), x, reduction="none").flatten(1).sum(1),                       # clamps at 100
        lambda logits, x: reconstruction_loss(logits, x).mean(),                                 # one number
    ]),
    "04.3": (interpolate, [
        lambda z_a, z_b, steps: z_a + (torch.arange(steps)[:, None] / steps) * (z_b - z_a),      # misses z_b
        lambda z_a, z_b, steps: interpolate(z_b, z_a, steps),                                    # backwards
    ]),
    "04.4": (sample_box, [
        lambda z, n: torch.randn(n, z.shape[1]),                                                 # N(0, I)
        lambda z, n: z.min() + (z.max() - z.min()) * torch.rand(n, z.shape[1]),                   # one box for all
        lambda z, n: z[torch.randint(0, len(z), (n,))],                                          # training codes
        lambda z, n: z.mean(0) + z.std(0) * (2 * torch.rand(n, z.shape[1]) - 1),                 # mean +- std
        lambda z, n: sample_box(z, 1).expand(n, -1).clone(),                                     # one point, n times
        lambda z, n: (lambda t: z.min(0).values + (z.max(0).values - z.min(0).values) * t)(
            torch.rand(n, 1).expand(-1, z.shape[1])),                                            # on the diagonal
    ]),
    "04.5": (gap_share, [
        lambda tr, te, r: (torch.cdist(r, tr).min(1).values
                           > torch.cdist(r, tr).min(1).values.quantile(0.95)).float().mean(),    # own percentile
        lambda tr, te, r: (torch.cdist(te, tr).min(1).values
                           > torch.cdist(te, tr).min(1).values.quantile(0.95)).float().mean(),   # test points
        lambda tr, te, r: (torch.cdist(r, tr).min(1).values
                           > torch.cdist(te, tr).min(1).values.mean()).float().mean(),           # the mean distance
        lambda tr, te, r: (torch.cdist(r, tr).min(1).values
                           > torch.cdist(te, tr).min(1).values.max()).float().mean(),            # the largest
        lambda tr, te, r: (torch.cdist(r, te).min(1).values
                           > torch.cdist(te, tr).min(1).values.quantile(0.95)).float().mean(),   # nearest test code
        lambda tr, te, r: gap_share(tr, te, r) * len(r),                                         # a count
    ]),
}


def test_notebook_03_04_check_messages_say_what_went_wrong():
    assert "Centre x" in checks.run_check("03.1", NOTEBOOKS_03_04["03.1"][1][0]).message
    assert "orthonormal" in checks.run_check("03.1", NOTEBOOKS_03_04["03.1"][1][2]).message
    assert "ReLU" in checks.run_check("04.1", NOTEBOOKS_03_04["04.1"][1][0]).message
    assert "Conv2d and Linear layers" in checks.run_check("04.1", NOTEBOOKS_03_04["04.1"][1][1]).message
    assert "do not average" in checks.run_check("04.2", NOTEBOOKS_03_04["04.2"][1][0]).message
    assert "overflows" in checks.run_check("04.2", NOTEBOOKS_03_04["04.2"][1][1]).message


@pytest.mark.parametrize("seed", [checks.PUBLIC_SEED, 1, 2])
def test_gap_share_accepts_another_percentile_convention(seed):
    ex = checks.get("04.5")
    assert checks.evaluate(ex, checks.LocalAnswer(_gap_share_nearest_rank), seed).passed


# ---- notebook 05: the variational autoencoder ------------------------------------------------------------------------

def reparameterize(mean, logvar, eps):
    return mean + torch.exp(0.5 * logvar) * eps


def gaussian_kl(mean_q, logvar_q, mean_p, logvar_p):
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mean_q - mean_p) ** 2) / logvar_p.exp() - 1).sum(dim=1)


def kl_to_prior(mean, logvar):
    return gaussian_kl(mean, logvar, torch.zeros_like(mean), torch.zeros_like(logvar))


def elbo(x, logits, mean, logvar):
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)
    return -bce - kl_to_prior(mean, logvar)


def elbo_gap(log_px_z, log_pz, log_qz):
    log_posterior = torch.log_softmax(log_px_z + log_pz, dim=1)
    return (log_qz.exp() * (log_qz - log_posterior)).sum(1)


def best_elbo(betas, rates, distortions):
    elbos = [-(r + d) for r, d in zip(rates, distortions)]
    return betas[elbos.index(max(elbos))], max(elbos)


def iwae_estimate(log_px_z, log_pz, log_qz):
    return torch.logsumexp(log_px_z + log_pz - log_qz, dim=1) - np.log(log_px_z.shape[1])


def classifier_score(probs):
    marginal = probs.mean(0, keepdim=True)
    kl = (torch.special.xlogy(probs, probs) - torch.special.xlogy(probs, marginal)).sum(1)
    return kl.mean().exp()


NOTEBOOK_05 = {
    "05.1": (reparameterize, [
        lambda mean, logvar, eps: mean + torch.exp(logvar) * eps,                     # variance, not std
        lambda mean, logvar, eps: (mean + torch.exp(0.5 * logvar) * eps).detach(),     # no gradient path
    ]),
    "05.2": (gaussian_kl, [
        lambda mq, lq, mp, lp: gaussian_kl(mq, lq, mp, lp).sum(),                      # summed over the batch
        lambda mq, lq, mp, lp: gaussian_kl(mq, lq, mp, lp) + 0.5 * mq.shape[1],        # forgot the -1
        lambda mq, lq, mp, lp: gaussian_kl(mp, lp, mq, lq),                            # KL(p ‖ q)
        lambda mq, lq, mp, lp: kl_to_prior(mq - mp, lq),                               # p's variance ignored
    ]),
    "05.3": (elbo, [
        lambda x, logits, mean, logvar: -elbo(x, logits, mean, logvar),                # the loss, not the ELBO
        lambda x, logits, mean, logvar: -torch.nn.functional.binary_cross_entropy_with_logits(
            logits, x, reduction="none").flatten(1).mean(dim=1) - kl_to_prior(mean, logvar),  # mean over pixels
    ]),
    "05.4": (iwae_estimate, [
        lambda a, b, c: (a + b - c).mean(dim=1),                                       # the ELBO, not IWAE
        lambda a, b, c: torch.log(torch.exp(a + b - c).mean(dim=1)),                   # underflows to -inf
    ]),
    "05.5": (classifier_score, [
        lambda p: classifier_score(p).log(),                                           # the mean KL, no exp
        lambda p: (p * (p.log() - p.mean(0).log())).sum(1).mean().exp(),               # 0 log 0 gives NaN
        lambda p: (p.mean(0) * (p.mean(0).log() - p.clamp_min(1e-12).log())).sum(1).mean().exp(),  # KL reversed
        lambda p: p.max(1).values.mean(),                                              # mean confidence
        lambda p: torch.exp(-torch.special.xlogy(p.mean(0), p.mean(0)).sum()),          # variety only
        lambda p: classifier_score(p.T),                                               # classes as samples
    ]),
    "05.7": (best_elbo, [
        lambda b, r, d: (b[d.index(min(d))], -(r[d.index(min(d))] + d[d.index(min(d))])),  # lowest distortion
        lambda b, r, d: (b[r.index(min(r))], -(r[r.index(min(r))] + d[r.index(min(r))])),  # lowest rate
        lambda b, r, d: (lambda loss: (b[loss.index(min(loss))], -min(loss)))(             # lowest D + beta R
            [y + beta * x for beta, x, y in zip(b, r, d)]),
    ]),
    "05.6": (elbo_gap, [
        lambda a, b, c: -elbo_gap(a, b, c),                                            # the sign
        lambda a, b, c: (c.exp() * (a + b - c)).sum(1),                                # the ELBO itself
        lambda a, b, c: (c.exp() * (c - ((a + b).exp() / (a + b).exp().sum(1, keepdim=True)).log())).sum(1),  # exp
    ]),
}


def test_notebook_05_check_messages_say_what_went_wrong():
    detached = checks.run_check("05.1", NOTEBOOK_05["05.1"][1][1])
    assert "grad_fn" in detached.message
    underflow = checks.run_check("05.4", NOTEBOOK_05["05.4"][1][1])
    assert "logsumexp" in underflow.message


# ---- notebook 06: faces, morphing and attribute vectors ----

def attribute_vector(z, has_attribute):
    return z[has_attribute].mean(0) - z[~has_attribute].mean(0)


def slerp_answer(a, b, t):
    omega = torch.arccos((a @ b) / (a.norm() * b.norm()))
    return torch.sin((1 - t) * omega) / torch.sin(omega) * a + torch.sin(t * omega) / torch.sin(omega) * b


def apply_vector(z, direction, strengths):
    return z[:, None, :] + strengths[None, :, None] * direction


def diversity(images):
    flat = images.flatten(1)
    n = len(flat)
    return (torch.cdist(flat, flat) / flat.shape[1] ** 0.5).sum() / (n * (n - 1))


NOTEBOOK_06 = {
    "06.1": (attribute_vector, [
        lambda z, has: z[~has].mean(0) - z[has].mean(0),                                  # sign flipped
        lambda z, has: z[has].sum(0) - z[~has].sum(0),                                    # sums, not means
        lambda z, has: z[has].mean(0) - z.mean(0),                                        # minus the overall mean
    ]),
    "06.2": (slerp_answer, [
        lambda a, b, t: (1 - t) * a + t * b,                                              # lerp
        lambda a, b, t: slerp_answer(a / a.norm(), b / b.norm(), t),                      # drops the lengths
        lambda a, b, t: slerp_answer(a, b, 1 - t),                                        # t backwards
    ]),
    "06.3": (apply_vector, [
        lambda z, d, s: (z[None] + s[:, None, None] * d),                                 # (k, n, d)
        lambda z, d, s: (z + d)[:, None, :].expand(-1, len(s), -1),                       # ignores strengths
    ]),
    "06.4": (diversity, [
        lambda im: (torch.cdist(im.flatten(1), im.flatten(1)) / im[0].numel() ** 0.5).mean(),  # self-pairs too
        lambda im: (torch.cdist(im.flatten(1), im.flatten(1)) ** 2).sum() / im[0].numel()
        / (len(im) * (len(im) - 1)),                                                       # squared
        lambda im: diversity(im) * im[0].numel() ** 0.5,                                   # Euclidean, not RMS
        lambda im: (im - im.mean(0)).pow(2).flatten(1).mean(1).sqrt().mean(),               # from the mean image
        lambda im: im.std(0).mean(),                                                       # spread per pixel
    ]),
}


def test_notebook_06_check_messages_say_what_went_wrong():
    assert "sign" in checks.run_check("06.1", NOTEBOOK_06["06.1"][1][0]).message
    assert "straight line" in checks.run_check("06.2", NOTEBOOK_06["06.2"][1][0]).message
    assert "(n, k, d)" in checks.run_check("06.3", NOTEBOOK_06["06.3"][1][0]).message


# ---- predictions and interpretations ------------------------------------------------------------------------------

def code_for_classification(codes):
    return max(codes, key=lambda name: codes[name]["probe_accuracy"])


def unit_activity(rates, threshold):
    return (rates < threshold).nonzero().flatten().tolist(), bool((rates < threshold).all())


JUDGEMENTS = {
    "01.5": ("generate", ["nature", "copier", "gan"]),
    "03.4": (80, [10, 784, None]),
    "02.10": (237, [784, 2, 100]),
    "02.11": ("yes", ["no", "maybe"]),
    "02.12": (0.4, [0.0, 0.9]),
    "04.6": (0.7, [0.05, 0.3, 74]),
    "06.5": (0.7, [1.0, 0.5, "0.7"]),
    "03.5": (code_for_classification, [
        lambda codes: min(codes, key=lambda name: codes[name]["reconstruction_error"]),   # reconstructs best
        lambda codes: max(codes, key=lambda name: codes[name]["latent_dim"]),             # the largest code
    ]),
    "06.6": (unit_activity, [
        lambda r, t: ((r >= t).nonzero().flatten().tolist(), bool((r < t).all())),       # the active ones
        lambda r, t: ((r < t).nonzero().flatten().tolist(), bool((r < t).any())),        # some inactive
        lambda r, t: (r < t).nonzero().flatten().tolist(),                                # no collapse verdict
    ]),
}


def test_a_prediction_is_read_as_a_value_and_graded_without_showing_the_measurement():
    assert checks.run_check("04.6", ...).status == NOT_DONE  # the exercise notebook's blank
    blank = checks.run_check("04.6", ...).message
    assert "Replace the `...` with your prediction" in blank and "Hint" not in blank  # no hint before the guess
    assert checks.run_check("04.6", 0.74).passed and checks.run_check("01.5", "  Generate ").passed
    unknown = checks.run_check("01.5", "gan").message
    assert "'copier', 'generate', 'nature'" in unknown
    wrong = checks.run_check("04.6", 0.3).message
    assert "within 0.15 of what the course measured" in wrong and "0.74" not in wrong
    assert "one number" in checks.run_check("06.5", "0.7").message
    with pytest.raises(ExerciseNotPassed, match="not done yet"):
        check("03.4", ...)


def test_prediction_report_says_what_was_predicted_and_measured():
    assert checks.prediction_report(0.7, 0.7071) == "you predicted 0.7; measured 0.707"
    assert checks.prediction_report(..., "generate") == "you predicted nothing yet; measured generate"
    assert checks.prediction_report(80, 67) == "you predicted 80; measured 67"


def test_interpretation_checks_name_the_tempting_mistake():
    assert "reconstructs best" in checks.run_check("03.5", JUDGEMENTS["03.5"][1][0]).message
    assert "active units" in checks.run_check("06.6", JUDGEMENTS["06.6"][1][0]).message
    assert "NO unit is active" in checks.run_check("06.6", JUDGEMENTS["06.6"][1][1]).message


# ---- every lesson exercise: the reference passes, a stub is not done, each wrong answer fails ---------------------

ANSWERS = {**NOTEBOOK_01, **NOTEBOOK_02, **NOTEBOOKS_03_04, **NOTEBOOK_05, **NOTEBOOK_06, **JUDGEMENTS}


# what a failed check says to a plausible wrong answer of each judgement exercise: (key, wrong answer, words)
JUDGEMENT_MESSAGES = [
    ("01.4", 0, "squared distances"), ("01.4", 1, "not with the samples"),
    ("02.5", 0, "natural logarithm"), ("02.5", 2, "too large for a float"), ("02.6", 0, "shares of the points"),
    ("02.7", 0, "not one for the whole image"), ("02.7", 1, "width axis"), ("02.7", 4, "0/0 is NaN"),
    ("02.7", 5, "compared with itself"), ("02.8", 1, "not a count"),
    ("03.3", 0, "Off by one"), ("03.3", 1, "SQUARE"),
    ("04.4", 0, "outside it"), ("04.4", 2, "training codes"), ("04.4", 5, "independently"), ("04.5", 1, "TEST points"),
    ("05.5", 0, "its exponential"), ("05.5", 1, "0 · log 0"),
    ("05.2", 2, "other way round"), ("05.6", 0, "never negative"), ("05.6", 1, "the ELBO itself"),
    ("05.6", 2, "underflows"), ("02.9", 1, "E step"),
    ("05.7", 0, "pays for it in rate"), ("05.7", 1, "distorts the most"), ("05.7", 2, "different scales"),
    ("06.4", 0, "with itself"), ("06.4", 2, "Euclidean"),
]


@pytest.mark.parametrize("key, index, words", JUDGEMENT_MESSAGES)
def test_judgement_exercises_say_what_went_wrong(key, index, words):
    assert words in checks.run_check(key, ANSWERS[key][1][index]).message


def test_every_lesson_exercise_has_a_reference_and_wrong_answers_here():
    assert set(ANSWERS) == {key for key in checks.EXERCISES if not key.startswith("00.")}


@pytest.mark.parametrize("key", sorted(ANSWERS))
def test_checks_pass_the_reference_and_fail_stubs_and_wrong_answers(key):
    reference, wrong_answers = ANSWERS[key]
    torch.manual_seed(0)
    assert checks.run_check(key, reference).status == PASSED, checks.run_check(key, reference).message
    assert checks.run_check(key, not_done if callable(reference) else ...).status == NOT_DONE
    for index, wrong in enumerate(wrong_answers):
        result = checks.run_check(key, wrong)
        assert result.status == FAILED, f"{key} accepted wrong answer {index}"
        assert "tried:" in result.message or "raised" in result.message


@pytest.mark.parametrize("seed", [1, 2**40 + 7])
def test_the_references_pass_and_wrong_answers_fail_on_the_graders_secret_inputs_too(seed):
    """The grader draws inputs from a secret seed: every reference must pass and every wrong answer fail with it."""
    references = {**{key: (ref, WARMUP_WRONG[key]) for key, ref in
                     [("00.1", _mean_image), ("00.2", _binarise), ("00.3", _on_fraction)]}, **ANSWERS}
    for key, (reference, wrong_answers) in references.items():
        ex = checks.get(key)
        result = checks.evaluate(ex, checks.LocalAnswer(reference), seed)
        assert result.passed, result.message
        for index, wrong in enumerate(wrong_answers):
            assert checks.evaluate(ex, checks.LocalAnswer(wrong), seed).status == FAILED, f"{key} wrong answer {index}"


def test_a_complex_answer_is_refused_not_cut_to_its_real_part():
    """Red-team finding: np.complex128(0.74 + 100j) passed prediction 04.6, and a complex64 result passed 00.3,
    because the comparison cast to float64 and dropped the imaginary part."""
    assert checks.as_number(np.complex128(0.74 + 100j)) is None and checks.as_number(0.74) == 0.74
    assert checks.as_number(torch.tensor(0.75, dtype=torch.bfloat16)) == 0.75  # a real number NumPy cannot hold
    with pytest.raises(CheckFailure) as failed:
        checks.expect_close(torch.ones(3, dtype=torch.complex64) + 5j, torch.ones(3), tried="t")
    assert "not complex" in failed.value.hint
    assert checks.run_check("04.6", np.complex128(0.74 + 100j)).points == 0


def test_a_list_of_long_strings_is_refused_before_any_array_of_them_is_built():
    """Red-team finding: the comparison called np.asarray(answer) with no dtype, so a sandboxed answer of
    ["x" * 200_000] + [""] * 5_000 (215 kB on the channel) made the grader's own process allocate 4.8 GB."""
    import tracemalloc
    strings = ["x" * 10**5] + [""] * 10**3
    tracemalloc.start()
    try:
        assert checks.as_number(strings) is None
        with pytest.raises(CheckFailure):
            checks.expect_close(strings, torch.ones(len(strings)), tried="t")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6, f"{peak / 1e6:.0f} MB to refuse 100 kB of strings"
    assert checks.as_number(10**400) is None and checks.as_number(None) is None  # neither a number nor a crash
    assert "Hint" not in checks.run_check("04.6", 10**400).message


@pytest.mark.parametrize("key", ["02.7", "04.2", "05.6"])
def test_a_check_that_computes_with_the_answer_refuses_a_complex_one(key):
    """Red-team finding: checks that converted the answer with torch.as_tensor(..., dtype=float) passed a complex
    answer whose real part is right (02.7 and 04.2 did, in a real grading)."""
    right = ANSWERS[key][0]  # this file's own right answer (course_lib's reference is refused as an answer)
    assert checks.run_check(key, right).passed
    complex_answer = lambda *args, **kwargs: right(*args, **kwargs).to(torch.complex128) + 1j  # noqa: E731
    assert not checks.run_check(key, complex_answer).passed

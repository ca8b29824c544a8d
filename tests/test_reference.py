"""course_lib.reference: every exercise has an answer that passes its own check, and yours_or_reference uses the
learner's function while it works and the reference only where it raises NotImplementedError, saying which."""
import pytest
import torch

from course_lib import checks
from course_lib.reference import REFERENCES, yours_or_reference


def test_there_is_one_reference_for_every_registered_exercise():
    assert sorted(REFERENCES) == sorted(checks.EXERCISES)


@pytest.mark.parametrize("key", sorted(REFERENCES))
def test_each_reference_passes_its_exercises_check(key):
    # evaluated directly: the references are course_lib's own, which `check` refuses from a learner by design
    result = checks.evaluate(checks.get(key), checks.LocalAnswer(REFERENCES[key]))
    assert result.passed, result.message


def test_a_blank_answer_falls_back_on_the_reference_and_says_so_once(capsys):
    calls = []

    def binarise(images, threshold=0.5):
        calls.append(threshold)
        raise NotImplementedError("a pixel is on when ...")

    used = yours_or_reference("00.2", binarise)
    assert calls == [] and capsys.readouterr().out == ""  # calls nothing until used
    x = torch.tensor([[0.2, 0.7]])
    assert torch.equal(used(x), torch.tensor([[0.0, 1.0]])) and torch.equal(used(x, 0.1), torch.ones(1, 2))
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "[00.2] your `binarise` raised NotImplementedError" in out
    assert "course_lib.reference.binarise" in out
    assert calls == [0.5]  # once it has fallen back, it does not call the blank answer again


def test_a_working_answer_is_used_and_named(capsys):
    used = yours_or_reference("00.2", lambda images, threshold=0.5: images * 0 + 7)
    assert torch.equal(used(torch.zeros(2)), torch.full((2,), 7.0))
    used(torch.zeros(2))
    assert capsys.readouterr().out == "[00.2] using your `<lambda>`.\n"


def test_a_reference_taken_from_another_module_is_named_where_it_lives(capsys):
    def reconstruction_loss(logits, x):
        raise NotImplementedError

    yours_or_reference("04.2", reconstruction_loss)(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2))
    assert "course_lib.models.bernoulli_nll" in capsys.readouterr().out


def test_other_errors_of_the_learners_answer_are_not_hidden():
    def broken(images, threshold=0.5):
        raise ValueError("my own bug")

    with pytest.raises(ValueError, match="my own bug"):
        yours_or_reference("00.2", broken)(torch.zeros(2))


def test_bad_arguments_say_what_to_pass():
    with pytest.raises(KeyError, match="no reference answer for exercise '09.9'"):
        yours_or_reference("09.9", print)
    with pytest.raises(TypeError, match="pass your function itself"):
        yours_or_reference("00.2", torch.zeros(2))

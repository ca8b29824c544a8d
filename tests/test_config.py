import random

import numpy as np
import pytest
import torch

from course_lib import config


@pytest.mark.parametrize("value, expected", [("1", True), ("0", False), ("", False), ("true", True)])
def test_is_fast_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_FAST", value)
    assert config.is_fast() is expected


def test_is_fast_rejects_an_unclear_value(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "maybe")
    with pytest.raises(ValueError, match="COURSE_FAST"):
        config.is_fast()


def test_pick_follows_fast_mode(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    assert config.pick(full=10, fast=1) == 1
    monkeypatch.delenv("COURSE_FAST")
    assert config.pick(full=10, fast=1) == 10


def test_get_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(config, "_mps_available", lambda: False)
    assert config.get_device() == torch.device("cpu")
    monkeypatch.setattr(config, "_mps_available", lambda: True)
    assert config.get_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.get_device() == torch.device("cuda")


def test_get_device_override_and_environment(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert config.get_device() == torch.device("cpu")
    monkeypatch.delenv("COURSE_DEVICE")
    assert config.get_device("cpu") == torch.device("cpu")


def test_get_device_explains_a_missing_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no cuda device.*Available here: cpu"):
        config.get_device("cuda")
    with pytest.raises(ValueError, match="not a device name"):
        config.get_device("gpu please")


def test_seed_makes_runs_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3), torch.nn.Linear(4, 2).weight.detach().clone()

    config.seed(5)
    first = draw()
    config.seed(5)
    second = draw()
    assert first[0] == second[0] and first[1] == second[1]
    assert torch.equal(first[2], second[2]) and torch.equal(first[3], second[3])
    config.seed(6)
    assert not torch.equal(draw()[2], first[2])


def test_seed_rejects_bad_values():
    with pytest.raises(ValueError, match="seed n="):
        config.seed(-1)

"""The drawn stand-in: repeatable, consistent attributes, and attributes that show in the pixels."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from course_lib import celeba, standin


def test_faces_are_canvas_sized_and_repeat_for_a_seed():
    first = list(standin.draw_faces(4, celeba.ATTRIBUTE_NAMES, seed=2))
    again = list(standin.draw_faces(4, celeba.ATTRIBUTE_NAMES, seed=2))
    other = list(standin.draw_faces(4, celeba.ATTRIBUTE_NAMES, seed=3))
    assert standin.CANVAS == celeba.ALIGNED_SIZE  # cropped exactly like CelebA's aligned images
    assert all(image.size == standin.CANVAS and image.mode == "RGB" for _, image in first)
    pixels = lambda faces: [np.asarray(image) for _, image in faces]
    assert all(np.array_equal(a, b) for a, b in zip(pixels(first), pixels(again)))
    assert [a for a, _ in first] == [a for a, _ in again] != [a for a, _ in other]


def test_attributes_are_consistent_with_each_other():
    rng = np.random.default_rng(0)
    faces = [standin.sample_attributes(rng, celeba.ATTRIBUTE_NAMES) for _ in range(3000)]
    assert all(set(a) == set(celeba.ATTRIBUTE_NAMES) for a in faces)
    hair = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")
    for a in faces:
        assert sum(a[colour] for colour in hair) <= 1 and not (a["Bald"] and any(a[c] for c in hair))
        assert not a["Bald"] or a["Male"]
        assert a["No_Beard"] or a["Male"]
        assert not (a["Goatee"] or a["Mustache"]) or not a["No_Beard"]
        assert not (a["Wearing_Lipstick"] and a["Male"]) and not (a["Bangs"] and a["Bald"])
    for name, rate in [("Smiling", 0.5), ("Eyeglasses", 0.3), ("Attractive", 0.5)]:  # Attractive: a coin
        assert abs(np.mean([a[name] for a in faces]) - rate) < 0.04, name
    with pytest.raises(KeyError):
        standin.sample_attributes(rng, ["Smiling"])  # the drawing needs the attributes it draws


def test_standin_attributes_are_visible_in_the_pixels(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    faces = celeba.load_celeba(root=celeba.make_standin_celeba(tmp_path / "s", n=200, seed=0), size=32)
    grey = faces.as_float().mean(1)  # (200, 32, 32)

    def region_gap(name, rows, cols):
        mask = faces.attribute(name)
        assert 20 < mask.sum() < 180, name  # both groups are well represented
        region = grey[:, rows, cols].mean((1, 2))
        return (region[mask].mean() - region[~mask].mean()).item()

    eyes, mouth = (slice(14, 20), slice(9, 24)), (slice(23, 29), slice(11, 21))
    assert region_gap("Eyeglasses", *eyes) < -0.05  # dark frames over the eyes
    assert region_gap("Smiling", *mouth) > 0.05  # white teeth in the mouth region
    assert abs(region_gap("Smiling", *eyes)) < 0.03  # a smile does not change the eyes
    # A linear classifier on the pixels tells glasses and smiles apart on faces it has not seen.
    x = faces.as_float().flatten(1)
    for name in ("Eyeglasses", "Smiling", "Male", "Blond_Hair"):
        y = faces.attribute(name).float()
        w = torch.linalg.lstsq(torch.cat([x[:150], torch.ones(150, 1)], 1), y[:150, None] * 2 - 1,
                               driver="gelsd").solution
        predicted = torch.cat([x[150:], torch.ones(50, 1)], 1) @ w > 0
        assert (predicted.squeeze(1) == y[150:].bool()).float().mean() > 0.8, name


def test_the_drawing_module_imports_nothing_else_of_the_course():
    script = ("import sys, course_lib.standin; "
              "print(sorted(m for m in sys.modules if m.startswith('course_lib')))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['course_lib', 'course_lib.standin']"

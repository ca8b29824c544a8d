"""Exercise checks of notebook 00, the warm-up on image tensors (how to write one: see course_lib.checks)."""
from __future__ import annotations

import torch

from course_lib.checks import Answer, AnswerRaised, CheckFailure, exercise, expect_close, inputs_after, part


@exercise("00.1", "the mean image of one class", answer="mean_image", points=2,
          hint="select the images of class `label` with a boolean mask, average them over the batch axis so that "
               "one (1, H, W) image remains, and raise a ValueError when the class has no images",
          more="comparing the labels tensor with a number gives the mask; indexing images with it keeps those "
               "images; .mean(dim=...) over axis 0 averages them; len(...) counts what was kept")
def _test_mean_image(answer: Answer, rng: torch.Generator) -> None:
    images, labels = torch.rand(6, 1, 3, 5, generator=rng), torch.tensor([0, 1, 0, 2, 0, 1])
    with part("the mean of each class of a mixed batch (labels 0, 1 and 2)", weight=2):
        for label in (0, 1, 2):
            tried = f"mean_image(images of shape (6, 1, 3, 5), labels={labels.tolist()}, label={label})"
            got = answer(images, labels, label, tried=tried)
            expect_close(got, images[labels == label].mean(dim=0), tried=tried)
    with part("a batch whose images all have the label"):
        images = torch.rand(4, 1, 28, 28, generator=rng)
        tried = "mean_image(4 images of shape (1, 28, 28), labels=[7, 7, 7, 7], label=7)"
        expect_close(answer(images, torch.full((4,), 7), 7, tried=tried), images.mean(dim=0), tried=tried)
    with part("a ValueError for a class with no images, and only for it"):
        images, labels = torch.rand(6, 1, 4, 4, generator=rng), torch.tensor([0, 1, 0, 2, 0, 1])
        tried = "mean_image(images, labels=[0, 1, 0, 2, 0, 1], label=2), a class with one image"
        expect_close(answer(images, labels, 2, tried=tried), images[3], tried=tried)
        tried = "mean_image(images, labels=[0, 1, 0, 2, 0, 1], label=5), a class with no images"
        try:
            got = answer(images, labels, 5, tried=tried)
        except AnswerRaised as err:
            if err.raised("ValueError"):
                return
            got = err.got
        raise CheckFailure(tried, "a ValueError saying that no image has label 5", got,
                           "an empty class has no mean; raise ValueError(...) with a message naming the label")


def _at_threshold(rng: torch.Generator, images: int, pixels: int) -> tuple[float, torch.Tensor]:
    """A threshold k/1024 in [1/4, 3/4] and `images` images of `pixels` (>= 2) pixels, each the threshold or 1/8 on
    either side of it (all exact in float32): the first pixel of each image exactly the threshold, the second above
    it; shape (images, 1, 1, pixels). Drawn from some 10^5 or more possible inputs, not a few: an answer that
    recorded the public check's inputs must not find these in its table."""
    threshold = int(torch.randint(256, 769, (1,), generator=rng)) / 1024
    offsets = torch.randint(-1, 2, (images, pixels), generator=rng)
    offsets[:, :2] = torch.tensor([0, 1])
    return threshold, (threshold + offsets / 8).float().reshape(images, 1, 1, pixels)


@exercise("00.2", "binarise images at a threshold", answer="binarise",
          hint="a pixel is on (1.0) when it is strictly brighter than the threshold and off (0.0) otherwise; "
               "return a new float tensor of the same shape",
          more="the comparison operators work on every element of a tensor and give booleans; the tensor method "
               ".float() turns them into 0.0 and 1.0")
def _test_binarise(answer: Answer, rng: torch.Generator) -> None:
    images = torch.rand(3, 1, 4, 4, generator=rng)

    def threshold_case(threshold: float) -> None:
        tried = f"binarise(3 random images of shape (1, 4, 4), threshold={threshold})"
        got = answer(images, threshold, tried=tried)
        if not isinstance(got, torch.Tensor) or got.dtype != torch.float32:
            raise CheckFailure(tried, "a float32 tensor", got if not isinstance(got, torch.Tensor) else got.dtype,
                               "convert the boolean mask with .float()")
        expect_close(got, (images > threshold).float(), tried=tried)

    for threshold in (0.5, 0.2):
        with part(f"threshold {threshold}"):
            threshold_case(threshold)
    with part("thresholds 0.0 and 1.0 (every pixel on, every pixel off)"):
        threshold_case(0.0)
        threshold_case(1.0)
    with part("a pixel equal to the threshold is off"):
        threshold, edge = _at_threshold(rng, 1, 8)
        tried = (f"binarise(pixels {edge.flatten().tolist()}, threshold={threshold}): a pixel equal to the "
                 "threshold is off")
        expect_close(answer(edge, threshold, tried=tried), (edge > threshold).float(), tried=tried,
                     hint="a pixel is on only when it is strictly brighter than the threshold")
    with part("a new tensor: the input is left unchanged"):
        tried = "binarise(images, 0.5), then looking at `images` again"
        after = answer.probe(inputs_after, images, 0.5, tried="binarise(images, 0.5)")
        if not isinstance(after, dict) or not isinstance(after.get("args"), list) \
                or not isinstance(after["args"][0], torch.Tensor) or not torch.equal(after["args"][0], images):
            raise CheckFailure(tried, "images unchanged", "images modified in place",
                               "return a new tensor; do not write into the input")
        expect_close(after["result"], (images > 0.5).float(), tried=tried)


@exercise("00.3", "the fraction of 'on' pixels in each image", answer="on_fraction",
          hint="binarise first, then average over every axis except the batch axis: one number per image",
          more="your binarise, then .mean(dim=...) with a tuple naming the channel, height and width axes")
def _test_on_fraction(answer: Answer, rng: torch.Generator) -> None:
    images = torch.rand(5, 1, 6, 6, generator=rng)
    for threshold in (0.5, 0.9):
        with part(f"random images, threshold {threshold}"):
            tried = f"on_fraction(5 random images of shape (1, 6, 6), threshold={threshold})"
            got = answer(images, threshold, tried=tried)
            expect_close(got, (images > threshold).float().mean(dim=(1, 2, 3)), tried=tried)
    with part("all-black and all-white images"):
        white = torch.randint(0, 2, (8,), generator=rng).float()
        white[:2] = torch.tensor([0.0, 1.0])  # both kinds, so that no constant answer passes
        blank = white.reshape(8, 1, 1, 1).expand(8, 1, 3, 3).contiguous()
        threshold = int(torch.randint(103, 922, (1,), generator=rng)) / 1024  # drawn: a table of inputs misses it
        tried = (f"on_fraction(3x3 images, all-white (1) or all-black (0): {white.int().tolist()}, "
                 f"threshold={threshold})")
        expect_close(answer(blank, threshold, tried=tried), white, tried=tried)
    with part("pixels equal to the threshold are off"):
        threshold, edge = _at_threshold(rng, 2, 4)
        edge = edge.reshape(2, 1, 2, 2)
        tried = f"on_fraction(2x2 images {edge.flatten(1).tolist()}, threshold={threshold})"
        expect_close(answer(edge, threshold, tried=tried), (edge > threshold).float().mean(dim=(1, 2, 3)),
                     tried=tried, hint="a pixel equal to the threshold is off: on means strictly brighter, as in "
                                       "binarise")
    with part("a batch of one image keeps its batch axis"):
        tried = "on_fraction(one image of shape (1, 28, 28), threshold=0.5): the answer still has one entry per image"
        single = torch.rand(1, 1, 28, 28, generator=rng)
        expect_close(answer(single, 0.5, tried=tried), (single > 0.5).float().mean(dim=(1, 2, 3)), tried=tried,
                     hint="keep the batch axis: reduce over the channel, height and width axes only")

import math

import pytest
import torch

from course_lib.latent import attribute_vector, classifier_pixels, grid_values, lerp, slerp


def test_lerp_endpoints_midpoint_and_shapes():
    a, b = torch.tensor([0.0, 2.0]), torch.tensor([4.0, -2.0])
    assert torch.equal(lerp(a, b, 0.0), a) and torch.equal(lerp(a, b, 1.0), b)
    assert torch.allclose(lerp(a, b, 0.5), torch.tensor([2.0, 0.0]))
    path = lerp(a, b, torch.linspace(0, 1, 5))
    assert path.shape == (5, 2) and torch.equal(path[0], a) and torch.equal(path[-1], b)


def test_slerp_endpoints_and_orthogonal_midpoint():
    a, b = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-6) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-6)
    half = 1 / math.sqrt(2)
    assert torch.allclose(slerp(a, b, 0.5), torch.tensor([half, half, 0.0]), atol=1e-6)
    assert not torch.allclose(lerp(a, b, 0.5), slerp(a, b, 0.5))  # lerp cuts the corner: norm 0.71


def test_slerp_keeps_the_norm_of_equal_norm_vectors_and_lerp_does_not():
    torch.manual_seed(0)
    a, b = torch.randn(64), torch.randn(64)
    b = b / b.norm() * a.norm()
    t = torch.linspace(0, 1, 11)
    assert torch.allclose(slerp(a, b, t).norm(dim=1), a.norm().expand(11), rtol=1e-5)
    assert lerp(a, b, 0.5).norm() < 0.9 * a.norm()


def test_slerp_batches_and_parallel_vectors():
    a, b = torch.randn(4, 8), torch.randn(4, 8)
    out = slerp(a, b, torch.full((4,), 0.3))
    assert out.shape == (4, 8)
    assert torch.allclose(out[2], slerp(a[2], b[2], 0.3), atol=1e-5)
    v = torch.tensor([1.0, 2.0])
    assert torch.allclose(slerp(v, 2 * v, 0.5), 1.5 * v)  # parallel: falls back to lerp, no NaN


def test_slerp_decides_row_by_row_in_a_mixed_batch():
    """One parallel row must not turn the other rows of the batch into straight lines."""
    a = torch.tensor([[1.0, 0.0, 0.0], [1.0, 2.0, 0.0], [0.0, 3.0, 0.0]])
    b = torch.tensor([[0.0, 1.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 3.0]])  # row 1 is parallel to a's row 1
    out = slerp(a, b, 0.5)
    half = 1 / math.sqrt(2)
    assert torch.allclose(out[0], torch.tensor([half, half, 0.0]), atol=1e-6)  # on the unit circle
    assert torch.allclose(out[1], torch.tensor([1.5, 3.0, 0.0]), atol=1e-6)    # the straight line
    assert torch.allclose(out[2], torch.tensor([0.0, 3 * half, 3 * half]), atol=1e-6)
    for i in range(3):  # the same as each row on its own, for several t
        for t in (0.0, 0.25, 1.0):
            assert torch.allclose(slerp(a, b, t)[i], slerp(a[i], b[i], t), atol=1e-6)
    assert torch.isfinite(out).all()


def test_slerp_refuses_anti_parallel_and_zero_rows_and_names_them():
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    b = torch.tensor([[0.0, 1.0], [-2.0, -2.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match=r"zero.*rows \[2\]"):
        slerp(a, b, 0.5)
    with pytest.raises(ValueError, match=r"opposite directions.*rows \[1\]"):
        slerp(a[:2], b[:2], 0.5)
    with pytest.raises(ValueError, match="opposite directions"):
        slerp(torch.tensor([1.0, 2.0]), torch.tensor([-1.0, -2.0]), 0.5)


def test_bad_inputs_name_the_parameter():
    with pytest.raises(ValueError, match="a and b"):
        lerp(torch.zeros(3), torch.zeros(4), 0.5)
    with pytest.raises(ValueError, match="non-zero"):
        slerp(torch.zeros(3), torch.ones(3), 0.5)
    with pytest.raises(ValueError, match="grid_values='spiral'"):
        grid_values(5, grid_values="spiral")
    with pytest.raises(ValueError, match="extent"):
        grid_values(5, grid_values="quantiles", extent=(-1, 1))
    with pytest.raises(ValueError, match="n=1"):
        grid_values(1)


def test_grid_values_linear_and_normal_quantiles():
    assert torch.allclose(grid_values(5), torch.tensor([-3.0, -1.5, 0.0, 1.5, 3.0]))
    q = grid_values(4, grid_values="quantiles")
    normal = torch.distributions.Normal(0.0, 1.0)
    assert torch.allclose(normal.cdf(q), torch.tensor([0.125, 0.375, 0.625, 0.875]), atol=1e-6)
    assert torch.allclose(q, -q.flip(0), atol=1e-6)


def test_attribute_vector_is_the_difference_of_group_means():
    z = torch.tensor([[1.0, 0.0], [3.0, 2.0], [0.0, 0.0], [0.0, 4.0], [0.0, 2.0]])
    has = torch.tensor([True, True, False, False, False])
    assert torch.allclose(attribute_vector(z, has), torch.tensor([2.0, -1.0]))
    # a shift shared by every code cancels; a shift of only the faces with the attribute is recovered
    assert torch.allclose(attribute_vector(z + 5.0, has), torch.tensor([2.0, -1.0]))
    shifted = z.clone()
    shifted[has] += torch.tensor([0.0, 10.0])
    assert torch.allclose(attribute_vector(shifted, has), torch.tensor([2.0, 9.0]))


def test_attribute_vector_bad_inputs_name_the_parameter():
    z = torch.randn(4, 3)
    with pytest.raises(ValueError, match="all True"):
        attribute_vector(z, torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="all False"):
        attribute_vector(z, torch.zeros(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="bool"):
        attribute_vector(z, torch.tensor([1, 0, 1, 0]))
    with pytest.raises(ValueError, match="has_attribute"):
        attribute_vector(z, torch.tensor([True, False]))


def test_classifier_pixels_are_2x2_block_means_in_channel_row_column_order():
    images = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4) / 96
    features = classifier_pixels(images)
    assert features.shape == (2, 3 * 2 * 2)
    block = images[1, 2, 2:4, 0:2]  # image 1, channel 2, bottom-left block: feature 2 * 4 + 1 * 2 + 0
    assert features[1, 10] == pytest.approx(block.mean().item())
    with pytest.raises(ValueError, match=r"\(n, C, H, W\)"):
        classifier_pixels(images[0])

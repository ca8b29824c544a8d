"""Draw the autoencoder and VAE diagrams of notebooks 04 and 05 into this folder:

    PYTHONPATH=$PWD python images/make_diagrams.py

Writes images/04_autoencoder.png and images/05_vae.png. The pictures are schematic: boxes for the networks,
small squares for the numbers passed between them, one real Fashion-MNIST test image as the input x (binarised
for the VAE, as in notebook 05) and the same grey image, smoothed, standing for a reconstruction (blurrier than
its input) or for the decoder's pixel probabilities.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from matplotlib.patches import FancyArrowPatch, Polygon, Rectangle  # noqa: E402

from course_lib import density  # noqa: E402
from course_lib.data import load_fashion_mnist  # noqa: E402

FOLDER = Path(__file__).resolve().parent
BLUE, ORANGE, GREEN, GREY = "#dbe8f6", "#fbe3c8", "#dff1dc", "#eeeeee"


def _image(ax, image: torch.Tensor, x: float, y: float, size: float, label: str) -> None:
    """Draw a (28, 28) image with its lower-left corner at (x, y), and a label under it."""
    ax.imshow(image.numpy(), cmap="gray", vmin=0, vmax=1, extent=(x, x + size, y, y + size), zorder=2)
    ax.add_patch(Rectangle((x, y), size, size, fill=False, lw=1))
    ax.text(x + size / 2, y - 0.25, label, ha="center", va="top", fontsize=9)


def _network(ax, x0: float, x1: float, wide: float, narrow: float, y: float, narrowing: bool, text: str) -> None:
    """A trapezoid from x0 to x1 centred on height y: wide -> narrow (an encoder) or narrow -> wide (a decoder)."""
    left, right = (wide, narrow) if narrowing else (narrow, wide)
    corners = [(x0, y - left / 2), (x1, y - right / 2), (x1, y + right / 2), (x0, y + left / 2)]
    ax.add_patch(Polygon(corners, closed=True, facecolor=ORANGE, edgecolor="k", lw=1))
    ax.text((x0 + x1) / 2, y, text, ha="center", va="center", fontsize=9)


def _box(ax, x: float, y: float, w: float, h: float, text: str, colour: str, fontsize: int = 9) -> None:
    ax.add_patch(Rectangle((x, y - h / 2), w, h, facecolor=colour, edgecolor="k", lw=1))
    ax.text(x + w / 2, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], style: str = "-|>") -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, lw=1.2, color="k"))


def _canvas(width: float, height: float, title: str):
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set(xlim=(0, width * 2), ylim=(0, height * 2), aspect="equal")
    ax.axis("off")
    ax.set_title(title, fontsize=11)
    return fig, ax


def draw_autoencoder(x: torch.Tensor, x_hat: torch.Tensor) -> plt.Figure:
    fig, ax = _canvas(9, 3.2, "The autoencoder: a deterministic encoder and decoder, trained to reconstruct")
    y = 3.4
    _image(ax, x, 0.3, y - 1, 2, "input x\n(28 × 28 pixels)")
    _network(ax, 2.8, 6.2, 3.0, 0.9, y, True, "encoder\n(conv layers)")
    _box(ax, 6.7, y, 1.8, 1.0, "z\n(2 numbers)", GREEN)
    _network(ax, 9.0, 12.4, 3.0, 0.9, y, False, "decoder\n(transposed\nconv layers)")
    _image(ax, x_hat, 13.0, y - 1, 2, "reconstruction x̂\n(pixel values in [0, 1])")
    for start, end in [((2.3, y), (2.8, y)), ((6.2, y), (6.7, y)), ((8.5, y), (9.0, y)), ((12.4, y), (13.0, y))]:
        _arrow(ax, start, end)
    ax.text(8.0, 0.35, "loss: how far x̂ is from x (binary cross-entropy or squared error, summed over pixels)",
            ha="center", fontsize=9)
    _arrow(ax, (1.3, 1.35), (1.3, 0.75), "-")
    _arrow(ax, (14.0, 1.35), (14.0, 0.75), "-")
    return fig


def draw_vae(x: torch.Tensor, x_hat: torch.Tensor) -> plt.Figure:
    x = density.binarize(x, seed=density.TEST_SEED)  # the VAE of notebook 05 models binary pixels
    fig, ax = _canvas(10, 3.9, "The variational autoencoder: the encoder outputs a distribution q(z | x)")
    y = 4.6
    _image(ax, x, 0.3, y - 1, 2, "input x\n(binary pixels)")
    _network(ax, 2.8, 5.8, 3.0, 1.6, y, True, "encoder")
    _box(ax, 6.4, y + 0.55, 1.5, 0.8, "μ(x)", GREEN)
    _box(ax, 6.4, y - 0.55, 1.5, 0.8, "log σ²(x)", GREEN)
    _box(ax, 8.7, y, 2.6, 1.0, "z = μ + σ ⊙ ε", BLUE)
    _box(ax, 8.7, y - 2.2, 2.6, 0.8, "ε ~ N(0, I)", GREY)
    _network(ax, 12.0, 15.0, 3.0, 1.0, y, False, "decoder")
    _image(ax, x_hat, 15.8, y - 1, 2, "p(x | z): a probability\nfor every pixel")
    for start, end in [((2.3, y), (2.8, y)), ((5.8, y + 0.4), (6.4, y + 0.55)), ((5.8, y - 0.4), (6.4, y - 0.55)),
                       ((7.9, y + 0.55), (8.7, y + 0.2)), ((7.9, y - 0.55), (8.7, y - 0.2)),
                       ((10.0, y - 1.8), (10.0, y - 0.5)), ((11.3, y), (12.0, y)), ((15.0, y), (15.8, y))]:
        _arrow(ax, start, end)
    ax.text(9.0, 0.75, "loss = reconstruction  −log p(x | z)   +   KL( q(z | x)  ‖  N(0, I) )   = −ELBO",
            ha="center", fontsize=10)
    ax.text(9.0, 0.2, "the noise ε sits outside the network, so gradients reach μ and log σ² (reparameterisation)",
            ha="center", fontsize=8.5, style="italic")
    return fig


def main() -> None:
    x = load_fashion_mnist("test").as_float()[0, 0]  # an ankle boot
    x_hat = F.avg_pool2d(F.pad(x[None, None], (1, 1, 1, 1), mode="replicate"), 3, stride=1)[0, 0]
    for name, draw in [("04_autoencoder.png", draw_autoencoder), ("05_vae.png", draw_vae)]:
        fig = draw(x, x_hat)
        fig.savefig(FOLDER / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        print("wrote", FOLDER / name)


if __name__ == "__main__":
    main()

"""Pictures for the notebooks: image grids, latent scatter plots, decoded latent grids, 2-D densities and loss
curves; and the package's one PNG encoder (`png_bytes`, used by `to_png` and the widgets).

Every plotting function draws into `ax=` when given one (so that two plots can sit side by side) or else makes
its own figure, and returns the Axes. Images are tensors `(n, C, H, W)`, C = 1 (grey) or 3 (RGB), either uint8
in 0..255 or float in [0, 1]. Grey images are drawn white-on-black, the way the pixel values read (1 = white).

Decoders: the functions that decode latent points take `model`, a model with a `decode` method (e.g. a trained
VAE), a bound method such as `model.decode`, a module that is itself a decoder, or any function
z (n, d) -> images (n, C, H, W) in [0, 1]. With a model (or its bound method) they decode on its device and warn
when it is in training mode; a plain function or lambda is called as it is, on the CPU.
"""
from __future__ import annotations

import io
import textwrap
import warnings
from typing import Callable, Sequence, Union

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from course_lib import validate
from course_lib.latent import grid_values as _grid_values

Decoder = Callable[[torch.Tensor], torch.Tensor]  # z: (n, d) float32 -> images (n, C, H, W) in [0, 1]
DecoderSource = Union[torch.nn.Module, Decoder]  # a model with .decode, a bound method, or a decode function


def decoder_of(model: DecoderSource, *, stacklevel: int = 3) -> tuple[Decoder, torch.device]:
    """The decode function behind `model` and the device it computes on (see the module docstring).

    Warns when the model is in training mode (layers such as dropout and batch norm behave differently there);
    the default stacklevel points the warning at the line that called the function that calls decoder_of.
    """
    if isinstance(model, torch.nn.Module) and callable(getattr(model, "decode", None)):
        decode = model.decode
    elif callable(model):
        decode = model
    else:
        raise TypeError(f"model must be a model with a decode method (e.g. a trained VAE) or a function "
                        f"z (n, d) -> images (n, C, H, W); got a {type(model).__name__}.")
    owner = getattr(decode, "__self__", decode)
    if not isinstance(owner, torch.nn.Module):
        return decode, torch.device("cpu")
    if owner.training:
        warnings.warn("The model behind decode is in training mode; call model.eval() first so that layers such as "
                      "dropout and batch norm behave as at test time.", stacklevel=stacklevel)
    device = next((t.device for t in [*owner.parameters(), *owner.buffers()]), torch.device("cpu"))
    return decode, device


def as_images(images: torch.Tensor | np.ndarray, *, name: str = "images") -> torch.Tensor:
    """Check `images` and return them as float32 `(n, C, H, W)` in [0, 1] on the CPU.

    Accepts `(n, C, H, W)` or one image `(C, H, W)`, C = 1 or 3, uint8 (0..255) or float in [0, 1]
    (the rules of `validate.images`).
    """
    x = torch.as_tensor(images).detach().cpu()
    x = validate.images(x[None] if x.ndim == 3 else x, name)
    if x.shape[1] not in (1, 3):
        raise ValueError(f"{name} must have C = 1 (grey) or 3 (RGB) channels to be shown; got shape "
                         f"{tuple(torch.as_tensor(images).shape)}.")
    return x.float() / 255 if x.dtype == torch.uint8 else x.float().clamp(0, 1)


def png_bytes(picture: Image.Image) -> bytes:
    """The PNG file of a Pillow image, fast to write (low compression): the package's one PNG encoder."""
    buffer = io.BytesIO()
    picture.save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def render(fig: Figure) -> Image.Image:
    """Draw a matplotlib figure (at its own dpi) into an RGB Pillow image."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return Image.fromarray(np.asarray(canvas.buffer_rgba())[:, :, :3].copy())


def to_png(image: torch.Tensor, *, scale: int = 4) -> bytes:
    """PNG bytes of one image `(C, H, W)` or `(1, C, H, W)`, enlarged `scale` times with nearest-neighbour.

    Fast (well under a millisecond for 28 x 28): the widgets call it on every slider move.
    """
    scale = validate.whole_number(scale, "scale", maximum=32, hint="screen pixels per image pixel")
    x = as_images(image, name="image")
    if x.shape[0] != 1:
        raise ValueError(f"image must be a single image (C, H, W); got a batch of {x.shape[0]}.")
    pixels = (x[0] * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    picture = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    return png_bytes(picture)


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _tile(x: torch.Tensor, nrow: int, pad: int) -> np.ndarray:
    """Images (n, C, H, W) -> one (rows * (H + pad) - pad, ...) array, `nrow` images per row, white padding."""
    n, c, h, w = x.shape
    rows = -(-n // nrow)
    canvas = torch.ones(c, rows * (h + pad) - pad, nrow * (w + pad) - pad)
    for i in range(n):
        r, k = divmod(i, nrow)
        canvas[:, r * (h + pad):r * (h + pad) + h, k * (w + pad):k * (w + pad) + w] = x[i]
    return canvas.permute(1, 2, 0).numpy()


def _imshow(ax: Axes, canvas: np.ndarray) -> None:
    if canvas.shape[2] == 1:
        ax.imshow(canvas[:, :, 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(canvas, interpolation="nearest")


def show_images(images: torch.Tensor | np.ndarray, *, title: str, nrow: int | None = None,
                row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
                xlabel: str | None = None, ylabel: str = "", size: float = 1.0, ax: Axes | None = None) -> Axes:
    """Show images `(n, C, H, W)` as a grid, `nrow` per row (default: up to 10), under `title`.

    row_labels / col_labels name each row / column; `xlabel` says what the grid shows (default: how many images
    of what size), `ylabel` what the rows are. `size`: inches per image when a new figure is made.
    """
    x = as_images(images)
    n, _, h, w = x.shape
    nrow = validate.whole_number(nrow, "nrow", hint="images per row") if nrow is not None else min(n, 10)
    rows = -(-n // nrow)
    if row_labels is not None and len(row_labels) != rows:
        raise ValueError(f"row_labels has {len(row_labels)} labels but the grid has {rows} rows.")
    if col_labels is not None and len(col_labels) != min(nrow, n):
        raise ValueError(f"col_labels has {len(col_labels)} labels but the grid has {min(nrow, n)} columns.")
    pad = max(1, h // 14)
    ax = _axes(ax, (size * nrow + (1.0 if row_labels is not None else 0.3), size * rows + 0.8))
    _imshow(ax, _tile(x, nrow, pad))
    ax.set_xticks([k * (w + pad) + w / 2 - 0.5 for k in range(len(col_labels))] if col_labels else [],
                  list(col_labels or []))
    ax.set_yticks([r * (h + pad) + h / 2 - 0.5 for r in range(rows)] if row_labels else [], list(row_labels or []))
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title)
    ax.set_xlabel(xlabel if xlabel is not None else f"{n} image{'s' * (n != 1)}, {h} × {w} pixels each")
    ax.set_ylabel(ylabel)
    return ax


def plot_latent(z: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray | None = None, *, title: str,
                classes: Sequence[str] | None = None, max_points: int = 5000, ax: Axes | None = None) -> Axes:
    """Scatter 2-D latent points `z: (n, 2)`, coloured by integer `labels: (n,)` with a legend of `classes`.

    At most `max_points` points are drawn (an evenly spaced subset), so that the plot stays readable.
    """
    z = torch.as_tensor(z).detach().cpu().float()
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"z must have shape (n, 2) for a 2-D latent map; got {tuple(z.shape)}. For a larger latent "
                         f"space, project first (e.g. pass z[:, :2] or its PCA).")
    if labels is not None:
        labels = torch.as_tensor(labels).detach().cpu()
        if labels.shape != (len(z),):
            raise ValueError(f"labels must have shape ({len(z)},), one per point of z; got {tuple(labels.shape)}.")
    if classes is not None and labels is None:
        raise ValueError("classes names the labels, so it needs labels as well.")
    max_points = validate.whole_number(max_points, "max_points")
    keep = torch.linspace(0, len(z) - 1, min(max_points, len(z))).long()
    ax = _axes(ax, (6.5, 5.0))
    if labels is None:
        ax.scatter(z[keep, 0], z[keep, 1], s=4, alpha=0.6)
    else:
        for value in labels.unique().tolist():
            mask = labels[keep] == value
            name = classes[value] if classes is not None and 0 <= value < len(classes) else str(value)
            ax.scatter(z[keep][mask, 0], z[keep][mask, 1], s=4, alpha=0.6, label=name,
                       color=plt.get_cmap("tab10")(int(value) % 10))
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), markerscale=3, frameon=False, fontsize=8)
    ax.set_title(title)
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    return ax


def plot_decoded_grid(model: DecoderSource, *, n: int = 15, grid_values: str = "linear",
                      extent: tuple[float, float] | None = None, title: str = "Images decoded over the latent plane",
                      size: float = 6.0, ax: Axes | None = None) -> Axes:
    """Decode an n x n grid of 2-D latent points and show the images where their points lie.

    model: a model of a 2-D latent space, or its decode function (see the module docstring).
    grid_values: "linear" (evenly over `extent`, default (-3, 3)) or "quantiles" (quantiles of N(0, 1), each
    cell holding equal prior probability). Columns follow z[0] left to right, rows z[1] bottom to top.
    """
    decode, device = decoder_of(model)
    values = _grid_values(n, grid_values=grid_values, extent=extent)
    z1, z0 = torch.meshgrid(values.flip(0), values, indexing="ij")  # top row: largest z[1]
    points = torch.stack([z0.reshape(-1), z1.reshape(-1)], dim=1)
    try:
        with torch.inference_mode():
            images = decode(points.to(device))
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"decode failed on latent points of shape {tuple(points.shape)}: plot_decoded_grid needs a "
                         f"decoder of a 2-D latent space. ({err})") from err
    x = as_images(images, name="decode(z)")
    h, w = x.shape[2:]
    ax = _axes(ax, (size, size + 0.5))
    _imshow(ax, _tile(x, n, 0))
    step = max(1, n // 6)
    ticks = list(range(0, n, step))
    ax.set_xticks([k * w + w / 2 - 0.5 for k in ticks], [f"{values[k]:.2g}" for k in ticks])
    ax.set_yticks([r * h + h / 2 - 0.5 for r in ticks], [f"{values.flip(0)[r]:.2g}" for r in ticks])
    ax.set_title(title)
    ax.set_xlabel("z[0]" + (" (normal quantiles)" if grid_values == "quantiles" else ""))
    ax.set_ylabel("z[1]" + (" (normal quantiles)" if grid_values == "quantiles" else ""))
    return ax


def plot_density_2d(log_density: Callable[[torch.Tensor], torch.Tensor], *, title: str,
                    xlim: tuple[float, float] = (-4.5, 4.5), ylim: tuple[float, float] = (-4, 4),
                    points: torch.Tensor | None = None, labels: torch.Tensor | None = None, grid: int = 120,
                    levels: int = 12, ax: Axes | None = None) -> Axes:
    """Filled contours of the density exp(log_density(x)) over the box xlim x ylim, with a colour bar.

    log_density: maps points (m, 2) float32 to log densities (m,), e.g. `model.score_samples`.
    points: (n, 2) drawn on top, coloured by `labels` (n,) when given. grid: evaluation points per axis.
    """
    xlim, ylim = validate.interval(xlim, "xlim"), validate.interval(ylim, "ylim")
    grid = validate.whole_number(grid, "grid", minimum=2, hint="points per axis")
    levels = validate.whole_number(levels, "levels", hint="contour levels")
    xs, ys = np.linspace(*xlim, grid), np.linspace(*ylim, grid)
    mesh = torch.tensor(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2), dtype=torch.float32)
    with torch.no_grad():
        log_p = torch.as_tensor(log_density(mesh)).detach().cpu().double()
    if log_p.shape != (grid * grid,):
        raise ValueError(f"log_density must map points (m, 2) to log densities (m,); for m = {grid * grid} it "
                         f"returned shape {tuple(log_p.shape)}.")
    ax = _axes(ax, (6.0, 4.5))
    filled = ax.contourf(xs, ys, log_p.exp().reshape(grid, grid).numpy(), levels=levels, cmap="Blues")
    ax.figure.colorbar(filled, ax=ax, label="density p(x)")
    if points is not None:
        points = torch.as_tensor(points).detach().cpu()
        style = {"c": "tab:gray"} if labels is None else {"c": np.asarray(labels), "cmap": "coolwarm"}
        ax.scatter(points[:, 0], points[:, 1], s=6, alpha=0.7, edgecolors="none", **style)
    ax.set(xlim=xlim, ylim=ylim, xlabel="$x_1$", ylabel="$x_2$", title=title)
    return ax


def plot_history(history, *, title: str = "Loss during training", ax: Axes | None = None) -> Axes:
    """Loss per epoch of a training History (`train_loss`, `test_loss` lists, `loss_name`)."""
    for field in ("train_loss", "test_loss", "loss_name"):
        if not hasattr(history, field):
            raise ValueError(f"history must have train_loss, test_loss and loss_name (a training History); "
                             f"it has no {field!r}.")
    if len(history.train_loss) == 0:
        raise ValueError("history.train_loss is empty: train for at least one epoch before plotting.")
    ax = _axes(ax, (6.0, 4.0))
    epochs = range(1, len(history.train_loss) + 1)
    marker = "o" if len(history.train_loss) <= 30 else None
    ax.plot(epochs, history.train_loss, marker=marker, label="train")
    if len(history.test_loss):
        ax.plot(range(1, len(history.test_loss) + 1), history.test_loss, marker=marker, label="test")
    ax.legend(frameon=False)
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(textwrap.fill(history.loss_name, 32))  # the full name says the reduction; wrap it
    ax.xaxis.get_major_locator().set_params(integer=True)
    return ax


"""Pictures for the notebooks: image grids, latent scatter plots, decoded latent grids and loss curves.

Every function draws into `ax=` when given one (so that two plots can sit side by side) or else makes its own
figure, and returns the Axes. Images are tensors `(n, C, H, W)`, C = 1 (grey) or 3 (RGB), either uint8 in
0..255 or float in [0, 1]. Grey images are drawn white-on-black, the way the pixel values read (1 = white).
"""
from __future__ import annotations

import io
import textwrap
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from PIL import Image

from course_lib.latent import grid_values as _grid_values

Decoder = Callable[[torch.Tensor], torch.Tensor]  # z: (n, d) float32 -> images (n, C, H, W) in [0, 1]


def as_images(images: torch.Tensor | np.ndarray, *, name: str = "images") -> torch.Tensor:
    """Check `images` and return them as float32 `(n, C, H, W)` in [0, 1] on the CPU.

    Accepts `(n, C, H, W)` or one image `(C, H, W)`, C = 1 or 3, uint8 (0..255) or float in [0, 1].
    """
    x = torch.as_tensor(images).detach().cpu()
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[1] not in (1, 3) or 0 in x.shape:
        raise ValueError(f"{name} must have shape (n, C, H, W) or (C, H, W) with C = 1 (grey) or 3 (RGB); "
                         f"got {tuple(torch.as_tensor(images).shape)}.")
    if x.dtype == torch.uint8:
        return x.float() / 255
    if not x.is_floating_point():
        raise ValueError(f"{name} must be uint8 (0..255) or float in [0, 1]; got dtype {x.dtype}.")
    x = x.float()
    low, high = x.min().item(), x.max().item()
    if not (low >= -1e-3 and high <= 1 + 1e-3):  # also catches NaN
        raise ValueError(f"{name} must lie in [0, 1]; got values from {low:.3g} to {high:.3g}. Images in "
                         f"[-1, 1] can be shown as (x + 1) / 2; logits as torch.sigmoid(x).")
    return x.clamp(0, 1)


def to_png(image: torch.Tensor, *, scale: int = 4) -> bytes:
    """PNG bytes of one image `(C, H, W)` or `(1, C, H, W)`, enlarged `scale` times with nearest-neighbour.

    Fast (well under a millisecond for 28 x 28): the widgets call it on every slider move.
    """
    if not isinstance(scale, int) or not 1 <= scale <= 32:
        raise ValueError(f"scale={scale!r} must be a whole number from 1 to 32 (pixels per image pixel).")
    x = as_images(image, name="image")
    if x.shape[0] != 1:
        raise ValueError(f"image must be a single image (C, H, W); got a batch of {x.shape[0]}.")
    pixels = (x[0] * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    picture = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


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
    nrow = nrow if nrow is not None else min(n, 10)
    if not isinstance(nrow, int) or nrow < 1:
        raise ValueError(f"nrow={nrow!r} must be a whole number of images per row, at least 1.")
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


def plot_decoded_grid(decode: Decoder, *, n: int = 15, grid_values: str = "linear",
                      extent: tuple[float, float] | None = None, title: str = "Images decoded over the latent plane",
                      size: float = 6.0, ax: Axes | None = None) -> Axes:
    """Decode an n x n grid of 2-D latent points and show the images where their points lie.

    grid_values: "linear" (evenly over `extent`, default (-3, 3)) or "quantiles" (quantiles of N(0, 1), each
    cell holding equal prior probability). Columns follow z[0] left to right, rows z[1] bottom to top.
    """
    values = _grid_values(n, grid_values=grid_values, extent=extent)
    z1, z0 = torch.meshgrid(values.flip(0), values, indexing="ij")  # top row: largest z[1]
    points = torch.stack([z0.reshape(-1), z1.reshape(-1)], dim=1)
    try:
        with torch.inference_mode():
            images = decode(points.to(_device_of(decode)))
    except RuntimeError as err:
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


def _device_of(decode: Decoder) -> torch.device:
    """The device of the model behind `decode` (a Module or its bound method), else the CPU."""
    owner = getattr(decode, "__self__", decode)
    if isinstance(owner, torch.nn.Module):
        for parameter in owner.parameters():
            return parameter.device
    return torch.device("cpu")

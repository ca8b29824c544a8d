"""Interactive explorers of a decoder's latent space, built from core ipywidgets only.

Each function takes `model`: a trained model (its `decode` method is used; pass the model itself, or
`model.decode`, so that the widget decodes on the model's device and warns when it is in training mode), or any
function `decode(z: (n, d) float32) -> (n, C, H, W) in [0, 1]` (called as it is, on the CPU). It checks its
arguments once and returns an object that displays itself in a notebook (put it last in a cell):

    latent_sliders(model, latent_dim)          one slider per latent coordinate
    latent_map(model, z, labels)               a point chosen on the scatter of the latent codes z: (n, 2)
    interpolation(model, z_start, z_end)       morph from one latent point to another, linear or spherical
    attribute_slider(model, z, direction)      add `strength * direction` to a latent point

How they stay fast: moving a control decodes one point under torch.inference_mode, turns it into PNG bytes with
Pillow (`viz.to_png`, nearest-neighbour enlarged) and sets the `value` of the same `ipywidgets.Image`: no
matplotlib, no new widgets, so the picture changes in place without flicker. The callbacks are plain methods
(`set(...)`), so tests and notebooks can drive them without a mouse.

Display: the output holds the widget view, a static `image/png` figure and a `text/plain` line. JupyterLab with
jupyterlab_widgets (and VS Code, Colab) render the widget view (in JupyterLab its renderer ranks -10, ahead of
images); an untrusted notebook in JupyterLab, a front end without a widget manager, and nbconvert HTML of a
notebook saved without widget state show the PNG instead of `VBox(...)`. Set COURSE_STATIC_WIDGETS=1 to emit only
the static figure (e.g. for slides or exported HTML).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Sequence

import ipywidgets
import torch
from matplotlib.figure import Figure
from PIL import ImageDraw

from course_lib import validate, viz
from course_lib.latent import lerp, slerp
from course_lib.viz import Decoder, DecoderSource

METHODS = ("linear", "slerp")


def static_only() -> bool:
    """True when COURSE_STATIC_WIDGETS=1: widgets display as static figures only."""
    return os.environ.get("COURSE_STATIC_WIDGETS", "0").strip().lower() in ("1", "true", "yes", "on")


def _png_of(fig: Figure) -> bytes:
    return viz.png_bytes(viz.render(fig))


def _scale(scale: int | None) -> int | None:
    if scale is None:
        return None
    return validate.whole_number(scale, "scale", maximum=32, hint="screen pixels per image pixel, or None for "
                                 "automatic")


class DecoderWidget:
    """What every explorer shares: one decoded image, updated in place, and a static fallback.

    Explorers are built by the functions below (latent_sliders, ...), which check every argument once; the
    classes take the checked values: `decode` and its `device` from viz.decoder_of, and the scale."""

    def __init__(self, decode: Decoder, device: torch.device, *, scale: int | None, title: str) -> None:
        self.decode, self._device, self.scale, self.title = decode, device, scale, title
        # flex-start: beside a taller column of controls the image keeps its shape instead of being stretched
        self.image_widget = ipywidgets.Image(format="png", layout=ipywidgets.Layout(align_self="flex-start"))
        self.image_widget.add_class("course-decoded-image")
        self.image: torch.Tensor | None = None  # the decoded image on show, (C, H, W) in [0, 1]
        self.widget: ipywidgets.Box | None = None  # set by subclasses: the whole control panel
        self._holding = False

    def update(self, change=None) -> None:
        """Callback of every control: decode the point the controls describe."""
        if not self._holding:
            self._show(self.z)

    @contextmanager
    def _moving_together(self) -> Iterator[None]:
        """Set several controls from code, then decode once."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        self.update()

    def decode_points(self, z: torch.Tensor) -> torch.Tensor:
        """Decode latent points (n, d) -> checked images (n, C, H, W) in [0, 1] on the CPU."""
        with torch.inference_mode():
            images = self.decode(z.to(self._device))
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[0] != z.shape[0]:
            raise ValueError(f"decode(z) must return images (n, C, H, W) for z of shape {tuple(z.shape)}; got "
                             f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}.")
        return images.detach().cpu()

    def _show(self, z: torch.Tensor) -> None:
        """The hot path: decode one point (d,) and put its PNG into the same Image widget.

        One point is too small a job to share between CPU threads: with several, a busy machine can make every
        update wait tens of milliseconds for a descheduled thread, so it is decoded on one thread.
        """
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            self.image = self.decode_points(z[None])[0]
        finally:
            torch.set_num_threads(threads)
        self.image_widget.value = self._png(self.image)

    def _png(self, image: torch.Tensor) -> bytes:
        if self.scale is None:  # automatic: about 200 screen pixels across
            self.scale = max(1, 200 // max(image.shape[-2:]))
        return viz.to_png(image, scale=self.scale)

    @property
    def image_bytes(self) -> bytes:
        """PNG bytes of the image on show."""
        return self.image_widget.value

    def _panel(self, kind: str, children: list) -> ipywidgets.VBox:
        """The whole control panel, with CSS classes by which tests and style sheets find it in the page."""
        return ipywidgets.VBox(children).add_class("course-latent-widget").add_class(f"course-{kind}")

    def _header(self, text: str) -> ipywidgets.HTML:
        return ipywidgets.HTML(f"<b>{self.title}</b><br><span style='font-size:90%'>{text}</span>")

    def static_png(self) -> bytes:
        """A static picture of what the widget explores, for front ends that cannot show widgets."""
        raise NotImplementedError  # every explorer below draws its own

    def describe(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = {} if static_only() else self.widget._repr_mimebundle_()
        bundle["text/plain"] = self.describe() + "\n(an interactive widget; this front end shows a static picture)"
        bundle["image/png"] = self.static_png()
        return bundle


class LatentSliders(DecoderWidget):
    """Sliders for some latent coordinates; the others stay at `start`. See `latent_sliders`."""

    def __init__(self, decode: Decoder, device: torch.device, start: torch.Tensor, dims: list[int],
                 value_range: tuple[float, float], *, scale: int | None, title: str) -> None:
        super().__init__(decode, device, scale=scale, title=title)
        self.start, self.dims, self.value_range = start, dims, value_range
        low, high = value_range
        self.sliders = [ipywidgets.FloatSlider(value=float(start[i]), min=low, max=high, step=(high - low) / 200,
                                               description=f"z[{i}]", readout_format=".2f") for i in dims]
        for slider in self.sliders:
            slider.observe(self.update, names="value")
        self.widget = self._panel("latent-sliders", [
            self._header("Each slider sets one coordinate of the latent point; the decoder draws its image."),
            ipywidgets.HBox([ipywidgets.VBox(self.sliders), self.image_widget])])
        self.update()

    @property
    def z(self) -> torch.Tensor:
        """The latent point on show, (d,)."""
        z = self.start.clone()
        z[self.dims] = torch.tensor([slider.value for slider in self.sliders])
        return z

    def set(self, values: Sequence[float]) -> None:
        """Move all sliders at once (values in the order of `dims`) and decode once."""
        if len(values) != len(self.sliders):
            raise ValueError(f"values has {len(values)} numbers but there are {len(self.sliders)} sliders.")
        with self._moving_together():
            for slider, value in zip(self.sliders, values):
                slider.value = float(value)

    def static_png(self) -> bytes:
        steps = 7
        values = torch.linspace(*self.value_range, steps)
        shown = self.dims[:8]
        points = self.z.repeat(len(shown) * steps, 1)
        for row, i in enumerate(shown):
            points[row * steps:(row + 1) * steps, i] = values
        fig = Figure(figsize=(steps * 0.9 + 1.2, len(shown) * 0.9 + 1.0), dpi=80, layout="constrained")
        more = f" (first {len(shown)} of {len(self.dims)} sliders)" if len(shown) < len(self.dims) else ""
        viz.show_images(self.decode_points(points), title=f"{self.title}: one slider at a time{more}", nrow=steps,
                        row_labels=[f"z[{i}]" for i in shown], col_labels=[f"{v:.1f}" for v in values],
                        xlabel="value of the moved coordinate", ylabel="coordinate moved", ax=fig.add_subplot())
        return _png_of(fig)

    def describe(self) -> str:
        return (f"latent_sliders: {len(self.dims)} sliders over {self.value_range}, "
                f"z = {[round(v, 2) for v in self.z.tolist()[:8]]}{' ...' if len(self.start) > 8 else ''}")


def latent_sliders(model: DecoderSource, latent_dim: int, *, value_range: tuple[float, float] = (-3.0, 3.0),
                   start: torch.Tensor | None = None, dims: Sequence[int] | None = None, scale: int | None = None,
                   title: str = "Decoding one latent point") -> LatentSliders:
    """One slider per latent coordinate (or per coordinate in `dims`); the image is the model's decode(z).

    start: (latent_dim,) the point the sliders start from (default: the origin); coordinates without a slider
    keep their `start` value. scale: screen pixels per image pixel.
    """
    decode, device = viz.decoder_of(model)
    latent_dim = validate.whole_number(latent_dim, "latent_dim")
    value_range = validate.interval(value_range, "value_range")
    start = torch.zeros(latent_dim) if start is None else validate.latent_point(start, "start", dim=latent_dim)
    dims = list(range(latent_dim)) if dims is None else [
        validate.whole_number(i, f"dims[{k}]", minimum=0, maximum=latent_dim - 1) for k, i in enumerate(dims)]
    if not dims or len(set(dims)) != len(dims):
        raise ValueError(f"dims={dims!r} must list distinct coordinates from 0 to {latent_dim - 1}.")
    if len(dims) > 32:
        raise ValueError(f"{len(dims)} sliders are too many to use; pass dims=[...] with at most 32 coordinates.")
    return LatentSliders(decode, device, start, dims, value_range, scale=_scale(scale), title=title)


class LatentMap(DecoderWidget):
    """A marker on the pre-drawn scatter of latent codes, moved by two sliders. See `latent_map`."""

    def __init__(self, decode: Decoder, device: torch.device, z: torch.Tensor, labels: torch.Tensor | None,
                 classes: Sequence[str] | None, *, max_points: int, scale: int | None, title: str) -> None:
        super().__init__(decode, device, scale=scale, title=title)
        self.z_data, self.labels, self.classes, self.max_points = z, labels, classes, max_points
        fig = self._scatter_figure()
        self._map = viz.render(fig)  # pixels and the data -> pixel transform now come from the same drawing
        ax = fig.axes[0]
        (x_low, x_high), (y_low, y_high) = ax.get_xlim(), ax.get_ylim()
        (px0, py0), (px1, py1) = ax.transData.transform([(x_low, y_low), (x_high, y_high)])  # from bottom left
        height = self._map.height
        self._to_pixel = lambda x, y: (px0 + (x - x_low) / (x_high - x_low) * (px1 - px0),
                                       height - (py0 + (y - y_low) / (y_high - y_low) * (py1 - py0)))
        self.map_widget = ipywidgets.Image(format="png").add_class("course-map-image")
        start = z.median(dim=0).values
        self.x_slider = ipywidgets.FloatSlider(value=float(start[0]), min=x_low, max=x_high,
                                               step=(x_high - x_low) / 200, description="z[0]", readout_format=".2f")
        self.y_slider = ipywidgets.FloatSlider(value=float(start[1]), min=y_low, max=y_high,
                                               step=(y_high - y_low) / 200, description="z[1]", readout_format=".2f")
        for slider in (self.x_slider, self.y_slider):
            slider.observe(self.update, names="value")
        self.widget = self._panel("latent-map", [
            self._header("Move z[0] and z[1] to place the red cross; the right image is the decoder's output there."),
            ipywidgets.HBox([ipywidgets.VBox([self.map_widget, self.x_slider, self.y_slider]), self.image_widget])])
        self.update()

    def _scatter_figure(self) -> Figure:
        fig = Figure(figsize=(5.6, 4.2), dpi=80, layout="constrained")
        viz.plot_latent(self.z_data, self.labels, classes=self.classes, title="Latent codes of the data",
                        max_points=self.max_points, ax=fig.add_subplot())
        return fig

    @property
    def z(self) -> torch.Tensor:
        """The chosen latent point, (2,)."""
        return torch.tensor([self.x_slider.value, self.y_slider.value])

    def update(self, change=None) -> None:
        """Callback of both sliders: move the marker and decode the chosen point."""
        if self._holding:
            return
        x, y = self._to_pixel(self.x_slider.value, self.y_slider.value)
        picture = self._map.copy()
        draw = ImageDraw.Draw(picture)
        draw.line([(x - 9, y), (x + 9, y)], fill=(220, 0, 0), width=3)
        draw.line([(x, y - 9), (x, y + 9)], fill=(220, 0, 0), width=3)
        self.map_widget.value = viz.png_bytes(picture)
        self._show(self.z)

    def set(self, x: float, y: float) -> None:
        """Choose the point (x, y) from code, decoding once."""
        with self._moving_together():
            self.x_slider.value, self.y_slider.value = float(x), float(y)

    def static_png(self) -> bytes:
        fig = Figure(figsize=(8.0, 4.0), dpi=80, layout="constrained")
        scatter, decoded = fig.subplots(1, 2, width_ratios=[1.6, 1])  # room for the title over the image
        viz.plot_latent(self.z_data, self.labels, classes=self.classes, title="Latent codes of the data",
                        max_points=self.max_points, ax=scatter)
        scatter.plot(*self.z.tolist(), marker="X", markersize=14, color="red", markeredgecolor="white")
        viz.show_images(self.image, title="Decoded at the red cross",
                        xlabel=f"z = ({self.x_slider.value:.2f}, {self.y_slider.value:.2f})", ax=decoded)
        fig.suptitle(self.title)
        return _png_of(fig)

    def describe(self) -> str:
        return f"latent_map of {len(self.z_data)} points, chosen point z = {[round(v, 2) for v in self.z.tolist()]}"


def latent_map(model: DecoderSource, z: torch.Tensor, labels: torch.Tensor | None = None, *,
               classes: Sequence[str] | None = None, max_points: int = 3000, scale: int | None = None,
               title: str = "Choose a point in the latent space") -> LatentMap:
    """The scatter of latent codes `z: (n, 2)` (coloured by `labels`) with a marker you move by two sliders;
    the image beside it is the model's decode at the marker. The scatter is drawn once; only the marker moves."""
    decode, device = viz.decoder_of(model)
    z = torch.as_tensor(z).detach().cpu().float()
    if z.ndim != 2 or z.shape[1] != 2 or len(z) == 0 or not torch.isfinite(z).all():
        raise ValueError(f"z must be finite latent codes of shape (n, 2); got {tuple(z.shape)}. For d > 2 use "
                         f"latent_sliders, or map a 2-D projection.")
    max_points = validate.whole_number(max_points, "max_points")
    return LatentMap(decode, device, z, labels, classes, max_points=max_points, scale=_scale(scale), title=title)


class Interpolation(DecoderWidget):
    """A slider t from z_start (t = 0) to z_end (t = 1), linear or spherical. See `interpolation`."""

    def __init__(self, decode: Decoder, device: torch.device, z_start: torch.Tensor, z_end: torch.Tensor,
                 method: str, methods: tuple[str, ...], steps: int, *, scale: int | None, title: str) -> None:
        super().__init__(decode, device, scale=scale, title=title)
        self.z_start, self.z_end, self.methods, self.steps = z_start, z_end, methods, steps
        ends = self.decode_points(torch.stack([z_start, z_end]))
        self.start_widget = ipywidgets.Image(value=self._png(ends[0]), format="png")
        self.end_widget = ipywidgets.Image(value=self._png(ends[1]), format="png")
        self.t_slider = ipywidgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=1 / steps, description="t",
                                               readout_format=".2f")
        self.method_buttons = ipywidgets.ToggleButtons(options=list(methods), value=method, description="path")
        for control in (self.t_slider, self.method_buttons):
            control.observe(self.update, names="value")
        labelled = [ipywidgets.VBox([ipywidgets.Label(text), image]) for text, image in
                    (("start (t = 0)", self.start_widget), ("at t", self.image_widget),
                     ("end (t = 1)", self.end_widget))]
        self.widget = self._panel("interpolation", [
            self._header("t moves from the start point (0) to the end point (1); 'slerp' follows a great circle."),
            ipywidgets.HBox(labelled), self.t_slider, self.method_buttons])
        self.update()

    @property
    def z(self) -> torch.Tensor:
        """The latent point on show, (d,)."""
        path = lerp if self.method_buttons.value == "linear" else slerp
        return path(self.z_start, self.z_end, self.t_slider.value)

    def set(self, t: float | None = None, method: str | None = None) -> None:
        """Set t and/or the method from code, decoding once."""
        if method is not None and method not in self.methods:
            raise ValueError(f"method={method!r} is not one of {self.methods} for these ends.")
        with self._moving_together():
            if method is not None:
                self.method_buttons.value = method
            if t is not None:
                self.t_slider.value = float(t)

    def static_png(self) -> bytes:
        t = torch.linspace(0, 1, min(self.steps, 8) + 1)
        paths = [(lerp if method == "linear" else slerp)(self.z_start, self.z_end, t) for method in self.methods]
        fig = Figure(figsize=(len(t) * 0.8 + 1.2, len(paths) * 0.8 + 1.0), dpi=80, layout="constrained")
        viz.show_images(self.decode_points(torch.cat(paths)), title=self.title, nrow=len(t),
                        row_labels=list(self.methods),
                        col_labels=[f"{v:.1f}" for v in t], xlabel="t (0 = start, 1 = end)", ylabel="path",
                        ax=fig.add_subplot())
        return _png_of(fig)

    def describe(self) -> str:
        return f"interpolation ({self.method_buttons.value}) at t = {self.t_slider.value:.2f}"


def interpolation(model: DecoderSource, z_start: torch.Tensor, z_end: torch.Tensor, *, method: str = "linear",
                  steps: int = 20, scale: int | None = None,
                  title: str = "Morphing between two latent points") -> Interpolation:
    """Morph from decode(z_start) to decode(z_end) with a slider t in [0, 1] in `steps` steps.

    z_start, z_end: (d,) or (1, d). method: "linear" (`lerp`) or "slerp" (`slerp`, along a great circle);
    the learner can switch it with the buttons. Ends for which slerp is undefined (a zero vector, or opposite
    directions) offer "linear" only.
    """
    decode, device = viz.decoder_of(model)
    z_start = validate.latent_point(z_start, "z_start")
    z_end = validate.latent_point(z_end, "z_end", dim=len(z_start))
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {METHODS}.")
    steps = validate.whole_number(steps, "steps")
    try:
        slerp(z_start, z_end, 0.5)
        methods = METHODS
    except ValueError:  # zero or opposite ends: slerp(...) said why
        if method == "slerp":
            raise
        methods = ("linear",)
    return Interpolation(decode, device, z_start, z_end, method, methods, steps, scale=_scale(scale), title=title)


class AttributeSlider(DecoderWidget):
    """decode(z + strength * direction) with a strength slider. See `attribute_slider`."""

    def __init__(self, decode: Decoder, device: torch.device, z: torch.Tensor, direction: torch.Tensor,
                 strength_range: tuple[float, float], name: str, *, scale: int | None, title: str) -> None:
        super().__init__(decode, device, scale=scale, title=title)
        self.z_base, self.direction, self.strength_range, self.name = z, direction, strength_range, name
        low, high = strength_range
        self.original_widget = ipywidgets.Image(value=self._png(self.decode_points(z[None])[0]),
                                                format="png")
        self.strength_slider = ipywidgets.FloatSlider(value=min(max(0.0, low), high), min=low, max=high,
                                                      step=(high - low) / 100, description="strength",
                                                      readout_format=".2f")
        self.strength_slider.observe(self.update, names="value")
        self.widget = self._panel("attribute-slider", [
            self._header(f"The image on the right is decode(z + strength × {name} direction)."),
            ipywidgets.HBox([ipywidgets.VBox([ipywidgets.Label("original"), self.original_widget]),
                             ipywidgets.VBox([ipywidgets.Label(f"with {name}"), self.image_widget])]),
            self.strength_slider])
        self.update()

    @property
    def z(self) -> torch.Tensor:
        """The latent point on show, (d,)."""
        return self.z_base + self.strength_slider.value * self.direction

    def set(self, strength: float) -> None:
        """Set the strength from code, decoding once."""
        with self._moving_together():
            self.strength_slider.value = float(strength)

    def static_png(self) -> bytes:
        strengths = torch.linspace(*self.strength_range, 7)
        images = self.decode_points(self.z_base + strengths[:, None] * self.direction)
        fig = Figure(figsize=(7 * 0.9 + 0.6, 2.0), dpi=80, layout="constrained")
        viz.show_images(images, title=self.title, col_labels=[f"{s:.1f}" for s in strengths],
                        xlabel=f"strength of the {self.name} direction", ax=fig.add_subplot())
        return _png_of(fig)

    def describe(self) -> str:
        return f"attribute_slider ({self.name}) at strength {self.strength_slider.value:.2f}"


def attribute_slider(model: DecoderSource, z: torch.Tensor, direction: torch.Tensor, *,
                     strength_range: tuple[float, float] = (-3.0, 3.0), name: str = "attribute",
                     scale: int | None = None,
                     title: str = "Adding an attribute vector") -> AttributeSlider:
    """Show decode(z + strength * direction) next to decode(z), with a slider for `strength`.

    z, direction: (d,) or (1, d), e.g. direction = mean code of smiling faces - mean code of the others.
    name: what the direction adds ("smile"), used in the labels.
    """
    decode, device = viz.decoder_of(model)
    z = validate.latent_point(z, "z")
    direction = validate.latent_point(direction, "direction", dim=len(z))
    strength_range = validate.interval(strength_range, "strength_range")
    return AttributeSlider(decode, device, z, direction, strength_range, name, scale=_scale(scale), title=title)

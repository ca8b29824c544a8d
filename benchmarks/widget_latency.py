"""Widget update latency: move a control, decode one latent point, refresh the image (target: median <= 30 ms).

    PYTHONPATH=$PWD python benchmarks/widget_latency.py [--widget sliders|map|interpolation|attribute]
                                                        [--latent-dim 2] [--updates 100]
                                                        [--decoder small|notebook04|book]

--decoder small (default): an untrained conv decoder (Linear, then two ConvTranspose2d layers up to 28 x 28);
notebook04: the decoder of notebook 04's models.Autoencoder(kind="conv", widths=(16, 32, 64)); book: the same
with the book's widths (32, 64, 128). The weights are untrained: latency does not depend on their values. As an in-process baseline it also
times the bare decode of one point (on one thread, as the widgets do), so the ratio update / decode shows
what the widget adds.
"""
import argparse
import statistics
import time

import torch
from torch import nn

from course_lib import models, widgets

TARGET_MS = 30.0


def conv_decoder(latent_dim: int) -> nn.Module:
    """z: (n, latent_dim) -> (n, 1, 28, 28) in [0, 1]."""
    return nn.Sequential(
        nn.Linear(latent_dim, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
        nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),  # 14 x 14
        nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1), nn.Sigmoid(),  # 28 x 28
    ).eval()


def autoencoder_decoder(latent_dim: int, widths: tuple[int, ...]) -> nn.Module:
    """The decoder of models.Autoencoder(kind="conv"): z (n, latent_dim) -> (n, 1, 28, 28) in [0, 1]."""
    model = models.Autoencoder(kind="conv", latent_dim=latent_dim, widths=widths).eval()
    return nn.Sequential(model.decoder, nn.Sigmoid()).eval()


DECODERS = {"small": conv_decoder, "notebook04": lambda d: autoencoder_decoder(d, (16, 32, 64)),
            "book": lambda d: autoencoder_decoder(d, (32, 64, 128))}


def median_ms(step, updates: int) -> float:
    times = []
    for k in range(updates):
        start = time.perf_counter()
        step(k)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widget", choices=["sliders", "map", "interpolation", "attribute"], default="sliders")
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--updates", type=int, default=100)
    parser.add_argument("--decoder", choices=list(DECODERS), default="small")
    args = parser.parse_args()
    torch.manual_seed(0)
    decoder = DECODERS[args.decoder](args.latent_dim)
    d = args.latent_dim
    values = torch.linspace(-2.5, 2.5, args.updates).tolist()  # every update is a new value, so callbacks fire
    if args.widget == "sliders":
        w = widgets.latent_sliders(decoder, d)
        step = lambda k: setattr(w.sliders[0], "value", values[k])  # noqa: E731
    elif args.widget == "map":
        if d != 2:
            parser.error("--widget map needs --latent-dim 2")
        w = widgets.latent_map(decoder, torch.randn(5000, 2), torch.randint(0, 10, (5000,)))
        step = lambda k: setattr(w.x_slider, "value", values[k])  # noqa: E731
    elif args.widget == "interpolation":
        w = widgets.interpolation(decoder, torch.randn(d), torch.randn(d), method="slerp", steps=1000)
        step = lambda k: setattr(w.t_slider, "value", k / args.updates)  # noqa: E731
    else:
        w = widgets.attribute_slider(decoder, torch.randn(d), torch.randn(d))
        step = lambda k: setattr(w.strength_slider, "value", values[k])  # noqa: E731
    image = w.image_widget
    before = w.image_bytes

    point = torch.zeros(1, d)

    def bare_decode(k: int) -> None:
        point[0, 0] = values[k]
        with torch.inference_mode():
            decoder(point)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the widgets decode one point: on one thread
    decode_ms = median_ms(bare_decode, args.updates)
    torch.set_num_threads(threads)
    update_ms = median_ms(step, args.updates)
    assert w.image_widget is image and w.image_bytes != before, "the image was not updated in place"
    print(f"widget={args.widget} decoder={args.decoder} latent_dim={d} updates={args.updates} torch_threads={torch.get_num_threads()}")
    print(f"bare decode of one point, one thread (baseline): median {decode_ms:.2f} ms")
    print(f"widget update (decode + PNG + refresh): median {update_ms:.2f} ms "
          f"= {update_ms / decode_ms:.1f} x bare decode")
    print(f"ratio to the {TARGET_MS:.0f} ms target: {update_ms / TARGET_MS:.3f} "
          f"({'meets' if update_ms <= TARGET_MS else 'MISSES'} the target)")


if __name__ == "__main__":
    main()

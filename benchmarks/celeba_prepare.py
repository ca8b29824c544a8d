"""How fast CelebA preparation runs here: stand-in drawing, and decode + crop + resize per image.

Run: PYTHONPATH=. python benchmarks/celeba_prepare.py [--n 500]
The preparation rate is measured on photo-like JPEGs (textured noise at CelebA's size and typical file size,
~10 KB) and compared with a baseline in the same process: full-size decode, then the same crop and resize
(what a torchvision transform pipeline does). Prints images/s, the ratio, and the expected time for 20 000 faces.
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from course_lib import celeba


def photo_like(folder: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        coarse = rng.integers(0, 256, size=(55, 45, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize(celeba.ALIGNED_SIZE, Image.BICUBIC)
        paths.append(folder / f"{i:06d}.jpg")
        image.save(paths[-1], quality=90)
    return paths


def baseline(path: Path, size: int) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB").crop(celeba.CROP_BOX).resize((size, size), Image.LANCZOS))


def rate(function, paths, size) -> float:
    start = time.perf_counter()
    for path in paths:
        function(path, size)
    return len(paths) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        celeba.make_standin_celeba(Path(tmp) / "standin", n=args.n)
        print(f"stand-in drawing: {args.n / (time.perf_counter() - start):.0f} faces/s (JPEGs written)")
        paths = photo_like(Path(tmp), args.n)
        kb = np.mean([p.stat().st_size for p in paths]) / 1024
        for size in celeba.SIZES:
            ours, base = rate(celeba._crop_resize, paths, size), rate(baseline, paths, size)
            print(f"{size}×{size}: {ours:.0f} images/s (baseline full decode {base:.0f}/s, ratio {ours / base:.2f}); "
                  f"20 000 faces ≈ {20000 / ours:.0f} s, all 202 599 ≈ {202599 / ours / 60:.1f} min "
                  f"[photo-like JPEGs, {kb:.1f} KB each]")


if __name__ == "__main__":
    main()

"""How fast CelebA preparation runs here, and how long notebook 06 takes in full mode on 20,000 faces.

Run: PYTHONPATH=. python benchmarks/celeba_prepare.py [--n 500] [--mirror 2000] [--notebook]

1. Preparation from JPEG files, measured on photo-like JPEGs (textured noise at CelebA's size and typical file
   size, ~10 KB) against a baseline in the same process: full-size decode, then the same crop and resize (what a
   torchvision transform pipeline does). Prints images/s, the ratio, and the expected time for 20 000 faces.
2. --mirror N: preparation from the Parquet mirror (N drawn faces at 178×218 in the mirror's schema), through
   load_celeba, against the same baseline applied to the same encoded images.
3. --notebook: notebook 06 executed top to bottom in full mode (COURSE_FAST unset, no checkpoint) on 20,000
   drawn faces at 178×218 in the mirror's layout (a hand-copied mirror in a scratch COURSE_DATA_DIR, so nothing
   is downloaded), timed cell by cell; the target is 5 minutes on 2 CPU cores. Prints the total, its ratio to the
   target, the kernel's CPU time, the slowest cells, and the machine's load average before and after. On a busy
   machine wall times are inflated, and more so with several threads (OpenMP threads spin while they wait for a
   core): --threads 1 gives a kernel CPU time that hardly depends on the load, an upper bound for the wall time
   on 2 cores of the same speed. Drawn faces are simpler JPEGs (about 5 KB) than CelebA's (about 7 KB), so
   item 1 bounds the real preparation time.
"""
import argparse
import io
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

from course_lib import celeba

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "06_faces.ipynb"
TARGET_SECONDS = 300


def photo_like(folder: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        coarse = rng.integers(0, 256, size=(55, 45, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize(celeba.ALIGNED_SIZE, Image.BICUBIC)
        paths.append(folder / f"{i:06d}.jpg")
        image.save(paths[-1], quality=90)
    return paths


def baseline(item, size: int) -> np.ndarray:
    with Image.open(io.BytesIO(item) if isinstance(item, bytes) else item) as image:
        return np.asarray(image.convert("RGB").crop(celeba.CROP_BOX).resize((size, size), Image.LANCZOS))


def rate(function, items, size) -> float:
    start = time.perf_counter()
    for item in items:
        function(item, size)
    return len(items) / (time.perf_counter() - start)


def jpeg_files(n: int, tmp: Path) -> None:
    start = time.perf_counter()
    celeba.make_standin_celeba(tmp / "standin", n=n)
    print(f"stand-in drawing: {n / (time.perf_counter() - start):.0f} faces/s (JPEGs written)")
    paths = photo_like(tmp, n)
    kb = np.mean([p.stat().st_size for p in paths]) / 1024
    for size in celeba.SIZES:
        ours, base = rate(celeba._crop_resize, paths, size), rate(baseline, paths, size)
        print(f"{size}×{size}: {ours:.0f} images/s (baseline full decode {base:.0f}/s, ratio {ours / base:.2f}); "
              f"20 000 faces ≈ {20000 / ours:.0f} s, all 202 599 ≈ {202599 / ours / 60:.1f} min "
              f"[photo-like JPEGs, {kb:.1f} KB each]")


def mirror(n: int, tmp: Path) -> None:
    folder = celeba.make_standin_mirror(tmp / "mirror", rows=(n, 1, 1))
    table = pq.read_table(folder / celeba.MIRROR_FILES["train"][0])
    blobs = [row["bytes"] for row in table.column("image").to_pylist()]
    start = time.perf_counter()
    celeba.load_celeba(root=folder, n=n)
    ours = n / (time.perf_counter() - start)
    base = rate(baseline, blobs, 32)
    print(f"mirror, 32×32: {ours:.0f} faces/s through load_celeba (Parquet read, decode, crop, shrink, save) "
          f"against {base:.0f}/s for a full decode + crop + resize alone: ratio {ours / base:.2f}; 20 000 faces ≈ "
          f"{20000 / ours:.0f} s [drawn faces, {np.mean([len(b) for b in blobs]) / 1024:.1f} KB each]")


def notebook(tmp: Path, threads: int | None) -> None:
    import nbformat
    from nbclient import NotebookClient

    print("drawing 20,000 faces at 178×218 into the mirror's layout ...", flush=True)
    data = tmp / "data"
    celeba.make_standin_mirror(data / celeba.MIRROR_FOLDER, rows=(20_000, 100, 100))
    env = {"COURSE_DATA_DIR": str(data), "XDG_CACHE_HOME": str(tmp / "cache"), "COURSE_FAST": "0",
           "COURSE_CELEBA_URL": "http://127.0.0.1:9/not-used", "FACES_CHECKPOINT": ""}
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(  # the kernel's own CPU time, all its threads, at the end
        "import resource\nusage = resource.getrusage(resource.RUSAGE_SELF)\n"
        "print('KERNEL_CPU', usage.ru_utime + usage.ru_stime)"))
    load_before = os.getloadavg()
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=1800, kernel_name="python3", record_timing=True,
                       resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    total = time.perf_counter() - start
    cpu = float(nb.cells[-1].outputs[0]["text"].split()[1])
    cells = []
    for i, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            begin, end = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                          for k in ("iopub.execute_input", "shell.execute_reply"))
            cells.append(((end - begin).total_seconds(), i, "".join(cell.source).splitlines()[0][:70]))
    printed = [line for cell in nb.cells for out in cell.get("outputs", []) if out.get("name") == "stdout"
               for line in out.get("text", "").splitlines() if "trained" in line or "Running on" in line
               or "STAND-IN" in line]
    print("\n".join(printed[:4]))
    print(f"notebook 06, full mode, 20,000 faces, {threads or 'default'} thread(s): {total:.0f} s wall = "
          f"{total / TARGET_SECONDS:.2f} of the {TARGET_SECONDS} s target; kernel CPU time {cpu:.0f} s = "
          f"{cpu / TARGET_SECONDS:.2f} of it; {os.cpu_count()} CPUs, load average {load_before[0]:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")
    for seconds, i, first in sorted(cells, reverse=True)[:7]:
        print(f"  cell {i:2d}: {seconds:6.1f} s  {first}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--mirror", type=int, default=0, help="faces in the Parquet preparation measurement")
    parser.add_argument("--notebook", action="store_true", help="time notebook 06 in full mode on 20,000 faces")
    parser.add_argument("--threads", type=int, default=None, help="threads for the notebook's kernel")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        jpeg_files(args.n, Path(tmp))
        if args.mirror:
            mirror(args.mirror, Path(tmp))
        if args.notebook:
            notebook(Path(tmp), args.threads)


if __name__ == "__main__":
    main()

"""Seconds per notebook: run lessons (notebooks/) and exercise notebooks (solutions/: the exercises with their
answers filled in) top to bottom with nbclient, in full or fast mode, and print how long each took.

    PYTHONPATH=$PWD python benchmarks/notebook_times.py [--mode full|fast] [--folders notebooks solutions]
                                                        [--only 04 05] [--json times.json]

Each notebook runs in a fresh kernel of this Python (`COURSE_DEVICE=cpu`, `MPLBACKEND=Agg`); its time includes
starting the kernel and the imports, as a learner's "Restart and run all" does. A cell that fails is reported and
the notebook counts as failed.

On a shared machine seconds depend on the load, so the script also times a fixed reference workload in this
process (10 training steps of the course's small conv autoencoder on random images), before and after the
notebooks, and prints each notebook's time as a multiple of it. The multiple moves less with the load than the
seconds do, which helps when comparing runs; the load averages at the start and the end are printed too.
docs/workshop.md quotes these numbers: re-run the script and update its tables together.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib import models  # noqa: E402
from course_lib.environment import use_this_python  # noqa: E402


def reference_seconds(steps: int = 10) -> float:
    """Seconds for `steps` Adam steps of a conv Autoencoder (widths 16, 32, 64) on 128 random 28x28 images."""
    torch.manual_seed(0)
    model = models.Autoencoder(kind="conv", latent_dim=2, widths=(16, 32, 64))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(128, 1, 28, 28)
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.loss(x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def run_notebook(path: Path, mode: str, cell_timeout: int) -> tuple[float, str]:
    """(seconds, "ok" or what failed) for running `path` top to bottom in a fresh kernel, in `mode`."""
    nb = nbformat.read(path, as_version=4)
    os.environ["COURSE_DEVICE"] = "cpu"
    os.environ["MPLBACKEND"] = "Agg"
    if mode == "fast":
        os.environ["COURSE_FAST"] = "1"
    else:
        os.environ.pop("COURSE_FAST", None)
    client = NotebookClient(nb, timeout=cell_timeout, resources={"metadata": {"path": str(path.parent)}})
    use_this_python(client)
    start = time.perf_counter()
    try:
        client.execute()
        status = "ok"
    except CellExecutionError as err:
        status = "failed: " + str(err).strip().splitlines()[-1][:200]
    except TimeoutError as err:
        status = f"failed: a cell ran longer than {cell_timeout} s ({err})"
    return time.perf_counter() - start, status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["full", "fast"], default="full")
    parser.add_argument("--folders", nargs="+", default=["notebooks", "solutions"], help="default: both")
    parser.add_argument("--only", nargs="*", default=[], help="notebook numbers to run, e.g. 04 05 (default: all)")
    parser.add_argument("--cell-timeout", type=int, default=1800, help="seconds one cell may take")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)

    paths = [p for folder in args.folders for p in sorted((ROOT / folder).glob("*.ipynb"))
             if not args.only or p.name[:2] in args.only]
    load_start = os.getloadavg()
    reference_before = reference_seconds()
    print(f"mode {args.mode}; {os.cpu_count()} CPUs; torch threads {torch.get_num_threads()}; load average "
          f"{load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}; reference workload {reference_before:.2f} s")
    rows = []
    for path in paths:
        seconds, status = run_notebook(path, args.mode, args.cell_timeout)
        rows.append({"notebook": f"{path.parent.name}/{path.name}", "seconds": round(seconds, 1), "status": status})
        print(f"{rows[-1]['notebook']:<52} {seconds:8.1f} s  {seconds / reference_before:7.1f} x ref  {status}",
              flush=True)
    reference_after = reference_seconds()
    load_end = os.getloadavg()
    reference = (reference_before + reference_after) / 2
    for row in rows:
        row["reference_multiple"] = round(row["seconds"] / reference, 1)
    total = sum(row["seconds"] for row in rows)
    print(f"{'total':<52} {total:8.1f} s  {total / reference:7.1f} x ref")
    print(f"reference workload {reference_before:.2f} s before, {reference_after:.2f} s after; load average at the "
          f"end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"mode": args.mode, "load_start": load_start, "load_end": load_end,
                                         "reference_seconds": [reference_before, reference_after], "rows": rows},
                                        indent=1) + "\n")
    return 0 if all(row["status"] == "ok" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

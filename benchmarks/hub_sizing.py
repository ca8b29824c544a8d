"""Memory a class needs on JupyterHub: one learner's idle server, and a kernel running each lesson in full mode.

    python benchmarks/hub_sizing.py                       # every lesson, full mode
    python benchmarks/hub_sizing.py --notebooks 00 01 03  # some of them
    python benchmarks/hub_sizing.py --fast                # COURSE_FAST=1, a quick trial

A learner's server on a hub is `jupyterhub-singleuser`: a Jupyter server with JupyterLab, the same process as
`jupyter lab`, so the server's figure comes from a `jupyter lab` started here on 127.0.0.1 (no browser attached),
measured once it answers. Each lesson then runs top to bottom in its own kernel (nbclient, in notebooks/, as the
website build runs it), while a thread samples the kernel's memory every 0.2 s. Memory is reported as resident
set size (RSS, what `top` shows) and proportional set size (PSS: shared libraries split among the processes
that map them, so PSS of many learners adds up to what the server holds). One JSON line per measurement, as each
finishes, then a summary table; the machine (cores, memory, load) is printed first.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
MB = 2**20


def memory(process: psutil.Process) -> tuple[float, float]:
    """(RSS, PSS) of `process` and its children, in MB."""
    rss = pss = 0.0
    for p in [process, *process.children(recursive=True)]:
        try:
            info = p.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss / MB
        pss += getattr(info, "pss", info.rss) / MB
    return rss, pss


def server_memory(settle: float) -> dict:
    """Start `jupyter lab` on a free port, wait until it answers, wait `settle` s, measure, stop it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "JUPYTER_CONFIG_DIR": f"{home}/config", "JUPYTER_RUNTIME_DIR": f"{home}/runtime"}
        server = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
                                   f"--port={port}", "--IdentityProvider.token=", "--allow-root",
                                   f"--ServerApp.root_dir={home}"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            started = time.monotonic()
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2)
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() - started > 120:
                        raise RuntimeError("jupyter lab did not start")
                    time.sleep(0.5)
            urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=30).read()  # the page a learner loads
            time.sleep(settle)
            rss, pss = memory(psutil.Process(server.pid))
            return {"what": "learner server (jupyter lab, idle)", "rss_mb": round(rss), "pss_mb": round(pss),
                    "start_s": round(time.monotonic() - started - settle, 1)}
        finally:
            server.terminate()
            server.wait(30)


def kernel_memory(path: Path, env: dict, timeout: int) -> dict:
    """Run notebook `path` in a fresh kernel; its kernel's peak RSS and PSS (sampled every 0.2 s), and time."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    peak = {"rss": 0.0, "pss": 0.0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            km = client.km
            pid = getattr(getattr(km, "provisioner", None), "pid", None) if km else None
            if pid is None:
                continue
            try:
                rss, pss = memory(psutil.Process(pid))
            except psutil.NoSuchProcess:
                continue
            peak["rss"], peak["pss"] = max(peak["rss"], rss), max(peak["pss"], pss)

    sampler = threading.Thread(target=sample, daemon=True)
    old = dict(os.environ)
    os.environ.update(env)  # the kernel inherits this process's environment
    started = time.monotonic()
    sampler.start()
    error = None
    try:
        client.execute()
    except Exception as err:  # report it with the figures; a lesson that fails is not a sizing figure
        error = f"{type(err).__name__}: {str(err)[:200]}"
    finally:
        done.set()
        sampler.join()
        os.environ.clear()
        os.environ.update(old)
    return {"what": f"kernel running {path.name}", "peak_rss_mb": round(peak["rss"]), "peak_pss_mb": round(peak["pss"]),
            "seconds": round(time.monotonic() - started), "error": error}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", nargs="*", default=None, help="lesson numbers, e.g. 00 02 (default: all)")
    parser.add_argument("--fast", action="store_true", help="COURSE_FAST=1 instead of full mode")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    parser.add_argument("--no-server", action="store_true", help="measure the kernels only")
    parser.add_argument("--settle", type=float, default=10, help="seconds the idle server waits before measuring")
    args = parser.parse_args()
    lessons = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.notebooks:
        lessons = [p for p in lessons if p.name[:2] in args.notebooks]
    print(json.dumps({"machine": platform.machine(), "cores": os.cpu_count(),
                      "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                      "load_average": [round(x, 1) for x in os.getloadavg()], "python": platform.python_version(),
                      "mode": "fast" if args.fast else "full"}), flush=True)
    env = {"COURSE_FAST": "1" if args.fast else "0", "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    results = [] if args.no_server else [server_memory(args.settle)]
    for result in results:
        print(json.dumps(result), flush=True)
    for lesson in lessons:
        results.append(kernel_memory(lesson, env, args.timeout))
        print(json.dumps(results[-1]), flush=True)
    print("\n| what | peak RSS (MB) | peak PSS (MB) | seconds |\n|---|---|---|---|")
    for r in results:
        print(f"| {r['what']} | {r.get('peak_rss_mb', r.get('rss_mb'))} | {r.get('peak_pss_mb', r.get('pss_mb'))} | "
              f"{r.get('seconds', r.get('start_s'))}{' (failed: ' + r['error'] + ')' if r.get('error') else ''} |")


if __name__ == "__main__":
    main()

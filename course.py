"""Set up and run the course with nothing but Python and pip.

    python course.py lab    # create .venv, install the course, open JupyterLab at notebooks/00_setup.ipynb
    python course.py test   # create .venv, install the course and its test tools, run the whole test suite
    python course.py site   # create .venv, install the course and the site tools, build the website in _site/
                            # (--fast: lessons in fast mode, for previews; see website/build.py)

Extra arguments go to JupyterLab, pytest or the site build, e.g. `python course.py lab --no-browser --port 8899`.
The install step is skipped when pyproject.toml has not changed since the last one.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
FIRST_NOTEBOOK = "notebooks/00_setup.ipynb"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def install(extra: str) -> Path:
    """Create .venv if missing and install the course with `extra` unless that exact install is done already."""
    python = venv_python()
    if not python.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((HERE / "pyproject.toml").read_bytes()).hexdigest()
    covering = ("test",) if extra == "test" else (extra, "test")  # [test] includes everything [lab], [site] have
    if not any(_stamp(name).exists() and _stamp(name).read_text() == wanted for name in covering):
        print(f"Installing the course and its dependencies ([{extra}]); the first time takes a few minutes ...",
              flush=True)
        subprocess.run([python, "-m", "pip", "install", "--disable-pip-version-check", "-e", f".[{extra}]"],
                       cwd=HERE, check=True)
        _stamp(extra).write_text(wanted)
    return python


def _stamp(extra: str) -> Path:
    return VENV / f".installed-{extra}"


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("lab", "test", "site"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    try:
        if command == "lab":
            python = install("lab")
            as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # containers, Colab
            return subprocess.call([python, "-m", "jupyter", "lab", FIRST_NOTEBOOK, f"--ServerApp.root_dir={HERE}",
                                    *as_root, *rest], cwd=HERE)
        if command == "site":
            python = install("site")
            return subprocess.call([python, HERE / "website" / "build.py", *rest], cwd=HERE)
        python = install("test")
        return subprocess.call([python, "-m", "pytest", *rest], cwd=HERE)
    except subprocess.CalledProcessError as err:
        print(f"\nThe install step failed (exit code {err.returncode}); the lines above say why. "
              "Check your internet connection or proxy, then run the same command again.", file=sys.stderr)
        return err.returncode
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

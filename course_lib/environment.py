"""The environment check run by notebooks/00_setup.ipynb: what is installed, and how to fix what is not."""
from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

PACKAGES = {  # import name -> (pip name, oldest version the course is tested with)
    "torch": ("torch", "2.2"),
    "torchvision": ("torchvision", "0.17"),
    "numpy": ("numpy", "1.24"),
    "matplotlib": ("matplotlib", "3.7"),
    "sklearn": ("scikit-learn", "1.3"),
    "ipywidgets": ("ipywidgets", "8.0"),
    "tqdm": ("tqdm", "4.65"),
}


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, whether it is fine, what was found and how to fix it."""

    name: str
    ok: bool
    found: str
    fix: str = ""


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("+")[0].split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def check_environment(*, data: bool = True) -> list[Check]:
    """Check Python, the packages, the compute device, fast mode and (if `data`) Fashion-MNIST."""
    checks = [
        Check("Python", sys.version_info >= (3, 10), sys.version.split()[0],
              "Install Python 3.10 or newer, then run `python course.py lab` again."),
    ]
    for module, (pip_name, oldest) in PACKAGES.items():
        try:
            version = importlib.import_module(module).__version__
        except ImportError:
            checks.append(Check(pip_name, False, "not installed", f"pip install '{pip_name}>={oldest}'"))
            continue
        ok = _version_tuple(version) >= _version_tuple(oldest)
        checks.append(Check(pip_name, ok, version, f"pip install --upgrade '{pip_name}>={oldest}'"))
    try:
        from course_lib import config

        device = config.get_device()
        checks.append(Check("device", True, f"{device} (fast mode {'on' if config.is_fast() else 'off'})"))
    except (ImportError, ValueError) as err:
        checks.append(Check("device", False, str(err), "Unset COURSE_DEVICE to let the course choose."))
    if data:
        checks.append(_check_data())
    return checks


def _check_data() -> Check:
    try:
        from course_lib import data

        folder = data.find_fashion_mnist()
    except Exception as err:  # the report shows every failure as a line, whatever it is
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        return Check("Fashion-MNIST", False, first_line, str(err))
    return Check("Fashion-MNIST", True, f"found in {folder}")


def report(checks: list[Check]) -> str:
    """A plain-text table of `checks`, followed by what to do about each failed one."""
    width = max(len(c.name) for c in checks)
    lines = [f"{'OK ' if c.ok else 'FIX'}  {c.name:<{width}}  {c.found}" for c in checks]
    problems = [c for c in checks if not c.ok]
    if problems:
        lines.append("")
        lines.append("To fix:")
        lines += [f"* {c.name}: {c.fix}" for c in problems]
    else:
        lines.append("\nEverything the course needs is here.")
    return "\n".join(lines)


def use_this_python(client: Any) -> None:
    """Make an nbclient NotebookClient start its kernel with this interpreter, whatever kernels are installed."""
    from jupyter_client.kernelspec import KernelSpec

    client.km = client.create_kernel_manager()
    client.km._kernel_spec = KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                        display_name="Python (this environment)", language="python")

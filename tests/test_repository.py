"""Checks on the repository itself: notebooks stored clean and well formed, dependency lists in step."""
import json
import re
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for folder in ("notebooks", "solutions", "exercises")
                   for p in (ROOT / folder).glob("*.ipynb"))


def test_there_are_notebooks():
    assert (ROOT / "notebooks" / "00_setup.ipynb") in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_is_stored_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, cell in enumerate(nb["cells"])
             if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have stored outputs; clear them before committing"


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_opens_with_objectives_and_time_and_ends_with_a_recap(path):
    cells = json.loads(path.read_text())["cells"]
    first = "".join(cells[0]["source"]).lower()
    last = "".join(cells[-1]["source"]).lower()
    assert "learning objectives" in first and "estimated time" in first, path.name
    assert cells[-1]["cell_type"] == "markdown" and "recap" in last, path.name


def test_readme_syllabus_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"notebooks/{path.name}" in readme, f"README's syllabus lacks {path.name}"


def _names(requirements):
    return {re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower() for req in requirements}


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _names(project["dependencies"] + project["optional-dependencies"]["test"])
    text = (ROOT / "environment.yml").read_text()
    pip_items = [line.strip()[2:] for line in text.split("- pip:", 1)[1].splitlines() if line.strip().startswith("- ")]
    listed = _names(item for item in pip_items if not item.startswith("-e"))
    assert listed == wanted
    assert "-e ." in pip_items

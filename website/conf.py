"""Sphinx configuration of the course website (MyST-NB renders the notebooks that website/build.py executed).

Settings a fork changes, each also settable for one build by the environment variable in brackets:
- REPOSITORY_URL [COURSE_SITE_REPOSITORY], BRANCH [COURSE_SITE_BRANCH]: the GitHub repository the pages' links
  point at: "source", "Binder" (built from its environment.yml) and "Colab" (Colab's GitHub route).
- JUPYTERHUB_URL [COURSE_SITE_HUB]: a JupyterHub whose nbgitpuller link each page offers too (docs/jupyterhub.md);
  empty: no such link. HUB_REPOSITORY_URL [COURSE_SITE_HUB_REPOSITORY]: the repository that link pulls into each
  learner's home, by default REPOSITORY_URL; for a graded class, a copy without solutions/.
"""
from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path
from urllib.parse import quote

REPOSITORY_URL = os.environ.get("COURSE_SITE_REPOSITORY", "https://github.com/OWNER/generative-modelling-course")
BRANCH = os.environ.get("COURSE_SITE_BRANCH", "main")
JUPYTERHUB_URL = os.environ.get("COURSE_SITE_HUB", "")
HUB_REPOSITORY_URL = os.environ.get("COURSE_SITE_HUB_REPOSITORY", REPOSITORY_URL)
BINDER_URL = "https://mybinder.org"
COLAB_URL = "https://colab.research.google.com"

project = "Generative modelling, from first principles to faces"
author = "the course's authors"
copyright = "the course's authors (MIT licence)"

extensions = ["myst_nb"]
templates_path = ["templates"]
html_static_path = ["static"]
html_css_files = ["course.css"]
exclude_patterns = ["**/.ipynb_checkpoints"]

# The notebooks arrive executed (website/build.py runs them, in parallel and cached); Sphinx only renders.
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # no widget manager from a CDN: widgets arrive as static pictures and HTML
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_dmath_double_inline = True  # $$...$$ inside a paragraph is display math, as in Jupyter
myst_heading_anchors = 3

# MathJax 3 served from the site itself (the django-static-mathjax wheel carries it): nothing from a CDN.
mathjax_path = "mathjax/tex-mml-chtml.js"
MATHJAX_PARTS = ("tex-mml-chtml.js", "input", "output/chtml", "ui", "a11y", "sre", "adaptors")

html_theme = "sphinx_book_theme"
html_title = "Generative modelling"
html_favicon = "static/favicon.svg"  # also spares browsers a request for a missing /favicon.ico
html_context = {"default_mode": "auto"}  # light or dark, as the reader's system prefers
html_theme_options = {
    "repository_url": REPOSITORY_URL,
    "repository_branch": BRANCH,
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": False,  # the executed copy is not the notebook to work in; the page's links are
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "secondary_sidebar_items": {"**": ["page-toc"], "index": []},
}
html_last_updated_fmt = None
html_show_sourcelink = False


def notebook_links(pagename: str) -> dict[str, str]:
    """The links shown at the top of a notebook's page: its source and where to open it live."""
    path = f"{pagename}.ipynb"
    owner_repo = REPOSITORY_URL.removeprefix("https://github.com/").strip("/")
    links = {"source": f"{REPOSITORY_URL}/blob/{BRANCH}/{path}",
             "Binder": f"{BINDER_URL}/v2/gh/{owner_repo}/{BRANCH}?urlpath={quote('lab/tree/' + path, safe='')}",
             "Colab": f"{COLAB_URL}/github/{owner_repo}/blob/{BRANCH}/{path}"}
    if JUPYTERHUB_URL:  # nbgitpuller clones into ~/<last part of the URL>/ and opens the notebook there
        last = HUB_REPOSITORY_URL.rstrip("/").rsplit("/", 1)[-1]
        folder = last.removesuffix(".git")  # "x.git" would be cloned into ~/x.git/: name the folder
        links["JupyterHub"] = (f"{JUPYTERHUB_URL.rstrip('/')}/hub/user-redirect/git-pull?"
                               f"repo={quote(HUB_REPOSITORY_URL, safe='')}&branch={BRANCH}"
                               + (f"&targetpath={quote(folder, safe='')}" if folder != last else "")
                               + f"&urlpath={quote(f'lab/tree/{folder}/{path}?autodecode', safe='')}")
    return links


def add_notebook_links(app, pagename, templatename, context, doctree) -> None:
    if pagename.startswith(("notebooks/", "exercises/")):
        context["course_links"] = notebook_links(pagename)
        context["course_is_exercise"] = pagename.startswith("exercises/")


def copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source = resources.files("mathjax") / "static" / "mathjax" / "es5"
    target = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        src, dst = Path(str(source / part)), target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def setup(app) -> None:
    if "OWNER" in REPOSITORY_URL:
        from sphinx.util import logging
        logging.getLogger(__name__).info(
            "The 'open live' links point at the placeholder %s: set REPOSITORY_URL in website/conf.py (or "
            "COURSE_SITE_REPOSITORY) to the course's public repository.", REPOSITORY_URL)
    app.connect("html-page-context", add_notebook_links)
    app.connect("build-finished", copy_mathjax)

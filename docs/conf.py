"""Sphinx configuration of the documentation site (``make docs``).

The site is built offline from the repository: MyST pages, notebooks rendered by myst-nb
without executing them, the API from the docstrings (autodoc + napoleon, numpydoc style), and
pages generated at build time by ``_ext/analysis_docs.py`` (figures from the shipped data, the
command line from the argparse parser, the Make targets from the Makefile).
"""
from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import analysis  # noqa: E402  (installed editable by `make venv`)

project = "Chỉ số 766 toolkit"
author = "Chỉ số 766 toolkit contributors"
copyright = "the Chỉ số 766 toolkit contributors"
release = version = analysis.__version__
language = "en"

extensions = [
    "myst_nb",                 # MyST markdown and notebooks (activates myst_parser)
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "analysis_docs",           # generated pages: figures, command line, Make targets, API stubs
]

source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", ".gitignore", "**/.ipynb_checkpoints"]
root_doc = "index"

# --- MyST and notebooks --------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
# Notebooks are shown as they were executed (the golden notebooks); the docs never start a kernel.
nb_execution_mode = "off"
nb_output_stderr = "remove"
# Report sections are HTML produced by the package; shown as HTML, not re-rendered.
nb_render_markdown_format = "commonmark"

# --- API reference -------------------------------------------------------------------------
autodoc_default_options = {"show-inheritance": True}   # members: listed per module page
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_preprocess_types = False

# --- HTML ----------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"Chỉ số 766 toolkit {release}"
html_static_path = []
html_last_updated_fmt = None          # reproducible: no build date on the pages
html_show_sourcelink = False
html_copy_source = False

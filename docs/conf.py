"""Sphinx configuration: MyST Markdown pages, the furo theme, autodoc for the API pages.

``make docs`` first writes the environment pages (``_scripts/gen_env_pages.py``) from the
registry, the class docstrings and the committed result files, then builds with warnings
as errors."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pomdp_envs  # noqa: E402

project = "pomdp-envs"
author = "The pomdp-envs developers"
release = version = pomdp_envs.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_scripts", "README.md"]

html_theme = "furo"
html_title = f"pomdp-envs {version}"
html_static_path = ["_static"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

"Sphinx configuration of the interp docs site (built by tools/build_site.py from executed nbdev notebooks)."
import os, tomllib
from pathlib import Path

_root = Path(__file__).resolve().parent.parent
_meta = tomllib.loads((_root / "pyproject.toml").read_text())
project = "interp"
author = "interp developers"
copyright = "2026, interp developers (MIT licence)"
release = version = _meta["project"]["version"]

extensions = ["myst_nb", "sphinx-mathjax-offline"]  # MathJax served from the site itself: no CDN
source_suffix = {".ipynb": "myst-nb", ".md": "myst-nb"}
nb_execution_mode = "off"            # notebooks are executed by tools/build_site.py before Sphinx sees them
nb_merge_streams = True
nb_render_markdown_format = "myst"   # show_doc's markdown output becomes real API docs
myst_enable_extensions = ["colon_fence", "dollarmath", "html_image"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header", "misc.highlighting_failure", "myst.xref_missing"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

html_theme = "sphinx_book_theme"
html_title = "interp"
html_static_path = [str(Path(__file__).parent / "_static")]
html_theme_options = {
    "repository_url": _meta["project"]["urls"]["Repository"],
    "use_repository_button": False,
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
}
html_last_updated_fmt = None
html_copy_source = False
html_context = {"default_mode": "light"}  # an explicit mode: the theme logs a console error when none is set
html_css_files = ["interp.css"]   # the home page gallery cards

"""Sphinx configuration: MyST Markdown pages, numpydoc docstrings, API pages from the code."""

from bcnmf import __version__

project = "bcnmf"
author = "bcnmf developers"
copyright = "2026, bcnmf developers"
version = release = __version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

autosummary_generate = ["api.md"]
# scikit-learn's metadata-routing methods are generated on every estimator class; they are
# scikit-learn's API, documented there, not ours.
autodoc_default_options = {
    "members": True,
    "exclude-members": "set_fit_request, set_partial_fit_request, set_transform_request, "
    "set_inverse_transform_request, get_metadata_routing, set_output",
}
# numpydoc lists class members itself; autosummary stubs would otherwise be asked for each one.
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

html_theme = "alabaster"
html_title = f"bcnmf {release}"

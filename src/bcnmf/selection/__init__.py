"""Choosing settings without labels: the number of topics, the number of enriched topics and the
contrast strength alpha. Each criterion fits many candidate models and compares them."""

from bcnmf.selection.alpha import select_alpha
from bcnmf.selection.enriched import select_n_enriched
from bcnmf.selection.rank import select_n_components

__all__ = ["select_alpha", "select_n_components", "select_n_enriched"]

"""One self-contained HTML page of a result: parameters, objective, topic enrichment, top genes,
gene sets and usage plots, with every figure embedded as a PNG data URI (no network, no
side files)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd

from bcnmf import get, pl
from bcnmf._version import __version__
from bcnmf.enrichment.topics import BACKGROUND_ENRICHED, ENRICHED
from bcnmf.utils.files import write_atomic

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
tr.enriched td { background: #fde9e7; font-weight: 600; }
tr.lost td { background: #e7eefd; font-weight: 600; }
img { max-width: 100%; margin: .5em 0; }
.note { color: #555; font-size: .9em; }
"""

#: Genes listed per topic in the report.
TOP_GENES = 15
#: Gene sets listed per topic and test.
TOP_SETS = 3


def write_report(adata, path: str | Path, key: str = "bcnmf") -> None:
    """Write the report of the results under ``key`` to ``path`` (atomically)."""
    page = render_report(adata, key)
    write_atomic(path, lambda temporary: Path(temporary).write_text(page, encoding="utf-8"))


def render_report(adata, key: str = "bcnmf") -> str:
    """The report as one HTML string."""
    results = get.results(adata, key)
    params = results["params"]
    sections = [
        f"<h1>bcnmf report: {html.escape(key)}</h1>",
        f"<p class='note'>{adata.n_obs} cells x {adata.n_vars} features; {int(results['n_components'])} topics. "
        f"bcnmf {__version__}.</p>",
        "<h2>Parameters</h2>",
        _table(pd.DataFrame({"value": [str(v) for v in params.values()]}, index=list(params.keys())), text=True),
        "<h2>Objective</h2>",
        _figure(pl.objective(adata, key, return_fig=True, show=False), "objective against iteration"),
    ]
    if "enrichment" in results:
        sections += [
            "<h2>Topics: target-enriched, shared or background-enriched</h2>",
            "<p class='note'>Each topic's mean share (the part of a cell's total that the topic models; the "
            "same quantity as the plots below), target against background; two-sided Welch t-test, "
            "Benjamini-Hochberg q; target-enriched (red) when q &lt; 0.05 and the share is at least twice as "
            "large in the target (four times with automatically chosen topic counts), background-enriched "
            "(blue) when it is that much larger in the background: a program the target lost.</p>",
            _enrichment_table(results["enrichment"]),
        ]
    if "fit_statistics" in results:
        sections += [
            "<h2>Fit statistics</h2>",
            "<p class='note'>The share of each condition's total that the topics model. Below 20% of the "
            "target, the fit is flagged and its topics are not labelled.</p>",
            _table(results["fit_statistics"]),
        ]
    sections += ["<h2>Top genes per topic</h2>", _top_genes(adata, key),
                 _figure(pl.top_features(adata, key, n=10, return_fig=True, show=False), "top genes per topic")]
    if "gene_set_enrichment" in results:
        sections += ["<h2>Gene sets per topic</h2>", _gene_sets(results["gene_set_enrichment"])]
    groupby = params.get("condition_key")
    sections.append("<h2>Usages</h2>")
    if groupby in adata.obs.columns:
        sections.append(_figure(pl.usage_by_condition(adata, key, groupby, return_fig=True, show=False),
                                f"topic usage by {groupby}"))
    sections.append(_figure(pl.embedding(adata, key, color=groupby if groupby in adata.obs.columns else None,
                                         return_fig=True, show=False), "cells by their usages"))
    for table, title in (("rank_selection", "Choice of the number of topics"),
                         ("topic_selection", "Choice of the numbers of shared and target-enriched topics"),
                         ("alpha_selection", "Choice of the contrast strength")):
        if table in results:
            sections += [f"<h2>{title}</h2>", _table(results[table].round(4))]
    body = "\n".join(sections)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>bcnmf report: {html.escape(key)}"
            f"</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")


def _figure(fig, alt: str) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"


def _table(frame: pd.DataFrame, text: bool = False, row_classes: list[str] | None = None) -> str:
    cell = "text" if text else ""
    head = "".join(f"<th class='{cell}'>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for i, (index, row) in enumerate(frame.iterrows()):
        cls = f" class='{row_classes[i]}'" if row_classes and row_classes[i] else ""
        cells = "".join(f"<td class='{cell}'>{html.escape(_format(v))}</td>" for v in row)
        rows.append(f"<tr{cls}><td class='text'>{html.escape(str(index))}</td>{cells}</tr>")
    return f"<table><tr><th class='text'></th>{head}</tr>{''.join(rows)}</table>"


def _format(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.3g}"
    return str(value)


def _enrichment_table(enrichment: pd.DataFrame) -> str:
    style = {ENRICHED: "enriched", BACKGROUND_ENRICHED: "lost"}
    classes = [style.get(label, "") for label in enrichment["label"]]
    return _table(enrichment, row_classes=classes)


def _top_genes(adata, key: str) -> str:
    top = get.top_features(adata, key, n=TOP_GENES)
    listing = top.groupby("topic", sort=False)["feature"].apply(lambda genes: ", ".join(genes))
    return _table(pd.DataFrame({"top genes (largest loading first)": listing}), text=True)


def _gene_sets(table: pd.DataFrame) -> str:
    best = table[table["q_value"] < 0.05].groupby(["topic", "test"], sort=False).head(TOP_SETS)
    if best.empty:
        return "<p>No gene set reached q &lt; 0.05.</p>"
    shown = best.set_index("topic")[["test", "collection", "gene_set", "overlap", "effect", "q_value", "genes"]]
    shown = shown.assign(genes=shown["genes"].str.split(";").str[:8].str.join(", "))
    return _table(shown, text=True)

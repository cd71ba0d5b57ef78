"""Plots of what ``bcnmf.tl`` wrote into an AnnData, in scanpy's manner.

Every function takes ``ax=`` (draw into an existing axes; one-panel plots only), ``show=``
(call ``plt.show()``; by default when nothing is saved or returned), ``save=`` (a file path; the
format follows its suffix) and ``return_fig=`` (return the figure). With ``show=False`` the axes
are returned. scanpy is not needed; with it, ``sc.pl.embedding(adata, basis="X_bcnmf", ...)``
also works on the usages.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bcnmf import get


def _pyplot():
    import matplotlib.pyplot as plt  # deferred: importing bcnmf must not pick a backend

    return plt


def _axes(ax, figsize=(5.0, 3.5)):
    plt = _pyplot()
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    return fig, ax


def _finish(fig, axes, show, save, return_fig):
    if save is not None:
        fig.savefig(save, dpi=150, bbox_inches="tight")
    if show is None:
        show = save is None and not return_fig
    if show:
        _pyplot().show()
    if return_fig:
        return fig
    return None if show else axes


def objective(adata, key: str = "bcnmf", *, ax=None, show: bool | None = None, save=None, return_fig: bool = False):
    """The objective against the iteration (bcNMF: ``D_t - alpha * D_b``; NMF: the loss)."""
    results = get.results(adata, key)
    values = np.asarray(results["objective"])
    iterations = np.asarray(results.get("objective_iterations", np.arange(1, values.size + 1)))
    fig, ax = _axes(ax)
    ax.plot(iterations, values, marker=".", color="C0")
    ax.set_xlabel("iteration")
    ax.set_ylabel("objective" if results["params"].get("method") == "bcnmf" else "loss")
    ax.set_title(f"{key}: objective")
    return _finish(fig, ax, show, save, return_fig)


def usage_by_condition(adata, key: str = "bcnmf", groupby: str | None = None, *, topics: Sequence[str] | None = None,
                       kind: str = "violin", show: bool | None = None, save=None, return_fig: bool = False):
    """Each topic's share (the part of the cell's total it models) by a column of ``obs``; by
    default the condition the model was fitted with. One panel per topic."""
    if kind not in ("violin", "box"):
        raise ValueError(f"kind={kind!r}: choose 'violin' or 'box'.")
    groupby = groupby or get.results(adata, key)["params"].get("condition_key")
    if groupby is None or groupby not in adata.obs.columns:
        raise ValueError(f"groupby={groupby!r} is not a column of adata.obs; name the column to group cells by.")
    shares = get.shares(adata, key)
    topics = _topics(shares.columns, topics)
    groups = adata.obs[groupby].astype(str)
    labels = [g for g in pd.unique(groups) if (groups == g).any()]
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(topics), figsize=(2.2 * len(topics) + 1, 3.2), squeeze=False,
                             constrained_layout=True)
    for ax, topic in zip(axes[0], topics):
        samples = [shares.loc[(groups == g).to_numpy(), topic].dropna().to_numpy() for g in labels]
        if kind == "violin":
            ax.violinplot([s if s.size else [np.nan] for s in samples], showmedians=True)
        else:
            ax.boxplot(samples)
        ax.set_xticks(range(1, len(labels) + 1), labels, rotation=45, ha="right")
        ax.set_title(topic)
    axes[0][0].set_ylabel("share of the cell's total")
    return _finish(fig, axes[0], show, save, return_fig)


def top_features(adata, key: str = "bcnmf", n: int = 10, *, topics: Sequence[str] | None = None,
                 show: bool | None = None, save=None, return_fig: bool = False):
    """The ``n`` features of largest loading in each topic, one bar panel per topic."""
    table = get.top_features(adata, key, n)
    topics = _topics(pd.unique(table["topic"]), topics)
    plt = _pyplot()
    columns = min(4, len(topics))
    rows = int(np.ceil(len(topics) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.0 * columns, 0.25 * n * rows + 1.2), squeeze=False,
                             constrained_layout=True)
    for ax, topic in zip(axes.ravel(), topics):
        part = table[table["topic"] == topic]
        ax.barh(np.arange(len(part))[::-1], part["loading"], color="C0")
        ax.set_yticks(np.arange(len(part))[::-1], part["feature"], fontsize=7)
        ax.set_title(topic)
    for ax in axes.ravel()[len(topics):]:
        ax.set_visible(False)
    return _finish(fig, axes.ravel()[: len(topics)], show, save, return_fig)


def embedding(adata, key: str = "bcnmf", color: str | None = None, *, topics: Sequence[str] | None = None, ax=None,
              show: bool | None = None, save=None, return_fig: bool = False):
    """Cells in two dimensions from their shares, coloured by a column of ``obs``.

    With ``topics`` (two names) the axes are those topics' shares; otherwise the first two
    principal components of the shares.
    """
    shares = get.shares(adata, key)
    keep = shares.notna().all(axis=1).to_numpy()
    if topics is not None:
        topics = _topics(shares.columns, topics)
        if len(topics) != 2:
            raise ValueError(f"topics={list(topics)!r}: give exactly two topics for the axes.")
        coordinates, labels = shares.loc[keep, list(topics)].to_numpy(), list(topics)
    else:
        from sklearn.decomposition import PCA

        values = shares.loc[keep].to_numpy()
        coordinates = PCA(2).fit_transform(values) if values.shape[1] > 2 else values
        labels = ["share PC1", "share PC2"] if values.shape[1] > 2 else list(shares.columns)
    fig, ax = _axes(ax, figsize=(4.5, 4.0))
    if color is None:
        ax.scatter(coordinates[:, 0], coordinates[:, 1], s=6, color="C0")
    else:
        if color not in adata.obs.columns:
            raise ValueError(f"color={color!r} is not a column of adata.obs.")
        values = adata.obs[color][keep]
        if pd.api.types.is_numeric_dtype(values) and not isinstance(values.dtype, pd.CategoricalDtype):
            points = ax.scatter(coordinates[:, 0], coordinates[:, 1], s=6, c=values.to_numpy(), cmap="viridis")
            fig.colorbar(points, ax=ax, label=color)
        else:
            for i, group in enumerate(pd.unique(values.astype(str))):
                inside = (values.astype(str) == group).to_numpy()
                ax.scatter(coordinates[inside, 0], coordinates[inside, 1], s=6, color=f"C{i % 10}", label=group)
            ax.legend(title=color, fontsize=7, markerscale=2, frameon=False)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    return _finish(fig, ax, show, save, return_fig)


def enrichment_dotplot(adata, key: str = "bcnmf", *, n: int = 5, test: str = "ora", max_q: float = 0.05,
                       show: bool | None = None, save=None, return_fig: bool = False):
    """The ``n`` best gene sets of each topic (q < ``max_q``) from :func:`bcnmf.tl.enrich`: dot
    size -log10 q, colour the effect (fold enrichment or AUC)."""
    results = get.results(adata, key)
    if "gene_set_enrichment" not in results:
        raise ValueError(f"no gene-set enrichment under key {key!r}; run bcnmf.tl.enrich(adata, key={key!r}) first.")
    table = results["gene_set_enrichment"]
    table = table[(table["test"] == test) & (table["q_value"] < max_q)]
    best = table.groupby("topic", sort=False).head(n)
    fig, ax = _axes(None, figsize=(1.2 * max(best["topic"].nunique(), 2) + 4, 0.3 * max(best["gene_set"].nunique(), 3) + 1))
    if best.empty:
        ax.text(0.5, 0.5, f"no gene set with q < {max_q} ({test})", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return _finish(fig, ax, show, save, return_fig)
    topics = list(pd.unique(best["topic"]))
    sets = list(pd.unique(best["gene_set"]))
    x = best["topic"].map({t: i for i, t in enumerate(topics)})
    y = best["gene_set"].map({s: i for i, s in enumerate(sets)})
    size = 20 + 30 * np.clip(-np.log10(np.maximum(best["q_value"].to_numpy(), 1e-300)), 0, 10)
    points = ax.scatter(x, y, s=size, c=best["effect"], cmap="Reds", edgecolors="k", linewidths=0.3)
    ax.set_xticks(range(len(topics)), topics, rotation=45, ha="right")
    ax.set_yticks(range(len(sets)), [s[:60] for s in sets], fontsize=7)
    ax.set_xlim(-0.5, len(topics) - 0.5)
    ax.invert_yaxis()
    fig.colorbar(points, ax=ax, label="fold enrichment" if test == "ora" else "AUC")
    return _finish(fig, ax, show, save, return_fig)


def selection(adata, key: str = "bcnmf", which: str = "k", *, show: bool | None = None, save=None,
              return_fig: bool = False):
    """The curves of :func:`bcnmf.tl.select_k` (``which="k"``) or :func:`bcnmf.tl.select_alpha`
    (``which="alpha"``), with the recommended value marked."""
    name = {"k": f"{key}_select_k", "alpha": f"{key}_select_alpha"}.get(which)
    if name is None:
        raise ValueError(f"which={which!r}: choose 'k' or 'alpha'.")
    if name not in adata.uns:
        raise ValueError(f"no {which} selection under uns[{name!r}]; run bcnmf.tl.select_{which}(adata, ...) first.")
    table, recommended = adata.uns[name]["table"], adata.uns[name]["recommended"]
    panels = ({"cophenetic": "cophenetic correlation", "min_silhouette": "smallest topic silhouette",
               "heldout_loss": "held-out loss per entry"} if which == "k" else
              {"n_enriched": "target-enriched topics", "min_silhouette": "smallest topic silhouette",
               "heldout_target": "held-out loss, target", "heldout_background": "held-out loss, background"})
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels), 2.8), squeeze=False, constrained_layout=True)
    for ax, (column, label) in zip(axes[0], panels.items()):
        ax.plot(table.index, table[column], marker="o", color="C0")
        ax.axvline(recommended, color="C3", linestyle="--", linewidth=1)
        ax.set_xlabel(which)
        ax.set_title(label, fontsize=9)
        if which == "alpha":
            ax.set_xscale("log", base=2)
    return _finish(fig, axes[0], show, save, return_fig)


def _topics(available, topics) -> list[str]:
    available = [str(t) for t in available]
    if topics is None:
        return available
    topics = [str(t) for t in topics]
    unknown = [t for t in topics if t not in available]
    if unknown:
        raise ValueError(f"topics {unknown} are not among {available}.")
    return topics

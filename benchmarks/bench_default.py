"""The default path on realistic case/control counts: does it label what was planted, and nothing else?

    python benchmarks/bench_default.py [--write] [--seeds N] [--large]

Data: ``bcnmf.datasets.simulate_case_control`` (2,000 genes, 1,500 + 1,500 cells; with ``--large``
also 7,000 + 7,000 cells once, sparse, as a real dataset would be), both generators
(``cell_types``, ``programs``), seeds 0..N-1, each planted (two response programs, a lost cell
type, a repressed program, deeper target sequencing) and null (nothing planted, the target's
counts doubled by a batch-wide scale). Fit: ``BCNMF("auto", n_enriched="auto")``, what ``bcnmf fit``
and ``bcnmf.tl.bcnmf`` run by default. Per fit: the responses' best loadings cosine and whether
that topic is labelled ``target-enriched``; whether the lost cell type's topic is
``background-enriched``; topics labelled otherwise than planted (the repressed program counts as
a lost program: ``background-enriched`` is right for it); ARI of KMeans on the shared usages
against the cell types, and PCA's on the log-normalised target; the time of the automatic fit
against one fit at the numbers it chose. ``--write`` writes ``benchmarks/DEFAULT.md``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import normalize

from bcnmf import BCNMF
from bcnmf.datasets import simulate_case_control
from bcnmf.enrichment.topics import BACKGROUND_ENRICHED, ENRICHED

HERE = Path(__file__).resolve().parent


def cosines(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    A = A / np.linalg.norm(A, axis=1, keepdims=True)
    B = B / np.linalg.norm(B, axis=1, keepdims=True)
    return A @ B.T


def log_normalized(X) -> np.ndarray:
    X = sp.csr_matrix(X, dtype=np.float64)
    X = sp.diags(1e4 / np.asarray(X.sum(axis=1)).ravel()) @ X
    return np.log1p(X.toarray())


def cell_type_ari(embedding: np.ndarray, types: np.ndarray) -> float:
    clusters = KMeans(len(np.unique(types)), n_init=10, random_state=0).fit_predict(embedding)
    return adjusted_rand_score(types, clusters)


def evaluate(structure: str, seed: int, planted: bool, n_cells: int = 1500) -> dict:
    settings = {} if planted else {"n_responses": 0, "lost_cell_type": False, "n_genes_down": 0, "batch_scale": 2.0}
    data = simulate_case_control(structure=structure, seed=seed, n_target=n_cells, n_background=n_cells, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model = BCNMF("auto", n_enriched="auto", random_state=seed).fit(data.target, data.background)
        automatic = time.perf_counter() - start
        start = time.perf_counter()
        BCNMF(model.n_components_, n_enriched=model.n_enriched_, alpha=0.0, random_state=seed).fit(
            data.target, data.background)
        one_fit = time.perf_counter() - start
    labels = model.enrichment_["label"].to_numpy()
    H = model.components_
    expected = {}
    row = {"structure": structure, "seed": seed, "cells": 2 * n_cells,
           "case": "planted" if planted else "null (batch scale x2)",
           "topics": H.shape[0], "enriched_topics": model.n_enriched_}
    if planted:
        response = cosines(data.response_programs, H)
        expected.update({int(t): ENRICHED for t in response.argmax(axis=1)})
        row["response_cosine"] = float(response.max(axis=1).min())
        row["responses_labelled"] = all(labels[t] == ENRICHED for t in response.argmax(axis=1))
        lost = cosines(data.cell_type_profiles[[data.lost_cell_type]], H)[0]
        repressed = cosines(data.down_program[None], H)[0]
        expected[int(lost.argmax())] = BACKGROUND_ENRICHED
        row["lost_type_labelled"] = labels[lost.argmax()] == BACKGROUND_ENRICHED
        if labels[repressed.argmax()] == BACKGROUND_ENRICHED and repressed.max() >= 0.5:
            expected[int(repressed.argmax())] = BACKGROUND_ENRICHED
    row["other_labels"] = int(sum(label != "shared" and expected.get(t) != label for t, label in enumerate(labels)))
    n_shared = H.shape[0] - model.n_enriched_
    row["shared_usage_ari"] = cell_type_ari(normalize(model.target_usage_[:, :n_shared]), data.target_cell_types)
    row["pca_ari"] = cell_type_ari(PCA(10, random_state=0).fit_transform(log_normalized(data.target)),
                                   data.target_cell_types)
    row.update({"seconds": automatic, "one_fit_seconds": one_fit, "cost_ratio": automatic / one_fit})
    print(row, flush=True)
    return row


def format_report(results: pd.DataFrame) -> str:
    columns = ["structure", "case", "seed", "cells", "topics", "enriched_topics", "response_cosine", "responses_labelled",
               "lost_type_labelled", "other_labels", "shared_usage_ari", "pca_ari", "seconds", "cost_ratio"]
    table = results.reindex(columns=columns)
    header = "| " + " | ".join(columns) + " |"
    lines = [
        "# The default path on realistic case/control counts",
        "",
        "Produced by `python benchmarks/bench_default.py --write` (see its docstring).",
        "",
        header,
        "|" + "---|" * len(columns),
    ]
    for row in table.itertuples(index=False):
        cells = [f"{v:.3f}" if isinstance(v, float) and not np.isnan(v) else ("" if isinstance(v, float) else str(v))
                 for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + [""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="write benchmarks/DEFAULT.md")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per generator and case (default 3)")
    parser.add_argument("--large", action="store_true",
                        help="also 7,000 + 7,000 cells (cell_types, seed 0, planted): the time a real dataset takes")
    args = parser.parse_args()
    rows = [evaluate(structure, seed, planted) for structure in ("cell_types", "programs")
            for seed in range(args.seeds) for planted in (True, False)]
    if args.large:
        rows.append(evaluate("cell_types", 0, True, n_cells=7000))
    report = format_report(pd.DataFrame(rows))
    print(report)
    if args.write:
        (HERE / "DEFAULT.md").write_text(report)


if __name__ == "__main__":
    main()

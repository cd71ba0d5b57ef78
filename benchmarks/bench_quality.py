"""How well bcNMF and the methods people would otherwise use recover known target subgroups.

    python benchmarks/bench_quality.py [--write] [--auto-seeds N]

Datasets: the planted simulation (``simulate_contrastive``) at shared-program strength beta in
{0, 1, 2, 4, 8, 16}, 3 seeds each, and the bundled mice protein data (Down-syndrome vs control
mice as target; 5 seeds). Methods: bcNMF with fixed settings and with the number of topics and
the contrast strength chosen by the library, disentangled topics, plain NMF of the target, PCA
and contrastive PCA. Scores: ARI and NMI of KMeans clusters (n_init = 10) of the target's usages
(rows scaled to unit length) or of its PCA/cPCA coordinates, against the true subgroups. Rank
selection on Golub's leukaemia data (Debian's r-cran-nmf, fetched here with ``apt-get download``
and read with ``rdata``: ``pip install -e ".[bench]"``). ``--write`` writes
``benchmarks/QUALITY.md``. ``--auto-seeds N`` runs the automatic fits on the first N seeds only,
``--slow-auto-seeds N`` those of plain bcNMF with ``k="auto"`` (default 1).
"""

from __future__ import annotations

import argparse
import glob
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.preprocessing import normalize

from bcnmf import BCNMF, NMF, ContrastivePCA
from bcnmf.datasets import mice_protein, simulate_contrastive
from bcnmf.selection import select_n_components

HERE = Path(__file__).resolve().parent
BETAS = (0, 1, 2, 4, 8, 16)
SIMULATION_SEEDS = (0, 1, 2)
MICE_SEEDS = (0, 1, 2, 3, 4)
#: A third of the library's default simulation, so that the automatic choices (about 60 extra fits
#: each) finish in minutes per dataset on two cores.
SIMULATION_SIZE = {"n_features": 1000, "n_target": 500, "n_background": 500}


def scores(embedding: np.ndarray, labels: np.ndarray, *, usages: bool) -> tuple[float, float]:
    """(ARI, NMI) of KMeans clusters of ``embedding`` (usages of two or more topics are scaled to
    unit rows first; one topic's usage is clustered as it is, since scaling would make it constant)."""
    X = np.asarray(embedding, dtype=np.float64)
    if usages and X.shape[1] > 1:
        X = normalize(X)
    clusters = KMeans(len(np.unique(labels)), n_init=10, random_state=0).fit_predict(X)
    return adjusted_rand_score(labels, clusters), normalized_mutual_info_score(labels, clusters)


def log_normalize(X: np.ndarray) -> np.ndarray:
    return np.log1p(X / X.sum(axis=1, keepdims=True) * 1e4)


class Method(NamedTuple):
    """A function of (target, background) returning an embedding of the target; whether that
    embedding is topic usages; its cost: "fixed" (every seed), "auto" (the first ``--auto-seeds``)
    or "slow" (the first ``--slow-auto-seeds``: plain bcNMF's rank selection, up to half an hour
    per fit)."""

    fit: Callable[[np.ndarray, np.ndarray], np.ndarray]
    usages: bool
    cost: str = "fixed"


def enriched_usages(model: BCNMF, target: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The target's usages of the topics that only the target uses (disentangled model)."""
    usages = model.fit_transform(target, background)
    return usages[:, model.n_components_ - model.n_enriched_:]


def simulation_methods(seed: int) -> dict[str, Method]:
    return {
        "bcNMF kl, k=2, alpha=1": Method(lambda t, b: BCNMF(2, alpha=1.0, random_state=seed).fit_transform(t, b), True),
        "bcNMF kl, k=2, alpha=auto": Method(
            lambda t, b: BCNMF(2, alpha="auto", random_state=seed).fit_transform(t, b), True, "auto"),
        "bcNMF kl, k=auto, alpha=auto": Method(
            lambda t, b: BCNMF("auto", alpha="auto", random_state=seed).fit_transform(t, b), True, "slow"),
        "disentangled kl, 5 shared + 2 enriched": Method(
            lambda t, b: BCNMF(7, n_enriched=2, alpha=0.0, random_state=seed).fit_transform(t, b)[:, 5:], True),
        "disentangled kl, k=auto, n_enriched=auto, alpha=auto": Method(
            lambda t, b: enriched_usages(BCNMF("auto", n_enriched="auto", alpha="auto", random_state=seed), t, b),
            True, "auto"),
        "NMF kl on target, k=2": Method(lambda t, b: NMF(2, loss="kl", random_state=seed).fit_transform(t), True),
        "PCA on log-normalised target, 2 dims": Method(lambda t, b: PCA(2).fit_transform(log_normalize(t)), False),
        "cPCA on log-normalised data, auto alpha": Method(
            lambda t, b: ContrastivePCA(2, random_state=seed).fit_transform(log_normalize(t), log_normalize(b)), False),
    }


def mice_methods(seed: int) -> dict[str, Method]:
    return {
        "bcNMF frobenius, k=2, alpha=1": Method(
            lambda t, b: BCNMF(2, loss="frobenius", alpha=1.0, random_state=seed).fit_transform(t, b), True),
        "bcNMF frobenius, k=auto, alpha=auto": Method(
            lambda t, b: BCNMF("auto", loss="frobenius", alpha="auto", random_state=seed).fit_transform(t, b), True,
            "auto"),
        "disentangled frobenius, k=auto, n_enriched=auto, alpha=auto": Method(
            lambda t, b: enriched_usages(BCNMF("auto", n_enriched="auto", loss="frobenius", alpha="auto",
                                               random_state=seed), t, b), True, "auto"),
        "NMF frobenius on target, k=2": Method(lambda t, b: NMF(2, random_state=seed).fit_transform(t), True),
        "PCA on target, 2 dims": Method(lambda t, b: PCA(2).fit_transform(t), False),
        "cPCA, auto alpha": Method(lambda t, b: ContrastivePCA(2, random_state=seed).fit_transform(t, b), False),
    }


def run(methods_for_seed, datasets, seeds_of: dict[str, int]) -> pd.DataFrame:
    """Fit every method on every dataset, each cost tier on the first ``seeds_of[cost]`` seeds."""
    rows = []
    for dataset, seed, target, background, labels in datasets:
        for method, (fit, usages, cost) in methods_for_seed(seed).items():
            if seed >= seeds_of.get(cost, seed + 1):
                continue
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                embedding = fit(target, background)
            ari, nmi = scores(embedding, labels, usages=usages)
            rows.append({"dataset": dataset, "seed": seed, "method": method, "ari": ari, "nmi": nmi,
                         "seconds": time.perf_counter() - start})
            print(f"{dataset:<22} seed {seed}  {method:<42} ARI {ari:6.3f}  NMI {nmi:6.3f}", flush=True)
    return pd.DataFrame(rows)


def simulation_datasets():
    for beta in BETAS:
        for seed in SIMULATION_SEEDS:
            data = simulate_contrastive(**SIMULATION_SIZE, beta=beta, seed=seed)
            yield f"simulation beta={beta}", seed, data.target, data.background, data.target_labels


def mice_datasets():
    data = mice_protein()
    for seed in MICE_SEEDS:
        yield "mice protein", seed, data.target.to_numpy(), data.background.to_numpy(), data.target_labels


def golub_expression() -> np.ndarray | None:
    """Golub's leukaemia data (38 samples x 5,000 genes) from Debian's r-cran-nmf, or None (with
    the reason printed) when it cannot be fetched here. Needs apt-get and ``pip install rdata``."""
    try:
        import rdata
    except ImportError:
        print("esGolub skipped: pip install rdata (or the [bench] extra) to read it")
        return None
    with tempfile.TemporaryDirectory() as folder:
        try:
            subprocess.run(["apt-get", "download", "r-cran-nmf"], cwd=folder, check=True, capture_output=True)
            package = glob.glob(f"{folder}/r-cran-nmf_*.deb")[0]
            subprocess.run(["dpkg-deb", "-x", package, f"{folder}/x"], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError, IndexError) as err:
            print(f"esGolub skipped: could not fetch Debian's r-cran-nmf ({err})")
            return None
        path = glob.glob(f"{folder}/x/**/esGolub.rda", recursive=True)[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rdata has no constructors for Bioconductor's classes
            converted = rdata.conversion.convert(rdata.parser.parse_file(path))
    return np.asarray(converted["esGolub"].assayData.frame["exprs"].values, dtype=np.float64).T


def golub_rank_selection() -> pd.DataFrame | None:
    """Brunet et al.'s rank selection on esGolub: KL NMF, k = 2..6, 10 restarts each."""
    X = golub_expression()
    if X is None:
        return None
    start = time.perf_counter()
    result = select_n_components(X, range(2, 7), n_restarts=10, random_state=0, loss="kl", max_iter=1000)
    table = result.table.assign(recommended=lambda t: t.index == result.recommended)
    print(table.round(3).to_string())
    print(f"esGolub: recommended k = {result.recommended} ({time.perf_counter() - start:.0f} s)")
    return table


def summary(results: pd.DataFrame) -> pd.DataFrame:
    return results.groupby(["dataset", "method"], sort=False)[["ari", "nmi", "seconds"]].mean().reset_index()


def format_report(results: pd.DataFrame, seeds_of: dict[str, int], golub: pd.DataFrame | None) -> str:
    table = summary(results)
    n_seeds = results.groupby(["dataset", "method"], sort=False)["seed"].nunique().to_numpy()
    lines = [
        "# Quality benchmark",
        "",
        f"Produced by `python benchmarks/bench_quality.py --write --auto-seeds {seeds_of['auto']} --slow-auto-seeds "
        f"{seeds_of['slow']}`. ARI and NMI of KMeans clusters (n_init = 10) of the target's usages (rows scaled to "
        "unit length when there are two or more topics) or PCA/cPCA coordinates against the true subgroups; mean "
        f"over seeds ({len(SIMULATION_SEEDS)} per simulation setting, {len(MICE_SEEDS)} for the mice data; column "
        "`seeds`). Seconds are per fit on the machine of `RESULTS.md` (automatic fits include their selection). "
        "Disentangled rows cluster the usages of the enriched topics only.",
        "",
        f"Simulation: {SIMULATION_SIZE}.",
        "",
        "| dataset | method | seeds | ARI | NMI | seconds |",
        "|---|---|---:|---:|---:|---:|",
        *[f"| {r.dataset} | {r.method} | {n} | {r.ari:.3f} | {r.nmi:.3f} | {r.seconds:.1f} |"
          for r, n in zip(table.itertuples(), n_seeds)],
        "",
        "## Rank selection on Golub's leukaemia data",
        "",
    ]
    if golub is None:
        lines += ["Not run here (needs apt-get for Debian's r-cran-nmf and `pip install rdata`).", ""]
    else:
        lines += [
            "esGolub (38 samples x 5,000 genes, Debian r-cran-nmf), KL NMF, 10 restarts per k "
            "(`bcnmf.selection.select_n_components`); Brunet et al. (2004) found k = 2 and 3 stable.",
            "",
            "| k | cophenetic | dispersion | smallest silhouette | held-out loss | recommended |",
            "|---:|---:|---:|---:|---:|:---:|",
            *[f"| {k} | {r.cophenetic:.3f} | {r.dispersion:.3f} | {r.min_silhouette:.3f} | {r.heldout_loss:.2f} | "
              f"{'yes' if r.recommended else ''} |" for k, r in golub.iterrows()],
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="write benchmarks/QUALITY.md")
    parser.add_argument("--auto-seeds", type=int, default=max(len(SIMULATION_SEEDS), len(MICE_SEEDS)),
                        help="run the automatic fits on the first N seeds only")
    parser.add_argument("--slow-auto-seeds", type=int, default=1,
                        help="run plain bcNMF with k=auto (up to half an hour per fit) on the first N seeds (default 1)")
    args = parser.parse_args()
    seeds_of = {"auto": args.auto_seeds, "slow": args.slow_auto_seeds}
    golub = golub_rank_selection()
    results = pd.concat([run(mice_methods, mice_datasets(), seeds_of),
                         run(simulation_methods, simulation_datasets(), seeds_of)])
    report = format_report(results, seeds_of, golub)
    print(report)
    if args.write:
        (HERE / "QUALITY.md").write_text(report)


if __name__ == "__main__":
    main()

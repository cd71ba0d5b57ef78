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
from sklearn.utils import Bunch

from bcnmf import BCNMF, NMF, ContrastivePCA
from bcnmf.datasets import (
    digits_on_texture,
    mice_protein,
    simulate_case_control,
    simulate_contrastive,
)
from bcnmf.enrichment.topics import BACKGROUND_ENRICHED, ENRICHED, topic_shares
from bcnmf.evaluation import fit_published
from bcnmf.selection import select_n_components

HERE = Path(__file__).resolve().parent
BETAS = (0, 1, 2, 4, 8, 16)
SIMULATION_SEEDS = (0, 1, 2)
MICE_SEEDS = (0, 1, 2, 3, 4)
#: A third of the library's default simulation, so that the automatic choices (about 60 extra fits
#: each) finish in minutes per dataset on two cores.
SIMULATION_SIZE = {"n_features": 1000, "n_target": 500, "n_background": 500}
CASE_CONTROL_SIZE = {"n_genes": 1000, "n_target": 800, "n_background": 800}
CASE_CONTROL_SEEDS = (0, 1, 2)
DIGIT_SEEDS = (0, 1, 2)
SECTIONS = ("case-control", "planted", "golub")
#: The null of the case/control section: nothing planted, a batch-wide scale of the target.
NULL_SETTINGS = {"n_responses": 0, "lost_cell_type": False, "n_genes_down": 0, "batch_scale": 2.0}
try:
    import torch  # noqa: F401  (the published updates run on PyTorch when it is installed)

    PUBLISHED_BACKEND = "torch"
except ImportError:
    PUBLISHED_BACKEND = "numpy"


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


class Outcome(NamedTuple):
    """What a case/control method gives: an embedding of the target to cluster, its loadings (None
    for PCA/cPCA), its per-topic labels (None for methods that label nothing) and, for the default,
    every topic's shares (clustered too: the protocol of the other methods)."""

    embedding: np.ndarray
    components: np.ndarray | None = None
    labels: np.ndarray | None = None
    every_topic: np.ndarray | None = None


def shares(usages: np.ndarray, components: np.ndarray, X) -> np.ndarray:
    """Each topic's share of each row's total (:func:`bcnmf.enrichment.topics.topic_shares`)."""
    return topic_shares(usages, components, np.asarray(X.sum(axis=1)).ravel())


def default_path(target, background, seed: int) -> Outcome:
    """What ``bcnmf fit`` runs with no model setting; clustered on the enriched topics' shares."""
    model = BCNMF("auto", n_enriched="auto", random_state=seed).fit(target, background)
    enriched = slice(model.n_components_ - model.n_enriched_, None)
    every_topic = shares(model.target_usage_, model.components_, target)
    return Outcome(every_topic[:, enriched], model.components_, model.enrichment_["label"].to_numpy(), every_topic)


def published_ours(target, background, seed: int, loss: str) -> Outcome:
    model = BCNMF(2, alpha=1.0, loss=loss, random_state=seed).fit(target, background)
    return Outcome(shares(model.target_usage_, model.components_, target), model.components_,
                   model.enrichment_["label"].to_numpy())


def published_updates(target, background, seed: int, loss: str) -> Outcome:
    Wt, _, H = fit_published(target, background, 2, 1.0, loss=loss, seed=seed, backend=PUBLISHED_BACKEND)
    return Outcome(shares(Wt, H, target), H)


def case_control_methods(seed: int, loss: str, log_normalized: bool) -> dict[str, Callable[..., Outcome]]:
    """The methods of the case/control section: the default path, the published model (ours and
    the published updates) at k = 2 and alpha = 1 with ``loss``, NMF of the target, PCA, cPCA
    (on log-normalised data when ``log_normalized``)."""
    prepare = log_normalize if log_normalized else np.asarray
    return {
        "default (bcnmf fit: auto shared + enriched, kl)": lambda t, b: default_path(t, b, seed),
        f"bcNMF {loss}, k=2, alpha=1": lambda t, b: published_ours(t, b, seed, loss),
        f"published updates ({PUBLISHED_BACKEND}) {loss}, k=2, alpha=1, 500 it":
            lambda t, b: published_updates(t, b, seed, loss),
        f"NMF {loss} on target, k=2": lambda t, b: Outcome(*nmf_outcome(t, seed, loss)),
        "PCA on target, 2 dims": lambda t, b: Outcome(PCA(2).fit_transform(prepare(dense(t)))),
        "cPCA, auto alpha": lambda t, b: Outcome(
            ContrastivePCA(2, random_state=seed).fit_transform(prepare(dense(t)), prepare(dense(b)))),
    }


def nmf_outcome(target, seed: int, loss: str) -> tuple[np.ndarray, np.ndarray]:
    model = NMF(2, loss=loss, random_state=seed)
    usages = model.fit_transform(target)
    return shares(usages, model.components_, target), model.components_


def dense(X) -> np.ndarray:
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)


def unit_rows(A: np.ndarray) -> np.ndarray:
    return A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)


def case_control_row(dataset: str, seed: int, method: str, run_method, data, planted: bool) -> dict:
    """Fit one method to one case/control dataset and score it (see :func:`run_case_control`)."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = run_method(data.target, data.background)
    row = {"dataset": dataset, "seed": seed, "method": method, "seconds": time.perf_counter() - start}
    responses = getattr(data, "response_programs", None)
    if planted:
        row["ari"] = scores(outcome.embedding, data.target_labels, usages=False)[0]
        if outcome.every_topic is not None:
            row["ari_every_topic"] = scores(outcome.every_topic, data.target_labels, usages=False)[0]
        if responses is not None and outcome.components is not None:
            cosine = unit_rows(responses) @ unit_rows(outcome.components).T
            row["cosine"] = float(cosine.max(axis=1).min())
            if outcome.labels is not None:
                best = set(cosine.argmax(axis=1).tolist())
                row["labels_correct"] = bool(all(outcome.labels[t] == ENRICHED for t in best)
                                             and sum(label == ENRICHED for label in outcome.labels) == len(best))
    elif outcome.labels is not None:
        row["false_labels"] = int(sum(label in (ENRICHED, BACKGROUND_ENRICHED) for label in outcome.labels))
    print({key: round(value, 3) if isinstance(value, float) else value for key, value in row.items()}, flush=True)
    return row


def run_case_control() -> pd.DataFrame:
    """The realistic simulator (both generators, planted and null), the digits-on-texture demo and
    the mice protein data, every method of :func:`case_control_methods`."""
    rows = []
    for structure in ("cell_types", "programs"):
        for seed in CASE_CONTROL_SEEDS:
            for planted in (True, False):
                settings = {} if planted else NULL_SETTINGS
                data = simulate_case_control(structure=structure, seed=seed, **CASE_CONTROL_SIZE, **settings)
                data.target_labels = data.target_responses
                dataset = f"case/control {structure}" + ("" if planted else " null (batch scale x2)")
                for method, run_method in case_control_methods(seed, "kl", log_normalized=True).items():
                    if planted or method.startswith(("default", "bcNMF")):
                        rows.append(case_control_row(dataset, seed, method, run_method, data, planted))
    for seed in DIGIT_SEEDS:
        data = digits_on_texture(seed=seed)
        for method, run_method in case_control_methods(seed, "frobenius", log_normalized=False).items():
            rows.append(case_control_row("digits on texture", seed, method, run_method, data, True))
    mice = mice_protein()
    data = Bunch(target=mice.target.to_numpy(), background=mice.background.to_numpy(), target_labels=mice.target_labels)
    for seed in MICE_SEEDS:
        for method, run_method in case_control_methods(seed, "frobenius", log_normalized=False).items():
            rows.append(case_control_row("mice protein", seed, method, run_method, data, True))
    return pd.DataFrame(rows)


def format_case_control(results: pd.DataFrame) -> list[str]:
    columns = ["ari", "ari_every_topic", "cosine", "labels_correct", "false_labels", "seconds"]
    table = results.reindex(columns=["dataset", "method", "seed", *columns]).groupby(
        ["dataset", "method"], sort=False).agg({"seed": "nunique", **{c: "mean" for c in columns}}).reset_index()

    def cell(value, digits: int = 3) -> str:
        return "" if pd.isna(value) else f"{value:.{digits}f}"

    return [
        "## Case/control data: the default path against the published model and the usual methods",
        "",
        f"Realistic simulator `simulate_case_control` ({CASE_CONTROL_SIZE}; planted: two responses, a lost cell "
        "type, a repressed program, deeper target sequencing; null: nothing planted, the target's counts doubled), "
        "the digits-on-texture demo and the mice protein data. `ari`: KMeans of the target's embedding (the "
        "enriched topics' shares for the default, every topic's shares for the others, coordinates for PCA/cPCA) "
        "against the responders (simulator: none / response 1 / response 2), the digits, the genotypes (mice); "
        "`ari, every topic`: the same from every topic's shares of the default. `cosine`: the worst planted "
        "response's best topic. `labels_correct`: fraction of seeds where every response's topic is labelled target-enriched and no other topic is. `false_labels`: topics labelled "
        "enriched either way under the null. Count data: KL and log-normalised PCA/cPCA; digits and mice: "
        "squared error. The published updates are the authors' multiplicative rules from a uniform random start.",
        "",
        "| dataset | method | seeds | ARI | ARI, every topic | cosine | labels correct | false labels | seconds |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        *[f"| {r.dataset} | {r.method} | {r.seed} | {cell(r.ari)} | {cell(r.ari_every_topic)} | {cell(r.cosine)} | "
          f"{cell(r.labels_correct, 2)} | {cell(r.false_labels, 1)} | {r.seconds:.1f} |" for r in table.itertuples()],
        "",
    ]


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


def format_planted(results: pd.DataFrame, seeds_of: dict[str, int]) -> list[str]:
    table = summary(results)
    n_seeds = results.groupby(["dataset", "method"], sort=False)["seed"].nunique().to_numpy()
    return [
        "## Planted subgroups: the simulation of the tests and the mice protein data",
        "",
        f"`--sections planted --auto-seeds {seeds_of['auto']} --slow-auto-seeds {seeds_of['slow']}`. ARI and NMI "
        "of KMeans clusters (n_init = 10) of the target's usages (rows scaled to unit length when there are two or "
        "more topics) or PCA/cPCA coordinates against the true subgroups; mean over seeds "
        f"({len(SIMULATION_SEEDS)} per simulation setting, {len(MICE_SEEDS)} for the mice data; column `seeds`). "
        "Seconds are per fit on the machine of `RESULTS.md` (automatic fits include their selection). "
        "Disentangled rows cluster the usages of the enriched topics only.",
        "",
        f"Simulation: {SIMULATION_SIZE}.",
        "",
        "| dataset | method | seeds | ARI | NMI | seconds |",
        "|---|---|---:|---:|---:|---:|",
        *[f"| {r.dataset} | {r.method} | {n} | {r.ari:.3f} | {r.nmi:.3f} | {r.seconds:.1f} |"
          for r, n in zip(table.itertuples(), n_seeds)],
        "",
    ]


def format_golub(golub: pd.DataFrame | None) -> list[str]:
    lines = ["## Rank selection on Golub's leukaemia data", ""]
    if golub is None:
        return lines + ["Not run here (needs apt-get for Debian's r-cran-nmf and `pip install rdata`).", ""]
    return lines + [
        "esGolub (38 samples x 5,000 genes, Debian r-cran-nmf), KL NMF, 10 restarts per k "
        "(`bcnmf.selection.select_n_components`); Brunet et al. (2004) found k = 2 and 3 stable.",
        "",
        "| k | cophenetic | dispersion | smallest silhouette | held-out loss | recommended |",
        "|---:|---:|---:|---:|---:|:---:|",
        *[f"| {k} | {r.cophenetic:.3f} | {r.dispersion:.3f} | {r.min_silhouette:.3f} | {r.heldout_loss:.2f} | "
          f"{'yes' if r.recommended else ''} |" for k, r in golub.iterrows()],
        "",
    ]


def sections_of(text: str) -> dict[str, str]:
    """The ``## `` sections of a report, by heading (what ``--write`` keeps of sections not run)."""
    parts = text.split("\n## ")
    return {part.split("\n", 1)[0]: "## " + part.rstrip("\n") + "\n" for part in parts[1:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="write benchmarks/QUALITY.md")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="which sections to run (default all); --write keeps the others from QUALITY.md")
    parser.add_argument("--auto-seeds", type=int, default=max(len(SIMULATION_SEEDS), len(MICE_SEEDS)),
                        help="run the automatic fits of the planted section on the first N seeds only")
    parser.add_argument("--slow-auto-seeds", type=int, default=1,
                        help="run plain bcNMF with k=auto (up to half an hour per fit) on the first N seeds (default 1)")
    args = parser.parse_args()
    seeds_of = {"auto": args.auto_seeds, "slow": args.slow_auto_seeds}
    path = HERE / "QUALITY.md"
    sections = sections_of(path.read_text()) if path.exists() else {}
    produced = {}
    if "case-control" in args.sections:
        produced["case-control"] = format_case_control(run_case_control())
    if "planted" in args.sections:
        produced["planted"] = format_planted(pd.concat([run(mice_methods, mice_datasets(), seeds_of),
                                                         run(simulation_methods, simulation_datasets(), seeds_of)]),
                                             seeds_of)
    if "golub" in args.sections:
        produced["golub"] = format_golub(golub_rank_selection())
    for lines in produced.values():
        sections[lines[0].removeprefix("## ")] = "\n".join(lines)
    report = "\n".join(["# Quality benchmark", "", "Produced by `python benchmarks/bench_quality.py --write` "
                        "(or `bcnmf benchmark quality --write`); each section says what it measures.", "",
                        *sections.values()])
    print(report)
    if args.write:
        path.write_text(report)


if __name__ == "__main__":
    main()

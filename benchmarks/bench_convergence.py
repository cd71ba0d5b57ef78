"""Time to a solution: objective against wall time, for our update rules and the peers.

Run ``python benchmarks/bench_convergence.py`` (``--write`` adds the section to
``benchmarks/RESULTS.md``). Every method starts from the same factors (NNDSVDa of the data, passed
as ``init="custom"``) and is run for a growing number of iterations (every one up to 8, then
about 20% more each run, until one run takes longer than ``--budget`` seconds, ``--kl-budget`` on
the KL and bcNMF problems); each run is timed from the call of ``fit`` to its return (the best of
three for runs under a second), and its objective is computed afterwards by one function for all
methods (float64). A method's time to ``q`` is the first time at which its objective is within
``q`` of the best any method reached on that problem.

Problems (k = 20, float32): sparse counts (10,000 x 2,000, 10% non-zero, Poisson values on a random
pattern, as in ``bench_speed.py``) and a dense low-rank matrix with noise (5,000 x 1,000), each with
squared error and KL; and bcNMF (sparse target and background of 10,000 x 2,000: contrastive,
alpha = 1, with squared error and KL; disentangled at alpha = 0 with KL), our multiplicative
updates against our coordinate descent where it applies, from the model's default start, the
objective as the model reports it. Last, the cost of a whole default fit against its iterations.

Peers: scikit-learn's ``NMF`` (``solver="cd"`` for squared error, ``"mu"`` for both) and
``MiniBatchNMF``; nmf-torch (HALS with one sweep, its default HALS variant and MU, on the CPU;
``pip install torch nmf-torch``) and RcppML (``Rscript``, Debian
``r-cran-rcppml``) when installed, skipped with a note otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_speed import machine, sparse_counts  # noqa: E402

K = 20
QUALITIES = (1e-2, 1e-3, 1e-4)
#: Iterations per run: fine up to 60, where the squared-error solvers reach 0.1%, so that a time to a
#: quality is not rounded up to the next rung by half an iteration count; coarse after.
LADDER = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 19, 22, 26, 30, 35, 40, 50, 60, 75, 90, 110, 135, 165, 200,
          300, 450, 700, 1000)
#: Runs shorter than this many seconds are timed this many times and the fastest kept: at a tenth
#: of a second the machine's noise (tens of percent) otherwise decides who comes first.
SHORT_RUN, SHORT_REPEATS = 1.0, 3
#: ``run(X, W0, H0, n_iter) -> (W, H)``, or ``(W, H, seconds)`` for a runner that times itself.
Runner = Callable[[object, np.ndarray, np.ndarray, int], tuple]


def dense_low_rank(n: int, p: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.gamma(0.5, 1.0, (n, K)) @ rng.gamma(0.3, 1.0, (K, p)) + rng.random((n, p))).astype(np.float32)


def objective(X, W: np.ndarray, H: np.ndarray, loss: str) -> float:
    """Half the squared error, or the generalised KL divergence, in float64 (stored entries of a
    sparse ``X`` plus the model's total)."""
    W = np.asarray(W, dtype=np.float64)
    H = np.asarray(H, dtype=np.float64)
    if loss == "frobenius":
        if sp.issparse(X):
            cross = float(np.sum((X.T @ W).T * H))
            return 0.5 * (float(X.multiply(X).sum()) - 2.0 * cross + float(np.sum((W.T @ W) * (H @ H.T))))
        return 0.5 * float(np.sum((np.asarray(X, dtype=np.float64) - W @ H) ** 2))
    X = sp.csr_matrix(X)
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    model = np.empty(X.nnz)
    for start in range(0, X.nnz, 1 << 18):
        part = slice(start, start + (1 << 18))
        model[part] = np.einsum("ij,ji->i", W[rows[part]], H[:, X.indices[part]])
    x = X.data.astype(np.float64)
    return float(np.sum(x * np.log(x / np.maximum(model, 1e-300)) - x) + W.sum(axis=0) @ H.sum(axis=1))


# -- the methods ------------------------------------------------------------------------------------

def ours(update: str, loss: str) -> Runner:
    from bcnmf import NMF

    def run(X, W0, H0, n_iter):
        model = NMF(K, loss=loss, update=update, init="custom", max_iter=n_iter, tol=0.0)
        W = model.fit_transform(X, W=W0.copy(), H=H0.copy())
        return W, model.components_
    return run


#: scikit-learn's names of our losses.
SKLEARN_LOSS = {"frobenius": "frobenius", "kl": "kullback-leibler"}


def sklearn_nmf(solver: str, loss: str) -> Runner:
    from sklearn.decomposition import NMF

    def run(X, W0, H0, n_iter):
        model = NMF(K, solver=solver, beta_loss=SKLEARN_LOSS[loss], init="custom", max_iter=n_iter, tol=0.0)
        W = model.fit_transform(X, W=W0.copy(), H=H0.copy())
        return W, model.components_
    return run


def sklearn_minibatch(loss: str) -> Runner:
    from sklearn.decomposition import MiniBatchNMF

    def run(X, W0, H0, n_iter):
        model = MiniBatchNMF(K, beta_loss=SKLEARN_LOSS[loss], init="custom", max_iter=n_iter, tol=0.0, max_no_improvement=None,
                             batch_size=1024, random_state=0)
        W = model.fit_transform(X, W=W0.copy(), H=H0.copy())
        return W, model.components_
    return run


def nmf_torch(algo: str, loss: str) -> Runner:
    """nmf-torch's batch solvers on the CPU (``"hals"``: one sweep per factor and iteration, as
    its ``run_nmf(algo="hals")``; ``"halsvar"``: its default, sweeps until they stop moving;
    ``"mu"``). ``run_nmf`` takes no starting factors, so its model class is given ours in place of
    its own start. It takes dense input only: the densification and the copy to torch are made
    before the clock starts, and the fit is timed alone."""
    import contextlib
    import io

    import torch
    from nmf.nmf_models import NMFBatchHALS, NMFBatchMU

    beta = {"frobenius": 2.0, "kl": 1.0}[loss]
    base = NMFBatchMU if algo == "mu" else NMFBatchHALS
    settings = {"hals_max_iter": 1 if algo == "hals" else 200} if base is NMFBatchHALS else {}

    def run(X, W0, H0, n_iter):
        dense = torch.from_numpy(np.ascontiguousarray(X.toarray() if sp.issparse(X) else X, dtype=np.float32))

        class GivenStart(base):
            # nmf-torch names the usages H and the loadings W.
            def _initialize_H_W(self, eps=1e-6):
                self.H, self.W = torch.from_numpy(W0.copy()), torch.from_numpy(H0.copy())

        model = GivenStart(n_components=K, init="nndsvda", beta_loss=beta, tol=0.0, random_state=0, alpha_W=0.0,
                           l1_ratio_W=0.0, alpha_H=0.0, l1_ratio_H=0.0, fp_precision="float", device_type="cpu",
                           max_iter=n_iter, **settings)
        with contextlib.redirect_stdout(io.StringIO()):  # it prints every tenth iteration
            start = time.perf_counter()
            model.fit(dense)
            seconds = time.perf_counter() - start
        return model.H.numpy(), model.W.numpy(), seconds
    return run


def rcppml() -> Runner:
    """RcppML's ``nmf`` (squared error, alternating NNLS) through ``Rscript``. Version 0.3.7 takes
    no starting matrix (``seed`` is a number), so it starts from its own random factors, and its
    sparse path fails in Debian's build (``Cannot convert object to an environment``), so it gets
    the matrix in dense form. It is timed inside R, the ``nmf`` call alone (not R's start, the
    files nor the densification)."""

    def run(X, W0, H0, n_iter):
        import tempfile

        from scipy.io import mmwrite

        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            mmwrite(folder / "x.mtx", sp.csr_matrix(X))
            script = (f"library(Matrix); library(RcppML); X <- as.matrix(readMM('{folder}/x.mtx'));"
                      f"t0 <- Sys.time();"
                      f"m <- RcppML::nmf(X, {K}, maxit={n_iter}, tol=1e-12, seed=0, verbose=FALSE);"
                      f"cat(as.numeric(difftime(Sys.time(), t0, units='secs')), file='{folder}/seconds.txt');"
                      f"write.table(m$w %*% diag(m$d), '{folder}/wo.txt', row.names=FALSE, col.names=FALSE);"
                      f"write.table(m$h, '{folder}/ho.txt', row.names=FALSE, col.names=FALSE)")
            subprocess.run(["Rscript", "-e", script], check=True, capture_output=True)
            seconds = float((folder / "seconds.txt").read_text())
            return np.loadtxt(folder / "wo.txt"), np.loadtxt(folder / "ho.txt"), seconds
    return run


def methods(loss: str) -> tuple[dict[str, Runner], list[str]]:
    """The runners for ``loss`` that can run here, and notes on those that cannot."""
    from bcnmf.engine import update_rule
    from bcnmf.losses import make_loss

    default = update_rule("auto", make_loss(loss)).name
    runners = {f"bcnmf default ({default})": ours("auto", loss)}
    if default != "mu":
        runners["bcnmf mu (the default before)"] = ours("mu", loss)
    notes = []
    if loss == "frobenius":
        runners["scikit-learn cd"] = sklearn_nmf("cd", loss)
    runners["scikit-learn mu"] = sklearn_nmf("mu", loss)
    runners["scikit-learn MiniBatchNMF"] = sklearn_minibatch(loss)
    if importlib.util.find_spec("nmf") and importlib.util.find_spec("torch"):
        notes.append(f"nmf-torch {version('nmf-torch')} with PyTorch {version('torch')}, "
                     "on the CPU with PyTorch's default threads.")
        runners["nmf-torch mu"] = nmf_torch("mu", loss)
        if loss == "frobenius":
            runners["nmf-torch hals"] = nmf_torch("hals", loss)
            runners["nmf-torch halsvar"] = nmf_torch("halsvar", loss)
    else:
        notes.append("nmf-torch is not installed here (`pip install nmf-torch` needs PyTorch): not run.")
    if loss == "frobenius":
        available = shutil.which("Rscript") and subprocess.run(
            ["Rscript", "-e", "library(RcppML)"], capture_output=True).returncode == 0
        if available:
            runners["RcppML"] = rcppml()
        else:
            notes.append("RcppML is not installed here (Debian `r-cran-rcppml`): not run.")
    return runners, notes


# -- the measurement ------------------------------------------------------------------------------

def trace(run: Runner, X, W0, H0, loss: str, budget: float) -> list[tuple[int, float, float]]:
    """``(iterations, seconds, objective)`` along the ladder, until one run exceeds ``budget``."""
    points = []
    for n_iter in LADDER:
        seconds = np.inf
        for repeat in range(SHORT_REPEATS):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                W, H, *timed = run(X, W0, H0, n_iter)
                seconds = min(seconds, timed[0] if timed else time.perf_counter() - start)
            if seconds > SHORT_RUN:
                break
        points.append((n_iter, seconds, objective(X, W, H, loss)))
        if seconds > budget:
            break
    return points


def times_to(points, best: float) -> dict[str, float]:
    """Seconds until the objective is within each of :data:`QUALITIES` of ``best`` (nan: never)."""
    out = {}
    for q in QUALITIES:
        reached = [seconds for _, seconds, value in points if value <= best * (1 + q)]
        out[f"to {q:.2%}"] = min(reached) if reached else np.nan
    return out


def nmf_problem(name: str, X, loss: str, budget: float) -> tuple[pd.DataFrame, list[str]]:
    from sklearn.decomposition._nmf import _initialize_nmf

    W0, H0 = (F.astype(np.float32) for F in _initialize_nmf(X, K, init="nndsvda", random_state=0))
    runners, notes = methods(loss)
    ours("auto", loss)(X, W0, H0, 1)  # compile the kernels outside the clock
    traces = {}
    for method, run in runners.items():
        traces[method] = trace(run, X, W0, H0, loss, budget)
        print(f"{name}: {method} done", file=sys.stderr, flush=True)
    traces["bcnmf NMF() with its defaults"] = defaults_trace(X, loss)
    best = min(value for points in traces.values() for _, _, value in points)
    rows = []
    for method, points in traces.items():
        rows.append({"problem": name, "method": method, **times_to(points, best),
                     "final gap": points[-1][2] / best - 1, "iterations run": points[-1][0]})
        print(rows[-1], flush=True)
    return pd.DataFrame(rows), notes


def defaults_trace(X, loss: str) -> list[tuple[int, float, float]]:
    """One fit as a user runs it: ``NMF(K, loss=loss)``, its own start, ``max_iter`` and ``tol``."""
    from bcnmf import NMF

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model = NMF(K, loss=loss)
        W = model.fit_transform(X)
        seconds = time.perf_counter() - start
    return [(model.n_iter_, seconds, objective(X, W, model.components_, loss))]


#: The bcNMF problems: a name, the model's settings, and the rules compared.
BCNMF_PROBLEMS = (
    ("bcNMF alpha=1, sparse 2 x 10,000 x 2,000, frobenius (log1p)", dict(alpha=1.0, loss="frobenius"), ("mu", "cd")),
    ("bcNMF alpha=1, sparse 2 x 10,000 x 2,000, KL", dict(alpha=1.0, loss="kl"), ("mu",)),
    ("disentangled bcNMF (17 shared + 3 enriched, alpha=0), sparse 2 x 10,000 x 2,000, KL",
     dict(n_enriched=3, loss="kl"), ("mu", "cd")),
)


def bcnmf_problem(name: str, settings: dict, updates: tuple[str, ...], budget: float) -> pd.DataFrame:
    """One bcNMF problem: each of ``updates`` from the model's default start."""
    from bcnmf import BCNMF

    Xt = sparse_counts(10_000, 2_000, 0.10, seed=1)
    Xb = sparse_counts(10_000, 2_000, 0.10, seed=2)
    if settings["loss"] == "frobenius":
        Xt, Xb = Xt.log1p(), Xb.log1p()
    BCNMF(K, **settings, max_iter=1, tol=0.0).fit(Xt, Xb)
    traces = {}
    for update in updates:
        points = []
        for n_iter in LADDER:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                model = BCNMF(K, **settings, update=update, max_iter=n_iter, tol=0.0, eval_every=n_iter)
                model.fit(Xt, Xb)
                seconds = time.perf_counter() - start
            points.append((n_iter, seconds, float(model.objective_curve_[-1])))
            if seconds > budget:
                break
        traces[f"bcnmf {update}"] = points
    # The contrastive objective can be negative: measure the gap against its absolute value.
    best = min(value for points in traces.values() for _, _, value in points)
    rows = []
    for method, points in traces.items():
        shifted = [(i, s, v - best + abs(best)) for i, s, v in points]
        rows.append({"problem": name, "method": method,
                     **times_to(shifted, abs(best)), "final gap": (points[-1][2] - best) / abs(best),
                     "iterations run": points[-1][0]})
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def whole_fit_cost(n_iter: int = 40) -> str:
    """A default KL ``BCNMF`` fit of ``n_iter`` iterations on 2 x 10,000 x 3,000 (10%) against its
    iterations alone: the per-iteration time from fits of 1 and ``n_iter + 1`` iterations that
    start from given loadings (no contrastive start), times ``n_iter``."""
    from bcnmf import BCNMF

    Xt = sparse_counts(10_000, 3_000, 0.10, seed=0)
    Xb = sparse_counts(10_000, 3_000, 0.10, seed=1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        H0 = BCNMF(K, loss="kl", max_iter=1, tol=0.0).fit(Xt, Xb).components_

    def seconds(**settings) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            BCNMF(K, loss="kl", tol=0.0, **settings).fit(Xt, Xb, **({"H": H0} if "init" in settings else {}))
            return time.perf_counter() - start

    whole = min(seconds(max_iter=n_iter) for _ in range(3))
    one = min(seconds(max_iter=1, init="custom") for _ in range(3))
    more = min(seconds(max_iter=n_iter + 1, init="custom") for _ in range(3))
    per_iteration = (more - one) / n_iter
    return (f"Whole default fit (KL, alpha = 1, contrastive start) of {n_iter} iterations on 2 x 10,000 x 3,000 "
            f"(10%), best of 3: {whole:.2f} s; its {n_iter} iterations alone {n_iter * per_iteration:.2f} s "
            f"({per_iteration * 1e3:.1f} ms each): ratio {whole / (n_iter * per_iteration):.2f}.")


def format_results(results: pd.DataFrame, notes: list[str], budget: float, kl_budget: float) -> str:
    def cell(value: float) -> str:
        return "never" if pd.isna(value) else f"{value:.2f}"

    columns = [f"to {q:.2%}" for q in QUALITIES]
    lines = [
        "## Time to a solution",
        "",
        f"`python benchmarks/bench_convergence.py --write` ({time.strftime('%Y-%m-%d')}; {machine()}). "
        "Seconds from the call of `fit` until the objective is within 1%, 0.1% and 0.01% of the best any "
        "method reached on the problem, from the same NNDSVDa start (`init=\"custom\"`), k = 20, float32; "
        f"each method run for 1, 2, ..., 8, 10, 12, 14, 16, 19, ... iterations (about 20% more each run) until one run "
        f"took over {budget:g} s ({kl_budget:g} s on the KL and bcNMF problems); runs under {SHORT_RUN:g} s timed {SHORT_REPEATS} times, the fastest kept. "
        "`final gap`: the longest run's distance from the best. bcNMF rows start from the model's default start.",
        "",
        "| problem | method | " + " | ".join(columns) + " | final gap | iterations |",
        "|---|---|" + "---:|" * (len(columns) + 2),
    ]
    for r in results.to_dict("records"):
        lines.append(f"| {r['problem']} | {r['method']} | " + " | ".join(cell(r[c]) for c in columns)
                     + f" | {r['final gap']:.2%} | {r['iterations run']} |")
    lines += ["", *[f"- {note}" for note in dict.fromkeys(notes)], ""]
    return "\n".join(lines)


def write_section(text: str) -> None:
    path = HERE / "RESULTS.md"
    current = path.read_text()
    header = "## Time to a solution"
    if header in current:
        before, _, rest = current.partition(header)
        following = rest.find("\n## ")
        current = before + (rest[following + 1:] if following >= 0 else "")
    path.write_text(current.rstrip() + "\n\n" + text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="write the section into benchmarks/RESULTS.md")
    parser.add_argument("--budget", type=float, default=5.0,
                        help="longest single run per method on the squared-error problems (seconds)")
    parser.add_argument("--kl-budget", type=float, default=15.0,
                        help="the same on the KL and bcNMF problems, whose solvers need several seconds to 0.1%%")
    args = parser.parse_args()
    problems = [("sparse counts 10,000 x 2,000", sparse_counts(10_000, 2_000, 0.10, seed=0)),
                ("dense 5,000 x 1,000", dense_low_rank(5_000, 1_000, seed=0))]
    frames, notes = [], []
    for loss in ("frobenius", "kullback-leibler"):
        for name, X in problems:
            squared = loss == "frobenius"
            frame, problem_notes = nmf_problem(f"{name}, {'squared error' if squared else 'KL'}", X,
                                               "frobenius" if squared else "kl",
                                               args.budget if squared else args.kl_budget)
            frames.append(frame)
            notes += problem_notes
    for name, settings, updates in BCNMF_PROBLEMS:
        frames.append(bcnmf_problem(name, settings, updates, args.kl_budget))
    notes.append(whole_fit_cost())
    text = format_results(pd.concat(frames, ignore_index=True), notes, args.budget, args.kl_budget)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()

"""Speed and memory of bcNMF against its peers and against this machine's own limits.

Run ``python benchmarks/bench_speed.py`` (add ``--write`` to update ``benchmarks/RESULTS.md``). The
PyTorch baseline needs ``pip install torch==2.13.0`` (a CPU build; the test suite does not need it).
Everything is timed in this one process, so the ratios hold on any machine:

* per iteration of KL bcNMF on sparse target and background (10,000 cells x 3,000 genes each,
  10% non-zero, k = 20, float32), against a dense PyTorch implementation of the published updates
  (all-ones matrices for the sums) and scikit-learn's ``NMF(solver="mu")`` run on the same two
  matrices;
* the roofline of that iteration: its non-zero work (8 k flops per stored entry: two sampled
  products and two sparse-dense products) at the GEMM rate this machine reaches on the same thin
  shapes (and on square matrices), and its bytes at the measured memory bandwidth;
* per pass of the mini-batch schedule against scikit-learn's ``MiniBatchNMF``, KL and Frobenius;
* Frobenius bcNMF on the log1p data against scikit-learn's MU, and dense Frobenius bcNMF against
  the bare BLAS calls it makes;
* the same KL comparison at 20,000 x 50,000 (5%), without the dense baseline, which would not fit;
* peak memory of sparse KL fits in a fresh process, against input + 4 x factors + 300 MB.

Per-iteration times are differences between fits of two lengths, so set-up (checks, init,
warm-up) cancels out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
N_CELLS, N_GENES, DENSITY, K = 10_000, 3_000, 0.10, 20
#: The large case: 20,000 x 50,000 at 5% (two such matrices).
LARGE = (20_000, 50_000, 0.05)
#: Rows per block for the mini-batch comparisons.
BATCH = 1024


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def per_iteration(fit, short: int, long: int, repeats: int = 2) -> float:
    """``(time(long) - time(short)) / (long - short)``, each the best of ``repeats``."""
    return (best_of(lambda: fit(long), repeats) - best_of(lambda: fit(short), repeats)) / (long - short)


def sparse_counts(n: int, p: int, density: float, seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csr", dtype=np.float32, random_state=seed)
    X.data[:] = rng.poisson(2.0, X.nnz) + 1
    return X


# -- machine limits --------------------------------------------------------------------------------


def gemm_rate(m: int, n: int, k: int) -> float:
    """GFLOP/s of float32 ``(m x k) @ (k x n)``."""
    rng = np.random.default_rng(0)
    A = rng.random((m, k), dtype=np.float32)
    B = rng.random((k, n), dtype=np.float32)
    A @ B
    return 2.0 * m * n * k / best_of(lambda: A @ B, 5) / 1e9


def bandwidth() -> float:
    """GB/s of a streaming ``c = a + b`` over 256 MiB arrays (three arrays' bytes moved)."""
    a = np.ones(2**26, dtype=np.float32)
    b = np.ones_like(a)
    c = np.empty_like(a)
    return 3 * a.nbytes / best_of(lambda: np.add(a, b, out=c), 5) / 1e9


# -- KL: bcnmf against the dense published updates and scikit-learn ---------------------------------


def torch_published_kl(Xt, Xb, alpha: float = 1.0):
    """The bcNMF KL updates as published, dense, with all-ones matrices: one iteration's time."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    gen = torch.Generator().manual_seed(0)
    Xt_d, Xb_d = torch.from_numpy(Xt.toarray()), torch.from_numpy(Xb.toarray())
    Wt = torch.rand(Xt.shape[0], K, generator=gen) + 0.1
    Wb = torch.rand(Xb.shape[0], K, generator=gen) + 0.1
    H = torch.rand(K, Xt.shape[1], generator=gen) + 0.1
    ones_t, ones_b = torch.ones_like(Xt_d), torch.ones_like(Xb_d)

    def iteration():
        Wt.mul_(((Xt_d / (Wt @ H)) @ H.T) / (ones_t @ H.T))
        Wb.mul_(((Xb_d / (Wb @ H)) @ H.T) / (ones_b @ H.T))
        numerator = Wt.T @ (Xt_d / (Wt @ H)) + alpha * (Wb.T @ ones_b)
        denominator = Wt.T @ ones_t + alpha * (Wb.T @ (Xb_d / (Wb @ H)))
        H.mul_(numerator / denominator)

    iteration()
    return best_of(iteration, 5)


def sklearn_per_iteration(Xt, Xb, beta_loss: str, minibatch: bool = False, short: int = 2, long: int = 5,
                          repeats: int = 2) -> float:
    """scikit-learn's NMF(solver="mu") (or MiniBatchNMF, per pass) on both matrices, per iteration."""
    from sklearn.decomposition import NMF as SkNMF
    from sklearn.decomposition import MiniBatchNMF

    rng = np.random.default_rng(0)
    starts = [(rng.random((X.shape[0], K), dtype=np.float32) + 0.1, rng.random((K, X.shape[1]), dtype=np.float32) + 0.1)
              for X in (Xt, Xb)]

    def fit(n_iter):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for X, (W, H) in zip((Xt, Xb), starts):
                if minibatch:
                    model = MiniBatchNMF(K, beta_loss=beta_loss, batch_size=BATCH, init="custom", max_iter=n_iter,
                                         tol=0, max_no_improvement=None)
                else:
                    model = SkNMF(K, solver="mu", beta_loss=beta_loss, init="custom", max_iter=n_iter, tol=0)
                model.fit(X, W=W.copy(), H=H.copy())

    return per_iteration(fit, short, long, repeats)


def bcnmf_per_iteration(Xt, Xb, loss: str, solver: str = "mu", short: int = 10, long: int = 40,
                        repeats: int = 2) -> float:
    """bcnmf's BCNMF per iteration (per pass over both datasets for the block solvers)."""
    from bcnmf import BCNMF

    def fit(n_iter):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            BCNMF(K, loss=loss, init="random", max_iter=n_iter, tol=0, random_state=0, solver=solver,
                  batch_size=BATCH).fit(Xt, Xb)

    return per_iteration(fit, short, long, repeats)


def kl_roofline(Xt, Xb, gemm_gflops: float, bandwidth_gbs: float) -> tuple[float, float, float]:
    """(seconds at the GEMM rate, seconds at the bandwidth, flops) for one KL bcNMF iteration."""
    nnz = Xt.nnz + Xb.nnz
    flops = 8.0 * K * nnz
    rows = Xt.shape[0] + Xb.shape[0]
    # Two passes over values and column indices, plus reading and writing the usages once.
    bytes_moved = 2 * nnz * (4 + 4) + 2 * rows * K * 4
    return flops / (gemm_gflops * 1e9), bytes_moved / (bandwidth_gbs * 1e9), flops


# -- Frobenius: bcnmf against its bare BLAS calls ---------------------------------------------------


def bare_frobenius_products(Xt, Xb) -> float:
    """Time of the BLAS products one dense Frobenius bcNMF iteration makes, as bare calls."""
    rng = np.random.default_rng(0)
    H = rng.random((K, Xt.shape[1]), dtype=np.float32)
    Ws = [rng.random((X.shape[0], K), dtype=np.float32) for X in (Xt, Xb)]

    def products():
        HHt = H @ H.T
        for X, W in zip((Xt, Xb), Ws):
            X @ H.T
            W @ HHt
        for X, W in zip((Xt, Xb), Ws):
            W.T @ X
            (W.T @ W) @ H

    products()
    return best_of(products, 5)


# -- memory -------------------------------------------------------------------------------------------

_MEMORY_CHILD = """
import sys, warnings
import scipy.sparse as sp

def resident(field):
    # VmHWM is this process's own peak; ru_maxrss would carry the parent's peak across exec.
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field))

Xt, Xb = sp.load_npz(sys.argv[1]), sp.load_npz(sys.argv[2])
import bcnmf
before = resident("VmRSS")
warnings.simplefilter("ignore")
# A tiny fit loads the compiled kernels, so that what the real fit adds can be told apart.
bcnmf.BCNMF({k}, loss="kl", max_iter=12, tol=0, random_state=0).fit(Xt[:200], Xb[:200])
warm = resident("VmRSS")
bcnmf.BCNMF({k}, loss="kl", max_iter=5, tol=0, random_state=0).fit(Xt, Xb)
print(before, warm, resident("VmHWM"))
"""


#: glibc's malloc raises its mmap threshold (up to 32 MB) each time a large block is freed, after
#: which freed arrays stay in the process's heap; fixing the threshold shows how much of a peak
#: is that retention rather than live arrays.
FIXED_MMAP_THRESHOLD = {"MALLOC_MMAP_THRESHOLD_": str(2**20)}


def fit_peak_memory(Xt, Xb, prefix: str = "") -> dict:
    """Resident memory of a KL fit in a fresh process that reads the matrices from disk: after
    loading the data and importing bcnmf, after a tiny fit that loads the compiled kernels, and
    the process's peak; the peak again with glibc's mmap threshold fixed; with the input's and
    the factors' sizes for the budget."""
    with tempfile.TemporaryDirectory() as folder:
        paths = [os.path.join(folder, f"{name}.npz") for name in ("target", "background")]
        for path, X in zip(paths, (Xt, Xb)):
            sp.save_npz(path, X, compressed=False)
        outputs = [subprocess.run([sys.executable, "-c", _MEMORY_CHILD.format(k=K), *paths], check=True,
                                  capture_output=True, text=True, env={**os.environ, **extra}).stdout.split()
                   for extra in ({}, FIXED_MMAP_THRESHOLD)]
    before, warm, peak = (float(value) for value in outputs[0])
    return {f"{prefix}memory_before_fit": before, f"{prefix}memory_warm": warm, f"{prefix}memory_peak": peak,
            f"{prefix}memory_peak_fixed_mmap_threshold": float(outputs[1][2]),
            f"{prefix}memory_input": _csr_bytes(Xt, Xb),
            f"{prefix}memory_factors": 4 * (Xt.shape[0] + Xb.shape[0] + Xt.shape[1]) * K}


def memory_paragraph(r: dict, prefix: str = "") -> str:
    mb = 1024**2
    value = {name: r[prefix + "memory_" + name] / mb
             for name in ("before_fit", "warm", "peak", "peak_fixed_mmap_threshold", "input", "factors")}
    budget = value["input"] + 4 * value["factors"] + 300
    return (
        f"Peak memory of a sparse KL fit in a fresh process (interpreter, libraries and data included): "
        f"{value['peak']:.0f} MB against a budget of input + 4 x factors + 300 MB = {budget:.0f} MB "
        f"(input {value['input']:.0f} MB, factors {value['factors']:.1f} MB). With the data loaded and bcnmf "
        f"imported the process held {value['before_fit']:.0f} MB (libraries: "
        f"{value['before_fit'] - value['input']:.0f} MB); loading the compiled kernels added "
        f"{value['warm'] - value['before_fit']:.0f} MB, and the fit itself at most "
        f"{value['peak'] - value['warm']:.0f} MB above that. With glibc's mmap threshold fixed at 1 MiB "
        f"(`MALLOC_MMAP_THRESHOLD_=1048576`, so freed arrays go back to the system) the peak was "
        f"{value['peak_fixed_mmap_threshold']:.0f} MB."
    )


# -- report ---------------------------------------------------------------------------------------------


def machine() -> str:
    import numba

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}, "
            f"numba {numba.__version__}, numba threads {numba.get_num_threads()}")


def small_case(thin: float, square: float, bw: float) -> dict:
    Xt, Xb = sparse_counts(N_CELLS, N_GENES, DENSITY, 1), sparse_counts(N_CELLS, N_GENES, DENSITY, 2)
    # Three repeats on the two headline comparisons: single timings on this VM move by up to 40%.
    r = {"kl_bcnmf_s": bcnmf_per_iteration(Xt, Xb, "kl", repeats=3)}
    r["kl_torch_dense_s"] = torch_published_kl(Xt, Xb)
    r["kl_sklearn_mu_s"] = sklearn_per_iteration(Xt, Xb, "kullback-leibler")
    t_thin, t_bytes, flops = kl_roofline(Xt, Xb, thin, bw)
    t_square, _, _ = kl_roofline(Xt, Xb, square, bw)
    r.update(kl_roofline_thin_s=max(t_thin, t_bytes), kl_roofline_square_s=max(t_square, t_bytes),
             kl_flops=flops, kl_gflops_achieved=flops / r["kl_bcnmf_s"] / 1e9)
    r["kl_bcnmf_minibatch_s"] = bcnmf_per_iteration(Xt, Xb, "kl", "minibatch", 3, 8)
    r["kl_sklearn_minibatch_s"] = sklearn_per_iteration(Xt, Xb, "kullback-leibler", minibatch=True, short=1, long=3, repeats=1)
    Lt, Lb = Xt.copy(), Xb.copy()
    Lt.data, Lb.data = np.log1p(Lt.data), np.log1p(Lb.data)
    r["frobenius_sparse_bcnmf_s"] = bcnmf_per_iteration(Lt, Lb, "frobenius")
    r["frobenius_sklearn_mu_s"] = sklearn_per_iteration(Lt, Lb, "frobenius", short=10, long=40)
    r["frobenius_bcnmf_minibatch_s"] = bcnmf_per_iteration(Lt, Lb, "frobenius", "minibatch", 3, 8)
    r["frobenius_sklearn_minibatch_s"] = sklearn_per_iteration(Lt, Lb, "frobenius", minibatch=True)
    Dt, Db = Lt.toarray(), Lb.toarray()
    r["frobenius_bcnmf_s"] = bcnmf_per_iteration(Dt, Db, "frobenius", repeats=3)
    r["frobenius_bare_blas_s"] = bare_frobenius_products(Dt, Db)
    r.update(fit_peak_memory(Xt, Xb))
    return r


def large_case(thin_rate: float, bw: float) -> dict:
    n, p, density = LARGE
    Xt, Xb = sparse_counts(n, p, density, 3), sparse_counts(n, p, density, 4)
    r = {"large_kl_bcnmf_s": bcnmf_per_iteration(Xt, Xb, "kl", short=2, long=6, repeats=1)}
    r["large_kl_sklearn_mu_s"] = sklearn_per_iteration(Xt, Xb, "kullback-leibler", short=1, long=2, repeats=1)
    t_thin, t_bytes, _ = kl_roofline(Xt, Xb, thin_rate, bw)
    r["large_kl_roofline_s"] = max(t_thin, t_bytes)
    r.update(fit_peak_memory(Xt, Xb, "large_"))
    return r


def _csr_bytes(*matrices) -> int:
    return sum(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes for X in matrices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="write benchmarks/RESULTS.md")
    parser.add_argument("--skip-large", action="store_true", help="only the 10,000 x 3,000 case")
    args = parser.parse_args()

    thin = gemm_rate(N_CELLS, K, N_GENES)
    results = {"machine": machine(), "gemm_thin_gflops": thin, "gemm_square_gflops": gemm_rate(2048, 2048, 2048),
               "bandwidth_gbs": bandwidth()}
    results.update(small_case(thin, results["gemm_square_gflops"], results["bandwidth_gbs"]))
    if not args.skip_large:
        results["large_gemm_thin_gflops"] = gemm_rate(LARGE[0], K, LARGE[1] // 5)
        results.update(large_case(results["large_gemm_thin_gflops"], results["bandwidth_gbs"]))
    report = format_report(results)
    print(report)
    print(json.dumps(results, indent=1))
    if args.write:
        (HERE / "RESULTS.md").write_text(report)


def _ratio(slower: float, faster: float) -> str:
    return f"{slower / faster:.1f}x slower"


def format_report(r: dict) -> str:
    rows = [
        ("KL bcNMF, sparse (bcnmf)", r["kl_bcnmf_s"], "1.0"),
        ("KL bcNMF, dense PyTorch, published updates", r["kl_torch_dense_s"], _ratio(r["kl_torch_dense_s"], r["kl_bcnmf_s"])),
        ("KL NMF, scikit-learn MU on both matrices", r["kl_sklearn_mu_s"], _ratio(r["kl_sklearn_mu_s"], r["kl_bcnmf_s"])),
        ("KL roofline (thin-GEMM rate, bandwidth)", r["kl_roofline_thin_s"], f"bcnmf at {r['kl_bcnmf_s'] / r['kl_roofline_thin_s']:.1f}x"),
        ("KL roofline (square-GEMM rate, bandwidth)", r["kl_roofline_square_s"], f"bcnmf at {r['kl_bcnmf_s'] / r['kl_roofline_square_s']:.1f}x"),
        (f"KL bcNMF mini-batch, per pass, batch {BATCH} (bcnmf)", r["kl_bcnmf_minibatch_s"], "1.0"),
        ("KL scikit-learn MiniBatchNMF, per pass, both matrices", r["kl_sklearn_minibatch_s"], _ratio(r["kl_sklearn_minibatch_s"], r["kl_bcnmf_minibatch_s"])),
        ("Frobenius bcNMF, sparse log1p data (bcnmf)", r["frobenius_sparse_bcnmf_s"], "1.0"),
        ("Frobenius NMF, scikit-learn MU on both matrices", r["frobenius_sklearn_mu_s"], _ratio(r["frobenius_sklearn_mu_s"], r["frobenius_sparse_bcnmf_s"])),
        (f"Frobenius bcNMF mini-batch, per pass, batch {BATCH} (bcnmf)", r["frobenius_bcnmf_minibatch_s"], "1.0"),
        ("Frobenius scikit-learn MiniBatchNMF, per pass, both matrices", r["frobenius_sklearn_minibatch_s"], _ratio(r["frobenius_sklearn_minibatch_s"], r["frobenius_bcnmf_minibatch_s"])),
        ("Frobenius bcNMF, the same data dense (bcnmf)", r["frobenius_bcnmf_s"], "1.0"),
        ("Frobenius: its BLAS products as bare calls", r["frobenius_bare_blas_s"], f"bcnmf at {r['frobenius_bcnmf_s'] / r['frobenius_bare_blas_s']:.2f}x"),
    ]
    lines = [
        "# Speed and memory benchmarks",
        "",
        "Produced by `python benchmarks/bench_speed.py --write` (then `python benchmarks/bench_minibatch.py "
        "--write`); every number in a table comes from one run. Times are per iteration (per pass over both "
        "datasets for mini-batch rows), as differences between fits of two lengths.",
        "",
        f"Machine: {r['machine']}.",
        f"Measured limits: float32 GEMM {r['gemm_square_gflops']:.0f} GFLOP/s on 2048-square matrices, "
        f"{r['gemm_thin_gflops']:.0f} GFLOP/s on the thin {N_CELLS} x {N_GENES} x {K} product; "
        f"memory bandwidth {r['bandwidth_gbs']:.1f} GB/s.",
        "",
        f"## Target and background {N_CELLS:,} cells x {N_GENES:,} genes each, {DENSITY:.0%} non-zero, k = {K}, float32",
        "",
        "| per iteration | seconds | ratio |",
        "|---|---:|---:|",
        *[f"| {name} | {seconds:.4f} | {ratio} |" for name, seconds, ratio in rows],
        "",
        f"bcnmf's sparse KL iteration runs {r['kl_flops'] / 1e9:.2f} GFLOP of non-zero work at "
        f"{r['kl_gflops_achieved']:.1f} GFLOP/s. The roofline counts 8 k flops per stored entry (two sampled "
        "products, two sparse-dense products) and two passes over the entries' values and indices.",
        "",
        memory_paragraph(r),
        "",
    ]
    if "large_kl_bcnmf_s" in r:
        n, p, density = LARGE
        lines += [
            f"## Target and background {n:,} cells x {p:,} genes each, {density:.0%} non-zero, k = {K}",
            "",
            "| per iteration | seconds | ratio |",
            "|---|---:|---:|",
            f"| KL bcNMF, sparse (bcnmf) | {r['large_kl_bcnmf_s']:.3f} | 1.0 |",
            f"| KL NMF, scikit-learn MU on both matrices | {r['large_kl_sklearn_mu_s']:.3f} | "
            f"{_ratio(r['large_kl_sklearn_mu_s'], r['large_kl_bcnmf_s'])} |",
            f"| KL roofline (thin-GEMM rate {r['large_gemm_thin_gflops']:.0f} GFLOP/s, bandwidth) | "
            f"{r['large_kl_roofline_s']:.3f} | bcnmf at {r['large_kl_bcnmf_s'] / r['large_kl_roofline_s']:.1f}x |",
            "",
            f"The dense PyTorch baseline is not run at this size: each dense matrix is {n * p * 4 / 1024**3:.1f} GiB "
            "and the published updates hold five such arrays per dataset.",
            "",
            memory_paragraph(r, "large_"),
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""A million cells through the mini-batch path, read from ``.h5ad`` files opened backed.

Run ``python benchmarks/bench_minibatch.py`` (``--write`` appends the result to
``benchmarks/RESULTS.md``; ``--cells`` and ``--genes`` change the size). It

1. plants a contrastive signal in sparse counts: every cell mixes shared programs (disjoint gene
   blocks, Dirichlet(0.3) proportions); target cells fall into two subgroups, each also
   expressing its own enriched program; cells draw about 108 reads, so about 5% of entries are
   non-zero. Half the cells are target, half background, written as two ``.h5ad`` files;
2. fits ``BCNMF(solver="minibatch")`` for 10 passes in a fresh process reading those files
   backed, and records wall time, time per pass and the process's peak resident memory (VmHWM);
3. reports the ARI of KMeans on the target usages (a 50,000-cell sample) against the planted
   subgroups.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
N_SHARED, N_ENRICHED, SIGNAL_SHARE, NOISE_SHARE, READS = 5, 2, 0.2, 0.1, 108


def planted_counts(n_cells: int, n_genes: int, target: bool, rng: np.random.Generator, chunk: int = 100_000):
    """Sparse counts (CSR float32) and, for the target, each cell's planted subgroup."""
    block = n_genes // (N_SHARED + N_ENRICHED + 1)
    parts, labels = [], []
    for start in range(0, n_cells, chunk):
        n = min(chunk, n_cells - start)
        weights = np.zeros((n, N_SHARED + N_ENRICHED + 1))
        shared = rng.dirichlet(np.full(N_SHARED, 0.3), size=n)
        group = rng.integers(0, N_ENRICHED, size=n)
        signal = SIGNAL_SHARE if target else 0.0
        weights[:, :N_SHARED] = shared * (1.0 - NOISE_SHARE - signal)
        weights[np.arange(n), N_SHARED + group] = signal
        weights[:, -1] = NOISE_SHARE
        reads = rng.poisson(READS * rng.lognormal(0.0, 0.3, size=n) / np.exp(0.045))
        cell = np.repeat(np.arange(n), reads)
        cumulative = np.cumsum(weights, axis=1)[cell]
        component = (rng.random(cell.size)[:, None] > cumulative).sum(axis=1)
        gene = np.where(component < N_SHARED + N_ENRICHED,
                        component * block + rng.integers(0, block, size=cell.size),
                        rng.integers(0, n_genes, size=cell.size))
        counts = sp.coo_matrix((np.ones(cell.size, dtype=np.float32), (cell, gene)), shape=(n, n_genes)).tocsr()
        counts.sum_duplicates()
        parts.append(counts)
        labels.append(group)
    return sp.vstack(parts, format="csr"), np.concatenate(labels)


_FIT_CHILD = """
import json, sys, time, warnings
import anndata, numpy as np
import bcnmf
from bcnmf.evaluation import clustering_ari

def high_water():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))

target_path, background_path, labels_path, k, batch_size, passes = sys.argv[1:7]
target = anndata.read_h5ad(target_path, backed="r")
background = anndata.read_h5ad(background_path, backed="r")
model = bcnmf.BCNMF(int(k), loss="kl", solver="minibatch", batch_size=int(batch_size), max_iter=int(passes),
                    tol=0, random_state=0, verbose=False)
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model.fit(target, background)
wall = time.perf_counter() - start
labels = np.load(labels_path)
sample = np.random.default_rng(0).choice(labels.size, size=min(50_000, labels.size), replace=False)
ari = clustering_ari(model.target_usage_[sample], labels[sample])
print(json.dumps({"wall_s": wall, "peak_bytes": high_water(), "ari": ari, "passes": int(model.n_iter_),
                  "objective_curve": [float(v) for v in model.objective_curve_]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=1_000_000, help="target plus background cells")
    parser.add_argument("--genes", type=int, default=2_000)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--write", action="store_true", help="append the result to benchmarks/RESULTS.md")
    args = parser.parse_args()

    import anndata

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        paths, nnz = [], 0
        for name, target in (("target", True), ("background", False)):
            X, labels = planted_counts(args.cells // 2, args.genes, target, rng)
            nnz += X.nnz
            path = Path(folder) / f"{name}.h5ad"
            anndata.AnnData(X=X).write_h5ad(path)
            paths.append(str(path))
            if target:
                np.save(Path(folder) / "labels.npy", labels)
            del X
        generated = time.perf_counter() - start
        density = nnz / (args.cells * args.genes)
        output = subprocess.run(
            [sys.executable, "-c", _FIT_CHILD, *paths, str(Path(folder) / "labels.npy"), str(args.k),
             str(args.batch_size), str(args.passes)],
            check=True, capture_output=True, text=True,
        ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    file_mb = nnz * 8 / 1024**2
    lines = [
        "",
        "## A million cells, mini-batch, from backed .h5ad",
        "",
        f"`python benchmarks/bench_minibatch.py`: {args.cells:,} cells x {args.genes:,} genes ({density:.1%} non-zero, "
        f"half target, half background, two .h5ad files of about {file_mb:.0f} MB of CSR data together), "
        f"`BCNMF(k={args.k}, loss='kl', solver='minibatch', batch_size={args.batch_size:,})`, {result['passes']} passes.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| wall time of the fit (checks, init, warm-up, all passes) | {result['wall_s']:.1f} s |",
        f"| per pass (wall / passes) | {result['wall_s'] / result['passes']:.1f} s |",
        f"| peak resident memory of the fitting process | {result['peak_bytes'] / 1024**3:.2f} GiB |",
        f"| ARI of target usages against the planted subgroups (50,000-cell sample) | {result['ari']:.3f} |",
        f"| time to generate and write the data (not part of the fit) | {generated:.1f} s |",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    print("objective per pass:", result["objective_curve"])
    if args.write:
        with open(HERE / "RESULTS.md", "a") as f:
            f.write(report)


if __name__ == "__main__":
    main()

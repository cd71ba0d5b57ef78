"""Scale: the mini-batch fit on a Dask cluster, and the KL bcNMF iteration on a PyTorch device.

Run ``python benchmarks/bench_scale.py`` (``--part dask`` or ``--part torch`` for one of them;
``--write`` appends the results to ``benchmarks/RESULTS.md``; ``--small`` runs a tenth of the
size, to try it). The Dask part needs ``pip install "bcnmf[dask]"``, the torch part PyTorch
(``pip install torch==2.13.0`` for the CPU build, or the CUDA build on a GPU machine).

**Dask.** A million cells (half target, half background) x 2,000 genes, 5% non-zero (the planted
data of ``bench_minibatch.py``), written as two ``.h5ad`` files. ``BCNMF(k=10, loss="kl")``
mini-batch fits read them three ways, each in a fresh process (the best of two): the
single-process schedule on the files opened backed (``batch_size=25,000``), and the files read
lazily as Dask arrays (chunks of 25,000 rows) on a ``LocalCluster`` of one worker (two Numba
threads) and of two workers (one each). Time per pass is the difference between a 2-pass and a 6-pass fit over 4; memory is the
peak resident size of the fitting process, and of each worker. From the two cluster sizes it
projects the time per pass of a 20-million-cell fit on N machines like this one.

**Torch.** On sparse target and background counts of 20,000 cells x 50,000 genes each (5%
non-zero, k = 20, float32) it times one iteration of ``BCNMF(loss="kl")`` (multiplicative
updates, the rule its contrastive objective takes) with the host's NumPy/Numba kernels
(``device=None``), with the torch backend on the CPU (``device="cpu"``) and, when PyTorch sees a
GPU, on it (``device="cuda"``), each in a fresh process (see :func:`kl_iteration`). An
iteration's time is the difference between fits of two lengths, so the copy of the data to the
device, the checks and the start cancel out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_minibatch import planted_counts  # noqa: E402
from bench_speed import LARGE, machine  # noqa: E402

#: Lengths (iterations or passes) of the two fits whose difference is timed.
SHORT, LONG = 2, 6
#: The Dask part: cells (target plus background), genes, topics, rows per block.
CELLS, GENES, DASK_K, ROWS_PER_BLOCK = 1_000_000, 2_000, 10, 25_000
#: Cells of the projected atlas.
ATLAS_CELLS = 20_000_000

_DASK_CHILD = """
import json, resource, sys, time, warnings
import anndata, h5py
import bcnmf

def high_water():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))

def worker_peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

target_path, background_path, k, rows, passes, workers = sys.argv[1:7]
model = bcnmf.BCNMF(int(k), loss="kl", max_iter=int(passes), tol=0, random_state=0, batch_size=int(rows),
                    solver="minibatch")
warnings.simplefilter("ignore")
workers = int(workers)
if workers == 0:
    inputs = [anndata.read_h5ad(target_path, backed="r"), anndata.read_h5ad(background_path, backed="r")]
    start = time.perf_counter()
    model.fit(*inputs)
    wall, peaks = time.perf_counter() - start, []
else:
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           memory_limit=0, env={"NUMBA_NUM_THREADS": str(max(1, 2 // workers))})
    client = Client(cluster)
    files = [h5py.File(path, "r") for path in (target_path, background_path)]
    inputs = [anndata.experimental.read_elem_lazy(f["X"], chunks=(int(rows), int(f["X"].attrs["shape"][1])))
              for f in files]
    start = time.perf_counter()
    model.fit(*inputs)
    wall = time.perf_counter() - start
    peaks = sorted(client.run(worker_peak).values())
    client.close()
    cluster.close()
print(json.dumps({"wall_s": wall, "peak_bytes": high_water(), "worker_peak_bytes": peaks}))
"""

_TORCH_CHILD = """
import sys, warnings
sys.path.insert(0, sys.argv[1])
from bench_speed import K, per_iteration, sparse_counts

n, p, density, device, repeats, short, long = sys.argv[2:9]
device = None if device == "none" else device
if device is not None:
    import torch
from bcnmf import BCNMF

Xt, Xb = sparse_counts(int(n), int(p), float(density), 3), sparse_counts(int(n), int(p), float(density), 4)

def fit(n_iter):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        BCNMF(K, loss="kl", init="random", max_iter=n_iter, tol=0, random_state=0, update="mu",
              device=device).fit(Xt, Xb)
    if device == "cuda":
        torch.cuda.synchronize()

fit(int(short))  # the first fit pays for loading kernels and starting thread pools
print(per_iteration(fit, int(short), int(long), int(repeats)))
"""


def _child(script: str, *arguments) -> str:
    result = subprocess.run([sys.executable, "-c", script, *map(str, arguments)], check=True, capture_output=True,
                            text=True)
    return result.stdout.strip().splitlines()[-1]


def dask_part(cells: int) -> list[str]:
    """The Dask comparison's lines of the report."""
    import anndata

    rng = np.random.default_rng(0)
    rows = min(ROWS_PER_BLOCK, cells // 4)
    with tempfile.TemporaryDirectory() as folder:
        paths, nnz = [], 0
        for name, target in (("target", True), ("background", False)):
            X, _ = planted_counts(cells // 2, GENES, target, rng)
            nnz += X.nnz
            paths.append(str(Path(folder) / f"{name}.h5ad"))
            anndata.AnnData(X=X).write_h5ad(paths[-1])
            del X
        runs = {}
        for workers in (0, 1, 2):
            # The best of two fresh processes per length: the first process to load the compiled
            # kernels and the files is slower, by more than a pass at this size.
            short, long = (min((json.loads(_child(_DASK_CHILD, *paths, DASK_K, rows, passes, workers))
                                for _ in range(2)), key=lambda run: run["wall_s"])
                           for passes in (SHORT, LONG))
            runs[workers] = {"per_pass_s": (long["wall_s"] - short["wall_s"]) / (LONG - SHORT), **long}
            print(f"workers={workers}: {runs[workers]['per_pass_s']:.2f} s per pass, {long['wall_s']:.1f} s for "
                  f"{LONG} passes", file=sys.stderr)
    single, one, two = runs[0], runs[1], runs[2]
    # t = c * cells / N + o: two cluster sizes on the same data give c * cells and the fixed cost o.
    parallel = max(2 * (one["per_pass_s"] - two["per_pass_s"]), 0.0)
    fixed = max(one["per_pass_s"] - parallel, 0.0)
    scale = ATLAS_CELLS / cells
    gib = 1024**3
    factors = (cells * DASK_K + DASK_K * GENES) * 4
    lines = [
        f"## Dask: {cells:,} cells x {GENES:,} genes ({nnz / (cells * GENES):.1%} non-zero), BCNMF k = {DASK_K}, "
        f"mini-batch, blocks of {rows:,} rows",
        "",
        "| run | s / pass | vs single process | peak memory, fitting process | peak memory per worker |",
        "|---|---:|---:|---:|---:|",
        f"| single process, backed .h5ad | {single['per_pass_s']:.2f} | 1.00x | {single['peak_bytes'] / gib:.2f} GiB "
        "| - |",
    ]
    for workers, run in ((1, one), (2, two)):
        peaks = ", ".join(f"{peak / gib:.2f}" for peak in run["worker_peak_bytes"])
        lines.append(f"| LocalCluster, {workers} worker(s), lazy .h5ad | {run['per_pass_s']:.2f} | "
                     f"{run['per_pass_s'] / single['per_pass_s']:.2f}x | {run['peak_bytes'] / gib:.2f} GiB (client) "
                     f"| {peaks} GiB |")
    projection = ", ".join(f"N = {n}: {parallel * scale / n + fixed:.1f} s" for n in (1, 4, 16, 64))
    lines += [
        "",
        f"Half the single-process peak plus the factors ({factors / gib:.2f} GiB): "
        f"{(single['peak_bytes'] / 2 + factors) / gib:.2f} GiB per worker.",
        "",
        f"Projected time per pass for {ATLAS_CELLS:,} cells on N machines like this one, from "
        f"t = c x cells / N + o fitted to the 1- and 2-worker runs (c x cells = {parallel:.2f} s, "
        f"o = {fixed:.2f} s): {projection}.",
    ]
    return lines


def kl_iteration(n: int, p: int, density: float, device: str | None, repeats: int) -> float:
    """Seconds per iteration of the KL bcNMF fit on ``device``, in a fresh process.

    Importing PyTorch slows our Numba kernels down (measured 5.3 s against 2.8 s an iteration at
    20,000 x 50,000 once ``import torch`` had run in the process), so each backend runs alone, the
    NumPy one where PyTorch was never imported, as a user without it runs it.
    """
    return float(_child(_TORCH_CHILD, HERE, n, p, density, str(device).lower(), repeats, SHORT, LONG))


def torch_part(small: bool) -> list[str]:
    """The torch comparison's lines of the report."""
    import torch

    n, p, density = LARGE
    if small:
        n, p = n // 10, p // 10
    devices = [None, "cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    times = {}
    for device in devices:
        times[device] = kl_iteration(n, p, density, device, repeats=2 if small else 1)
        print(f"device={device!r}: {times[device]:.3f} s per iteration", file=sys.stderr)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    lines = [
        f"## Torch backend: KL bcNMF iteration, {n:,} x {p:,} ({density:.0%}) target and background, k = 20",
        "",
        f"torch {torch.__version__}, {torch.get_num_threads()} torch threads; GPU: {gpu}.",
        "",
        "| backend | s / iteration | vs NumPy/Numba |",
        "|---|---:|---:|",
    ]
    for device, seconds in times.items():
        name = "NumPy + Numba kernels (device=None)" if device is None else f"torch, device={device!r}"
        lines.append(f"| {name} | {seconds:.3f} | {times[None] / seconds:.2f}x |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("dask", "torch", "all"), default="all")
    parser.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    parser.add_argument("--small", action="store_true", help="a tenth of the size")
    args = parser.parse_args()
    lines = [f"Machine: {machine()}.", ""]
    if args.part in ("dask", "all"):
        lines += dask_part(CELLS // 10 if args.small else CELLS) + [""]
    if args.part in ("torch", "all"):
        lines += torch_part(args.small) + [""]
    report = "\n".join(lines)
    print(report)
    if args.write:
        with open(HERE / "RESULTS.md", "a") as handle:
            handle.write("\n" + report)


if __name__ == "__main__":
    main()

"""Scale: the KL bcNMF iteration on a PyTorch device against our Numba CPU kernels.

Run ``python benchmarks/bench_scale.py`` (``--write`` appends the result to
``benchmarks/RESULTS.md``; ``--small`` runs a tenth of the size, to try it). It needs PyTorch
(``pip install torch==2.13.0`` for the CPU build, or the CUDA build on a GPU machine).

On sparse target and background counts of 20,000 cells x 50,000 genes each (5% non-zero,
k = 20, float32) it times one iteration of ``BCNMF(loss="kl")`` (multiplicative updates, the rule
its contrastive objective takes) three ways, in this one process: with the host's NumPy/Numba
kernels (``device=None``), with the torch backend on the CPU (``device="cpu"``) and, when PyTorch
sees a GPU, on it (``device="cuda"``). An iteration's time is the difference between fits of two
lengths, so the copy of the data to the device, the checks and the start cancel out.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_speed import LARGE, K, machine, per_iteration, sparse_counts  # noqa: E402

SHORT, LONG = 2, 6


def kl_iteration(Xt, Xb, device: str | None, repeats: int) -> float:
    """Seconds per iteration of the KL bcNMF fit on ``device``."""
    import torch

    from bcnmf import BCNMF

    def fit(n_iter):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            BCNMF(K, loss="kl", init="random", max_iter=n_iter, tol=0, random_state=0, update="mu",
                  device=device).fit(Xt, Xb)
        if device == "cuda":
            torch.cuda.synchronize()

    return per_iteration(fit, SHORT, LONG, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="append the result to benchmarks/RESULTS.md")
    parser.add_argument("--small", action="store_true", help="a tenth of the cells and genes")
    args = parser.parse_args()
    import torch

    n, p, density = LARGE
    if args.small:
        n, p = n // 10, p // 10
    Xt, Xb = sparse_counts(n, p, density, 3), sparse_counts(n, p, density, 4)
    devices = [None, "cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    times = {}
    for device in devices:
        start = time.perf_counter()
        times[device] = kl_iteration(Xt, Xb, device, repeats=1 if not args.small else 2)
        print(f"device={device!r}: {times[device]:.3f} s per iteration ({time.perf_counter() - start:.0f} s)",
              file=sys.stderr)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    lines = [
        f"## Torch backend: KL bcNMF iteration, {n:,} x {p:,} ({density:.0%}) target and background, k = {K}",
        "",
        f"Machine: {machine()}; torch {torch.__version__}, {torch.get_num_threads()} torch threads; GPU: {gpu}.",
        "",
        "| backend | s / iteration | vs NumPy/Numba |",
        "|---|---|---|",
    ]
    for device, seconds in times.items():
        name = "NumPy + Numba kernels (device=None)" if device is None else f"torch, device={device!r}"
        lines.append(f"| {name} | {seconds:.3f} | {times[None] / seconds:.2f}x |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write:
        with open(HERE / "RESULTS.md", "a") as handle:
            handle.write("\n" + report)


if __name__ == "__main__":
    main()

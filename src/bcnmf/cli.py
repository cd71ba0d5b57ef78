"""The ``bcnmf`` command line."""

from __future__ import annotations

import argparse
import sys
import warnings

from bcnmf import __version__

DESCRIPTION = "Background-contrastive non-negative matrix factorization."
EPILOG = """examples:
  bcnmf demo              fit bcNMF and NMF to a planted simulation and compare them
  bcnmf demo --seed 3     the same on another simulated dataset"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bcnmf", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"bcnmf {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="compare bcNMF with NMF on simulated data (under a minute)",
        description="Simulate a target with two hidden programs under strong shared variation, fit bcNMF "
        "and plain NMF, and print how well each recovers the target subgroups.",
        epilog="example:\n  bcnmf demo --seed 1 --beta 16",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of the simulation and the fits (default 0)")
    demo.add_argument("--beta", type=float, default=8.0,
                      help="strength of the shared programs relative to the target ones (default 8)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "demo":
        if args.beta < 0:
            parser.error("--beta must be >= 0")
        from bcnmf.demo import run_demo

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            run_demo(seed=args.seed, beta=args.beta)
    return 0


if __name__ == "__main__":
    sys.exit(main())

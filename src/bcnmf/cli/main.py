"""The ``bcnmf`` command line.

Every subcommand checks its inputs before any work, ends a failure with one line on stderr
(``bcnmf <command>: error: ...``) and a non-zero exit status, and writes its outputs through
temporary files renamed into place, so that nothing is half-written.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from bcnmf._version import __version__

DESCRIPTION = "Background-contrastive non-negative matrix factorization."
EPILOG = """examples:
  bcnmf demo
      fit bcNMF and NMF to a planted simulation and compare them
  bcnmf fit cells.h5ad --condition-key condition --target MDD --background Control -k 10 --out result.h5ad
      fit bcNMF; writes result.h5ad and CSV tables in result_tables/
  bcnmf enrich result.h5ad --gene-sets hallmark GO_BP
      test every topic against the bundled gene sets (offline)
  bcnmf report result.h5ad -o report.html
      one self-contained HTML page with the figures and tables
  bcnmf select-k cells.h5ad --condition-key condition --target MDD --background Control --plot k.png
      choose the number of topics

Run 'bcnmf COMMAND --help' for the options of each command."""

#: Exit status of a failure the user can fix (bad input, missing file).
USER_ERROR = 2
#: Exit status after Ctrl-C, as shells report a process ended by SIGINT.
INTERRUPTED = 130


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _add_data_arguments(parser: argparse.ArgumentParser, *, nmf_without_condition: bool = False) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("input", metavar="INPUT",
                      help=".h5ad file, 10x folder (matrix.mtx, features.tsv, barcodes.tsv), .csv/.tsv table or .npz")
    data.add_argument("--metadata", metavar="TABLE", help="CSV/TSV of cell metadata, first column the cell names")
    data.add_argument("--condition-key", metavar="COLUMN",
                      help="column of the cell metadata that tells target from background"
                      + (" (without it: plain NMF of all cells)" if nmf_without_condition else ""))
    data.add_argument("--target", nargs="+", metavar="VALUE", help="condition value(s) of the target cells")
    data.add_argument("--background", nargs="+", metavar="VALUE", help="condition value(s) of the background cells")
    data.add_argument("--background-input", metavar="PATH",
                      help="background cells in their own file (instead of --condition-key); features matched by name")
    data.add_argument("--layer", help="use this layer of the .h5ad instead of X")
    data.add_argument("--mask-var", default="highly_variable", metavar="COLUMN",
                      help="boolean feature column to fit on ('none' for all; default: highly_variable when present)")


def _add_model_arguments(parser: argparse.ArgumentParser, *, rank: bool = True, alpha: str | None = "auto") -> None:
    """Model options; ``alpha`` is "auto" (a number or 'auto'; the fit command, whose default
    chooses the numbers of topics), "number", or None (no option)."""
    model = parser.add_argument_group("model")
    chooses = alpha == "auto"
    if rank:
        model.add_argument("-k", "--n-components", default="auto" if chooses else "10", metavar="K",
                           help="number of topics" + (", or 'auto' (default: chosen, with --n-enriched auto)"
                                                      if chooses else " (default 10)"))
    if chooses:
        model.add_argument("--alpha", help="contrast strength, or 'auto' (default 0 for the disentangled model, "
                                           "1 for plain bcNMF)")
    elif alpha == "number":
        model.add_argument("--alpha", type=float, default=1.0, help="contrast strength (default 1)")
    model.add_argument("--loss", default="kl", choices=["kl", "nb", "zinb", "frobenius", "beta"],
                       help="likelihood (default kl: Poisson for counts)")
    model.add_argument("--beta", type=float, metavar="B",
                       help="the beta of --loss beta (0 Itakura-Saito, 1 KL, 2 squared error; required with it)")
    model.add_argument("--offset", type=float, metavar="F",
                       help="count losses: the model's per-feature floor as a fraction of the pooled mean (default 0.01)")
    model.add_argument("--solver", default="auto",
                       help="how rows are visited: auto, full, minibatch or online (default auto: full batch in "
                            "memory, mini-batch for files read in blocks)")
    model.add_argument("--update", default="auto", choices=["auto", "mu", "cd"],
                       help="update rule: mu (multiplicative, every loss) or cd (coordinate descent, --loss "
                            "frobenius) (default auto: cd for frobenius, mu otherwise)")
    model.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                       help="precision of the fit (default float32)")
    model.add_argument("--n-enriched", metavar="M",
                       help="disentangled model: the last M topics are used by the target only"
                            + (" (default: 'auto' with -k auto, both numbers chosen; none with a number K: plain "
                               "bcNMF)" if chooses else ""))
    model.add_argument("--max-iter", type=int, default=500, metavar="N", help="most iterations per fit (default 500)")
    model.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    model.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_selection_outputs(parser: argparse.ArgumentParser, *, restarts: int, per: str) -> None:
    parser.add_argument("--restarts", type=int, default=restarts, help=f"fits per {per} (default {restarts})")
    parser.add_argument("--out", metavar="CSV", help="write the table here")
    parser.add_argument("--plot", metavar="PNG", help="draw the curves here")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bcnmf", description=DESCRIPTION, epilog=EPILOG, formatter_class=_formatter)
    parser.add_argument("--version", action="version", version=f"bcnmf {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="compare bcNMF with NMF on simulated data (under a minute)", formatter_class=_formatter,
        description="Simulate a target with two hidden programs under strong shared variation, fit bcNMF "
        "and plain NMF, and print how well each recovers the target subgroups.",
        epilog="example:\n  bcnmf demo --seed 1 --beta 16")
    demo.add_argument("--seed", type=int, default=0, help="seed of the simulation and the fits (default 0)")
    demo.add_argument("--beta", type=float, default=8.0,
                      help="strength of the shared programs relative to the target ones (default 8)")

    fit = commands.add_parser(
        "fit", help="fit bcNMF to target and background cells", formatter_class=_formatter,
        description="Fit bcNMF and write an .h5ad with the usages (obsm['X_bcnmf']), the loadings "
        "(varm['bcnmf_loadings']) and the topic enrichment (uns['bcnmf']), plus CSV tables.",
        epilog="examples:\n"
        "  bcnmf fit cells.h5ad --condition-key condition --target MDD --background Control --out result.h5ad\n"
        "      (shared, target-enriched and background-enriched topics, their numbers chosen)\n"
        "  bcnmf fit counts/ --metadata cells.csv --condition-key group --target treated --background control \\\n"
        "      -k auto --alpha auto --loss nb --out result.h5ad\n"
        "  bcnmf fit treated.h5ad --background-input control.h5ad -k 8 --out result.h5ad --checkpoint fit.ckpt\n"
        "      (if killed, the same command with --resume goes on from the last save)")
    _add_data_arguments(fit)
    _add_model_arguments(fit)
    fit.add_argument("--n-init", type=int, default=1, metavar="N", help="starts; the best is kept (default 1)")
    fit.add_argument("--out", required=True, metavar="PATH", help="output .h5ad")
    fit.add_argument("--tables", metavar="DIR", help="folder of the CSV tables (default: OUT without .h5ad + '_tables')")
    fit.add_argument("--tol", type=float, default=1e-4, help="stop when the objective changes less than this (default 1e-4)")
    fit.add_argument("--checkpoint", metavar="PATH", help="save the fit's state here every --checkpoint-every iterations")
    fit.add_argument("--checkpoint-every", type=int, default=50, metavar="N", help="iterations between saves (default 50)")
    fit.add_argument("--resume", action="store_true", help="go on from --checkpoint where a killed run stopped")

    enrich = commands.add_parser(
        "enrich", help="gene-set enrichment of the topics of a result (offline)", formatter_class=_formatter,
        description="Test every topic's top genes (hypergeometric) and whole loading vector (rank sum) against "
        "gene sets; the table goes into the result file and a CSV.",
        epilog="examples:\n  bcnmf enrich result.h5ad --gene-sets hallmark GO_BP\n"
        "  bcnmf enrich result.h5ad --gene-sets my_sets.gmt --n-top 100 --out my_enrichment.csv")
    enrich.add_argument("result", metavar="RESULT", help=".h5ad written by 'bcnmf fit'")
    enrich.add_argument("--gene-sets", nargs="+", default=["hallmark"], metavar="SETS",
                        help="bundled 'hallmark' or 'GO_BP', or .gmt files (default hallmark)")
    enrich.add_argument("--n-top", type=int, default=50, help="top genes per topic in the hypergeometric test")
    enrich.add_argument("--key", default="bcnmf", help="results key in the file (default bcnmf)")
    enrich.add_argument("--out", metavar="CSV", help="table path (default: RESULT's tables folder)")

    report = commands.add_parser(
        "report", help="a self-contained HTML report of a result", formatter_class=_formatter,
        description="Write one HTML page (figures embedded) with the parameters, the objective curve, the topic "
        "enrichment table, top genes and gene sets per topic, and the usage plots.",
        epilog="example:\n  bcnmf report result.h5ad -o report.html")
    report.add_argument("result", metavar="RESULT", help=".h5ad written by 'bcnmf fit'")
    report.add_argument("-o", "--out", required=True, metavar="HTML", help="output .html")
    report.add_argument("--key", default="bcnmf", help="results key in the file (default bcnmf)")

    select_k = commands.add_parser(
        "select-k", help="choose the number of topics", formatter_class=_formatter,
        description="Fit each candidate number of topics several times and report consensus, stability and "
        "held-out loss, with a recommended k. Without --condition-key, plain NMF of all cells.",
        epilog="example:\n  bcnmf select-k cells.h5ad --condition-key condition --target MDD --background Control \\\n"
        "      --candidates 2 3 4 5 6 --out k.csv --plot k.png")
    _add_data_arguments(select_k, nmf_without_condition=True)
    _add_model_arguments(select_k, rank=False, alpha="number")
    select_k.add_argument("--candidates", nargs="+", type=int, default=list(range(2, 11)), metavar="K",
                          help="numbers of topics to try (default 2 to 10)")
    _add_selection_outputs(select_k, restarts=5, per="candidate")

    select_alpha = commands.add_parser(
        "select-alpha", help="choose the contrast strength alpha", formatter_class=_formatter,
        description="Fit bcNMF along a grid of alpha and report, per alpha, the target-enriched topics, the "
        "agreement of restarts and the held-out loss of target and background, with a recommended alpha.",
        epilog="example:\n  bcnmf select-alpha cells.h5ad --condition-key condition --target MDD --background Control \\\n"
        "      -k 8 --out alpha.csv --plot alpha.png")
    _add_data_arguments(select_alpha)
    _add_model_arguments(select_alpha, alpha=None)
    select_alpha.add_argument("--alphas", nargs="+", type=float, metavar="A", help="grid (default 0.25 to 8)")
    _add_selection_outputs(select_alpha, restarts=3, per="alpha")
    benchmark = commands.add_parser(
        "benchmark", help="run a benchmark of a source checkout (quality, default, published, speed, minibatch)", formatter_class=_formatter,
        description="Run benchmarks/bench_<NAME>.py of the source checkout bcnmf is installed from; the options "
        "after NAME go to the benchmark (for example --write to update its Markdown file).",
        epilog="examples:\n  bcnmf benchmark quality --write\n  bcnmf benchmark quality --auto-seeds 1")
    benchmark.add_argument("name", choices=["quality", "default", "published", "speed", "minibatch"], help="which benchmark")
    benchmark.add_argument("options", nargs=argparse.REMAINDER, help="passed to the benchmark")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from bcnmf.cli import commands  # deferred: 'bcnmf --help' stays fast

    try:
        with warnings.catch_warnings():
            if getattr(args, "quiet", False) or args.command == "demo":
                warnings.simplefilter("ignore", category=UserWarning)
            getattr(commands, args.command.replace("-", "_"))(args)
    except (commands.CommandError, ValueError, TypeError, KeyError, OSError) as err:
        # OSError: unreadable or truncated input files and unwritable outputs are the user's to fix.
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"bcnmf {args.command}: error: {message}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        kept = f"; the checkpoint {args.checkpoint} is kept: run the same command to resume" \
            if getattr(args, "checkpoint", None) else ""
        print(f"bcnmf {args.command}: interrupted (no file is left half-written){kept}.", file=sys.stderr)
        return INTERRUPTED
    return 0


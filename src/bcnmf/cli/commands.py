"""What each ``bcnmf`` subcommand does, given its parsed arguments (see :mod:`bcnmf.cli`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from bcnmf import get, tl
from bcnmf.enrichment.topics import BACKGROUND_ENRICHED, ENRICHED
from bcnmf.io.readers import read_input
from bcnmf.utils.files import check_writable, write_atomic


class CommandError(Exception):
    """A problem with the command's input, reported as one line."""


#: Genes per topic in the top-features table.
TOP_FEATURES = 50


def demo(args: argparse.Namespace) -> None:
    if args.beta < 0:
        raise CommandError(f"--beta {args.beta:g} must be >= 0.")
    from bcnmf.cli.demo import run_demo

    run_demo(seed=args.seed, beta=args.beta)


def fit(args: argparse.Namespace) -> None:
    out = Path(args.out)
    if out.suffix != ".h5ad":
        raise CommandError(f"--out {args.out!r} must end in .h5ad.")
    _check_contrast(args)
    _check_checkpoint(args)
    options = _model_options(args)
    for source in filter(None, (args.input, args.background_input)):
        if out.resolve() == Path(source).resolve():
            raise CommandError(f"--out {args.out!r} is an input file; writing there would replace the data. Choose "
                               "another path.")
    check_writable(out, "--out")
    check_writable(tables_folder(out, args.tables) / "usages.csv", "--tables")
    n_components = _number_or_auto(args.n_components, int, "-k")
    alpha = None if args.alpha is None else _number_or_auto(args.alpha, float, "--alpha")
    n_enriched = None if args.n_enriched is None else _number_or_auto(args.n_enriched, int, "--n-enriched")
    adata, background = _read(args)
    tl.bcnmf(adata, args.condition_key, args.target, args.background, adata_background=background,
             n_components=n_components, alpha=alpha, layer=args.layer, mask_var=_mask_var(args.mask_var),
             n_enriched=n_enriched, max_iter=args.max_iter, tol=args.tol, n_init=args.n_init, random_state=args.seed,
             verbose=not args.quiet, checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every, **options)
    tables = tables_folder(out, args.tables)
    enrichment = adata.uns["bcnmf"]["enrichment"]
    _write_csv(get.usages(adata), tables / "usages.csv")
    _write_csv(get.shares(adata), tables / "shares.csv")
    _write_csv(adata.uns["bcnmf"]["fit_statistics"], tables / "fit_statistics.csv")
    _write_csv(get.loadings(adata).T, tables / "loadings.csv")
    _write_csv(get.top_features(adata, n=TOP_FEATURES), tables / "top_features.csv", index=False)
    _write_csv(enrichment, tables / "topic_enrichment.csv")
    write_atomic(out, adata.write_h5ad)
    if args.checkpoint:
        Path(args.checkpoint).unlink(missing_ok=True)  # the result is written; nothing is left to resume
    called = {label: ", ".join(enrichment.index[enrichment["label"] == label]) or "none"
              for label in (ENRICHED, BACKGROUND_ENRICHED)}
    print(f"{adata.uns['bcnmf']['n_components']} topics, alpha={adata.uns['bcnmf']['alpha']:g}; target-enriched: "
          f"{called[ENRICHED]}; background-enriched: {called[BACKGROUND_ENRICHED]}")
    explained = adata.uns["bcnmf"]["fit_statistics"]["explained_share"]
    print(f"the topics model {explained['target']:.0%} of the target's total and {explained['background']:.0%} of the "
          "background's" + ("; too little: the labels are withheld" if adata.uns["bcnmf"]["fit_statistics"]["poor_fit"].any()
                            else ""))
    print(f"wrote {out} and the tables in {tables}/")


def enrich(args: argparse.Namespace) -> None:
    import anndata as ad

    result = _existing(args.result, "RESULT")
    check_writable(result, "RESULT")
    if args.out:
        check_writable(args.out, "--out")
    adata = ad.read_h5ad(result)
    table = tl.enrich(adata, args.gene_sets, key=args.key, n_top=args.n_top)
    out = Path(args.out) if args.out else tables_folder(result, None) / "gene_set_enrichment.csv"
    _write_csv(table, out, index=False)
    write_atomic(result, adata.write_h5ad)
    best = table[table["q_value"] < 0.05].groupby("topic", sort=False).head(1)
    for row in best.itertuples():
        print(f"{row.topic}: {row.gene_set} ({row.collection}, {row.test}, q={row.q_value:.2g})")
    print(f"wrote {out} and updated {result}")


def report(args: argparse.Namespace) -> None:
    import anndata as ad

    from bcnmf.cli.report import write_report

    result = _existing(args.result, "RESULT")
    if not args.out.endswith((".html", ".htm")):
        raise CommandError(f"-o {args.out!r} must end in .html.")
    check_writable(args.out, "-o")
    write_report(ad.read_h5ad(result), args.out, key=args.key)
    print(f"wrote {args.out}")


def select_k(args: argparse.Namespace) -> None:
    _check_selection_outputs(args)
    options = _model_options(args)
    adata, background = _read(args, contrast=args.condition_key is not None or args.background_input is not None)
    contrast = {} if args.condition_key is None and background is None else {"alpha": args.alpha}
    tl.select_k(adata, args.condition_key, args.target, args.background, adata_background=background,
                candidates=args.candidates, n_restarts=args.restarts, layer=args.layer,
                mask_var=_mask_var(args.mask_var), max_iter=args.max_iter, random_state=args.seed,
                verbose=not args.quiet, **options, **_fixed_n_enriched(args), **contrast)
    _report_selection(adata, "k", args)


def select_alpha(args: argparse.Namespace) -> None:
    _check_contrast(args)
    _check_selection_outputs(args)
    options = _model_options(args)
    n_components = _number_or_auto(args.n_components, int, "-k", allow_auto=False)
    adata, background = _read(args)
    tl.select_alpha(adata, args.condition_key, args.target, args.background, adata_background=background,
                    n_components=n_components, n_restarts=args.restarts, layer=args.layer,
                    mask_var=_mask_var(args.mask_var), max_iter=args.max_iter, random_state=args.seed,
                    verbose=not args.quiet, **({"alphas": args.alphas} if args.alphas else {}), **options,
                    **_fixed_n_enriched(args))
    _report_selection(adata, "alpha", args)


def _model_options(args: argparse.Namespace) -> dict:
    """The likelihood and fitting options shared by the model commands, checked together."""
    if args.loss == "beta" and args.beta is None:
        raise CommandError("--loss beta needs --beta B (for example 0.5; 0 is Itakura-Saito, 1 KL, 2 squared error).")
    if args.beta is not None and args.loss != "beta":
        raise CommandError(f"--beta is the beta of --loss beta; with --loss {args.loss} leave it out or use --loss beta.")
    options = {"loss": args.loss, "beta": args.beta, "solver": args.solver, "update": args.update, "dtype": args.dtype}
    if args.offset is not None:
        options["offset"] = args.offset
    return options


def benchmark(args: argparse.Namespace) -> None:
    import runpy
    import sys

    script = Path(__file__).resolve().parents[3] / "benchmarks" / f"bench_{args.name}.py"
    if not script.is_file():
        raise CommandError(f"{script} is not there: benchmarks run from a source checkout (git clone, then "
                           "pip install -e .).")
    argv = sys.argv
    sys.argv = [str(script), *args.options]
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv


def tables_folder(out: str | Path, tables: str | None) -> Path:
    """Where the CSV tables of a result go: ``tables``, or the output path without ``.h5ad`` plus
    ``_tables``."""
    out = Path(out)
    return Path(tables) if tables else out.with_name(out.name.removesuffix(".h5ad") + "_tables")


def _check_selection_outputs(args: argparse.Namespace) -> None:
    for path, flag in ((args.out, "--out"), (args.plot, "--plot")):
        if path:
            check_writable(path, flag)


def _report_selection(adata, which: str, args: argparse.Namespace) -> None:
    selection = adata.uns[f"bcnmf_select_{which}"]
    print(selection["table"].round(4).to_string())
    print(f"recommended {which}: {selection['recommended']:g}")
    if args.out:
        _write_csv(selection["table"], Path(args.out))
    if args.plot:
        from bcnmf import pl

        write_atomic(args.plot, lambda path: pl.selection(adata, which=which, save=path, show=False))


def _check_contrast(args: argparse.Namespace) -> None:
    if args.background_input is not None:
        if args.condition_key or args.target or args.background:
            raise CommandError("--background-input makes every cell of INPUT target; leave out --condition-key, "
                               "--target and --background.")
    elif not (args.condition_key and args.target and args.background):
        raise CommandError("give --condition-key with --target and --background, or the background cells as "
                           "--background-input.")


def _check_checkpoint(args: argparse.Namespace) -> None:
    if args.resume and not args.checkpoint:
        raise CommandError("--resume needs --checkpoint PATH, the file the killed run saved to.")
    if args.checkpoint:
        exists = Path(args.checkpoint).exists()
        if args.resume and not exists:
            raise CommandError(f"--resume: checkpoint {args.checkpoint!r} does not exist; nothing to resume.")
        if exists and not args.resume:
            raise CommandError(f"checkpoint {args.checkpoint!r} exists; add --resume to go on from it, or remove it.")


def _read(args: argparse.Namespace, contrast: bool = True):
    if contrast:
        _check_contrast(args)
    adata = read_input(_existing(args.input, "INPUT"), args.metadata)
    background = read_input(_existing(args.background_input, "--background-input")) if args.background_input else None
    return adata, background


def _existing(path: str, name: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise CommandError(f"{name} {str(path)!r} does not exist.")
    return path


def _fixed_n_enriched(args: argparse.Namespace) -> dict:
    """``--n-enriched`` of the selection commands, which choose k or alpha for fixed counts."""
    if args.n_enriched is None:
        return {}
    return {"n_enriched": _number_or_auto(args.n_enriched, int, "--n-enriched", allow_auto=False)}


def _number_or_auto(value: str, kind, option: str, allow_auto: bool = True):
    if allow_auto and value == "auto":
        return "auto"
    try:
        return kind(value)
    except ValueError:
        expected = "a whole number" if kind is int else "a number"
        raise CommandError(f"{option} {value!r} must be {expected}" + (" or 'auto'." if allow_auto else ".")) from None


def _mask_var(value: str):
    return None if value.lower() == "none" else value


def _write_csv(table: pd.DataFrame, path: Path, index: bool = True) -> None:
    write_atomic(path, lambda temporary: table.to_csv(temporary, index=index))

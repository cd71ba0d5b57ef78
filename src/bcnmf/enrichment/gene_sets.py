"""Gene-set collections: GMT files, dictionaries, and the collections that ship with bcnmf.

``"GO_BP"`` (GO Biological Process, release 2022-07-01) and ``"hallmark"`` (MSigDB v7.0) are
bundled, so enrichment works offline; see ``gene_sets_data/ATTRIBUTION.md``. Both use human gene
symbols.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from importlib import resources
from os import PathLike
from pathlib import Path

#: Bundled collections: name -> file in ``bcnmf/enrichment/gene_sets_data``.
BUNDLED = {"GO_BP": "go_bp_human_2022-07-01.gmt.gz", "hallmark": "h.all.v7.0.symbols.gmt.gz"}

GeneSets = dict[str, list[str]]


def read_gmt(path: str | PathLike) -> GeneSets:
    """Read a GMT file (optionally gzip-compressed): one set per line, its name, a description,
    then its genes, separated by tabs.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When a line has no genes, or a set name appears twice.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"gene-set file {str(path)!r} does not exist; give the path of a .gmt file.")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return _parse_gmt(handle, str(path))


def _parse_gmt(lines, source: str) -> GeneSets:
    sets: GeneSets = {}
    for number, line in enumerate(lines, start=1):
        fields = [field.strip() for field in line.rstrip("\n").split("\t")]
        if not any(fields):
            continue
        genes = [gene for gene in fields[2:] if gene]
        if len(fields) < 3 or not genes:
            raise ValueError(f"{source}, line {number}: a GMT line needs a name, a description and at least one "
                             "gene, separated by tabs.")
        if fields[0] in sets:
            raise ValueError(f"{source}, line {number}: gene set {fields[0]!r} appears twice.")
        sets[fields[0]] = genes
    if not sets:
        raise ValueError(f"{source} holds no gene sets.")
    return sets


def bundled(name: str) -> GeneSets:
    """One of the bundled collections, ``"GO_BP"`` or ``"hallmark"``."""
    if name not in BUNDLED:
        raise ValueError(f"gene_sets={name!r} is not a bundled collection ({', '.join(BUNDLED)}) nor an existing "
                         "file; give one of those names, the path of a .gmt file, or a dict of gene lists.")
    resource = resources.files("bcnmf.enrichment") / "gene_sets_data" / BUNDLED[name]
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as handle:
        return _parse_gmt(handle, name)


def load_gene_sets(gene_sets) -> dict[str, GeneSets]:
    """Gene-set collections by name, from any mix of sources.

    Parameters
    ----------
    gene_sets : str, path, dict, or list of these
        A bundled collection name (``"GO_BP"``, ``"hallmark"``), the path of a GMT file (named by
        its file name), a dict of set name -> genes (named ``"custom"``), a dict of collection name
        -> such a dict, or a list of any of these for several collections at once.

    Returns
    -------
    dict
        Collection name -> (set name -> list of genes).
    """
    if isinstance(gene_sets, (list, tuple)):
        if not gene_sets:
            raise ValueError("gene_sets is an empty list; give at least one collection.")
        collections: dict[str, GeneSets] = {}
        for item in gene_sets:
            for name, sets in load_gene_sets(item).items():
                if name in collections:
                    raise ValueError(f"gene_sets names the collection {name!r} twice.")
                collections[name] = sets
        return collections
    if isinstance(gene_sets, Mapping):
        if gene_sets and all(isinstance(value, Mapping) for value in gene_sets.values()):
            return {str(name): _checked_dict(sets, str(name)) for name, sets in gene_sets.items()}
        return {"custom": _checked_dict(gene_sets, "custom")}
    if isinstance(gene_sets, (str, PathLike)):
        path = Path(gene_sets)
        if isinstance(gene_sets, str) and gene_sets in BUNDLED:
            return {gene_sets: bundled(gene_sets)}
        if path.is_file():
            return {path.name.removesuffix(".gz").removesuffix(".gmt"): read_gmt(path)}
        return {str(gene_sets): bundled(str(gene_sets))}  # raises, naming the choices
    raise TypeError(f"gene_sets of type {type(gene_sets).__name__} is not understood; give a collection name, a "
                    ".gmt path, a dict of gene lists, or a list of these.")


def _checked_dict(sets: Mapping, collection: str) -> GeneSets:
    checked = {}
    for name, genes in sets.items():
        if isinstance(genes, str) or not all(isinstance(gene, str) for gene in genes) or not len(genes):
            raise ValueError(f"gene set {name!r} of collection {collection!r} must be a non-empty list of gene names.")
        checked[str(name)] = list(genes)
    if not checked:
        raise ValueError(f"collection {collection!r} holds no gene sets.")
    return checked

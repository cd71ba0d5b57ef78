"""Reading the inputs the command line takes.

Inputs: ``.h5ad``; a 10x Matrix Market folder (``matrix.mtx[.gz]``, ``features.tsv[.gz]`` or
``genes.tsv[.gz]``, ``barcodes.tsv[.gz]``); a CSV/TSV table (cells x features, first column the
cell names; text columns become cell metadata); a SciPy sparse ``.npz`` (cells x features). A
metadata table (CSV/TSV, first column the cell names) adds ``obs`` columns to any of them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp


def read_input(path: str | os.PathLike, metadata: str | os.PathLike | None = None):
    """Read cells x features into an AnnData, with ``metadata`` rows joined to the cells by name.

    Raises
    ------
    FileNotFoundError
        When ``path`` (or ``metadata``) does not exist.
    ValueError
        When the format is not recognised, an .h5ad file cannot be read, or the files disagree.
    """
    import anndata as ad

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input {str(path)!r} does not exist.")
    if path.is_dir():
        adata = _read_10x(path)
    elif path.suffix == ".h5ad":
        try:
            adata = ad.read_h5ad(path)
        except OSError as err:  # h5py's message names neither the file nor the likely cause
            raise ValueError(f"input {str(path)!r} could not be read as an .h5ad file ({err}); a copy cut short or "
                             "another format renamed .h5ad fails this way: check the file, or write it again "
                             "with adata.write_h5ad.") from err
    elif path.suffix == ".npz":
        adata = _read_npz(path)
    elif _table_suffix(path):
        adata = _read_table(path)
    else:
        raise ValueError(f"input {str(path)!r}: unknown format; give an .h5ad file, a 10x folder, a .csv/.tsv table "
                         "or a SciPy sparse .npz.")
    if metadata is not None:
        adata.obs = _join_metadata(adata.obs, Path(metadata))
    return adata


def _table_suffix(path: Path) -> str | None:
    name = path.name.removesuffix(".gz")
    return ("," if name.endswith(".csv") else "\t") if name.endswith((".csv", ".tsv", ".txt")) else None


def _read_table(path: Path):
    import anndata as ad

    table = pd.read_csv(path, sep=_table_suffix(path), index_col=0)
    numeric = table.select_dtypes(include="number")
    if numeric.shape[1] < 2:
        raise ValueError(f"input {str(path)!r}: a table needs cells as rows, the cell names in the first column and at "
                         "least two numeric feature columns.")
    obs = table.drop(columns=numeric.columns)
    obs.index = obs.index.astype(str)
    return ad.AnnData(numeric.to_numpy(dtype=np.float32), obs=obs,
                      var=pd.DataFrame(index=numeric.columns.astype(str)))


def _read_npz(path: Path):
    import anndata as ad

    try:
        X = sp.load_npz(path)
    except (ValueError, OSError) as err:
        raise ValueError(f"input {str(path)!r} is not a SciPy sparse .npz (save one with scipy.sparse.save_npz): "
                         f"{err}") from None
    return ad.AnnData(sp.csr_matrix(X, dtype=np.float32),
                      obs=pd.DataFrame(index=[f"cell_{i}" for i in range(X.shape[0])]),
                      var=pd.DataFrame(index=[f"feature_{j}" for j in range(X.shape[1])]))


def _first(folder: Path, names: tuple[str, ...]) -> Path:
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise ValueError(f"10x folder {str(folder)!r} has no {' or '.join(names)} (optionally .gz).")


def _read_10x(folder: Path):
    import anndata as ad

    matrix = _first(folder, ("matrix.mtx",))
    features = pd.read_csv(_first(folder, ("features.tsv", "genes.tsv")), sep="\t", header=None)
    barcodes = pd.read_csv(_first(folder, ("barcodes.tsv",)), sep="\t", header=None)
    X = sp.csr_matrix(scipy.io.mmread(matrix).T, dtype=np.float32)  # 10x stores features x cells
    if X.shape != (len(barcodes), len(features)):
        raise ValueError(f"10x folder {str(folder)!r}: the matrix is {X.shape[1]} features x {X.shape[0]} cells but "
                         f"there are {len(features)} features and {len(barcodes)} barcodes.")
    names = features[1] if features.shape[1] > 1 else features[0]
    var = pd.DataFrame({"feature_id": features[0].astype(str).to_numpy()}, index=names.astype(str).to_numpy())
    adata = ad.AnnData(X, obs=pd.DataFrame(index=barcodes[0].astype(str).to_numpy()), var=var)
    adata.var_names_make_unique()
    return adata


def _join_metadata(obs: pd.DataFrame, path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"metadata {str(path)!r} does not exist.")
    table = pd.read_csv(path, sep=_table_suffix(path) or ",", index_col=0)
    table.index = table.index.astype(str)
    missing = obs.index.difference(table.index)
    if len(missing):
        raise ValueError(f"metadata {str(path)!r} has no row for {len(missing)} cell(s) (for example "
                         f"{missing[0]!r}); its first column must hold the cell names.")
    joined = obs.drop(columns=[c for c in table.columns if c in obs.columns]).join(table)
    return joined

"""Every row of docs/reliability.md holds: each call is run as written and must be fitted, refused
with a ValueError that says what the row says, or (from the command line) end with one line and
exit status 2."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import bcnmf
from bcnmf import BCNMF, NMF
from bcnmf.cli import main

PAGE = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"
ROW = re.compile(r"^\| (\d+) \| (.+?) \| `(.+)` \| (.+?) \|$", re.MULTILINE)
ROWS = ROW.findall(PAGE.read_text())


def test_the_table_has_the_promised_size():
    numbers = [int(row[0]) for row in ROWS]
    assert numbers == list(range(1, len(ROWS) + 1)) and len(ROWS) >= 60
    assert sum(row[3] == "fitted" for row in ROWS) >= 10


@pytest.fixture(scope="module")
def namespace(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.poisson(3.0, (30, 20)).astype(float)
    Y = rng.poisson(3.0, (30, 20)).astype(float)
    genes = [f"g{j}" for j in range(20)]
    cells = ad.AnnData(np.vstack([X, Y]), obs=pd.DataFrame({"condition": ["case"] * 30 + ["control"] * 30},
                                                           index=[f"c{i}" for i in range(60)]),
                       var=pd.DataFrame(index=genes))
    folder = tmp_path_factory.mktemp("reliability")
    cells.write_h5ad(folder / "cells.h5ad")
    (folder / "notes.h5ad").write_text("not an HDF5 file")

    def with_value(M, value):
        M = M.copy()
        M[0, 0] = value
        return M

    def one_entry(M):
        single = np.zeros_like(M)
        single[0, 0] = M.max()
        return single

    def stored_zeros(M):
        S = sp.csr_matrix(M)
        S.data[::3] = 0.0  # kept in the structure, as .h5ad files often store them
        return S

    def twice_named(adata):
        adata = adata.copy()
        adata.var_names = ["g0"] + genes[1:-1] + ["g0"]
        return adata

    def cli(arguments: str):
        import os

        here = os.getcwd()
        os.chdir(folder)
        try:
            return main(arguments.split())
        finally:
            os.chdir(here)

    def with_zero_column(M):
        M = M.copy()
        M[:, 3] = 0
        return M

    def with_zero_row(M):
        M = M.copy()
        M[3] = 0
        return M

    return {"np": np, "sp": sp, "pd": pd, "bcnmf": bcnmf, "NMF": NMF, "BCNMF": BCNMF, "X": X, "Y": Y,
            "cells": cells, "cli": cli, "with_value": with_value, "one_entry": one_entry,
            "stored_zeros": stored_zeros, "twice_named": twice_named, "with_zero_column": with_zero_column,
            "with_zero_row": with_zero_row, "frame": lambda M: pd.DataFrame(M, columns=genes), "folder": folder}


def _finite_fit(result) -> bool:
    arrays = [result] if isinstance(result, np.ndarray) else [getattr(result, "components_", np.zeros(1))]
    return all(np.isfinite(a).all() and (a >= 0).all() for a in arrays)


@pytest.mark.parametrize("number, what, call, expected", ROWS, ids=[f"{row[0]}-{row[1]}" for row in ROWS])
def test_each_row_holds(namespace, capsys, number, what, call, expected):
    inputs = {name: value.copy() for name, value in namespace.items() if name in ("X", "Y", "cells")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if expected.startswith("exit 2: "):
            assert eval(call, dict(namespace)) == 2
            lines = capsys.readouterr().err.strip().splitlines()
            assert len(lines) == 1 and expected.removeprefix("exit 2: ") in lines[0], lines
            assert not (namespace["folder"] / "r.h5ad").exists()
        elif expected == "fitted":
            assert _finite_fit(eval(call, dict(namespace)))
        else:
            kind, message = expected.split(": ", 1)
            assert kind == "ValueError"
            with pytest.raises(ValueError, match=re.escape(message)):
                eval(call, dict(namespace))
    # Nothing the caller had is changed.
    np.testing.assert_array_equal(namespace["X"], inputs["X"])
    np.testing.assert_array_equal(namespace["Y"], inputs["Y"])
    assert namespace["cells"].n_vars == 20 and "bcnmf" not in namespace["cells"].uns

"""The mice protein expression data (UCI; Higuera, Gardiner & Cios 2015), bundled with bcnmf."""

from __future__ import annotations

from importlib import resources

import pandas as pd
from sklearn.utils import Bunch

_FILE = "Data_Cortex_Nuclear.csv"
_METADATA = ["MouseID", "Genotype", "Treatment", "Behavior", "class"]


def load_mice_protein_table() -> pd.DataFrame:
    """The full table: 1,080 measurements of 77 proteins and their metadata, missing values kept."""
    with resources.files("bcnmf.datasets").joinpath("data", _FILE).open("rb") as handle:
        return pd.read_csv(handle, encoding="utf-8-sig")


def mice_protein() -> Bunch:
    """The contrastive split used with these data since contrastive PCA (Abid et al. 2018).

    Target: mice in the shock-context (S/C) group given saline, both genotypes; the question is
    whether Down-syndrome (Ts65Dn) mice separate from controls. Background: context-shock (C/S)
    saline control mice. Missing values are filled with each protein's mean over the full table.

    Returns
    -------
    Bunch with ``target`` and ``background`` (DataFrames of protein levels, measurements x 77
    proteins), ``target_labels`` (genotype of each target row: "Control" or "Ts65Dn") and
    ``feature_names``.

    Notes
    -----
    Data: UCI Machine Learning Repository, "Mice Protein Expression", CC BY 4.0.
    """
    table = load_mice_protein_table()
    proteins = [c for c in table.columns if c not in _METADATA]
    values = table[proteins].fillna(table[proteins].mean())
    saline = table["Treatment"] == "Saline"
    target_rows = saline & (table["Behavior"] == "S/C")
    background_rows = saline & (table["Behavior"] == "C/S") & (table["Genotype"] == "Control")
    return Bunch(
        target=values[target_rows].reset_index(drop=True),
        background=values[background_rows].reset_index(drop=True),
        target_labels=table.loc[target_rows, "Genotype"].to_numpy(),
        feature_names=proteins,
    )

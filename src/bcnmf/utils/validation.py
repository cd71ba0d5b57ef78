"""Checks run on user input before any work starts. Every error names the argument and the fix."""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import scipy.sparse as sp


class DataWarning(UserWarning):
    """Input is usable but probably not what the user meant (empty rows, empty columns)."""


def check_dtype(dtype) -> np.dtype:
    """Accept float32 or float64 in any spelling numpy understands."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as err:
        raise ValueError(f"dtype={dtype!r} is not a dtype; use 'float32' (default) or 'float64'.") from err
    if resolved not in (np.float32, np.float64):
        raise ValueError(f"dtype={dtype!r} is not supported; use 'float32' (default) or 'float64'.")
    return resolved


def check_matrix(X, name: str, dtype, *, allow_zeros: bool = True, allow_negative: bool = False,
                 warn_empty: str = "both"):
    """Validate a data matrix (samples x features), non-negative unless ``allow_negative``.

    Parameters
    ----------
    X : array-like, scipy sparse matrix or pandas DataFrame
    name : str
        The argument's name, used in messages.
    dtype : numpy dtype
        Floating dtype of the returned matrix.
    allow_zeros : bool
        False for losses undefined at zero (Itakura-Saito).
    allow_negative : bool
        True for methods that take any real data (contrastive PCA).
    warn_empty : {"both", "rows", "none"}
        Warn about all-zero rows and columns, rows only, or neither.

    Returns
    -------
    X : ndarray or scipy.sparse.csr_matrix
        C-contiguous dense array or CSR matrix (sparse input stays sparse, except with
        ``allow_zeros=False``, where every entry is stored and dense is smaller).
    feature_names : ndarray of str or None
        Column names of a DataFrame.
    """
    feature_names = None
    if isinstance(X, pd.DataFrame):
        non_numeric = [str(c) for c, t in X.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
        if non_numeric:
            raise ValueError(
                f"{name} has non-numeric columns {non_numeric[:5]}; drop them or move them to a "
                "separate metadata table before fitting."
            )
        feature_names = np.asarray([str(c) for c in X.columns], dtype=object)
        X = X.to_numpy()
    if sp.issparse(X):
        X = canonical_csr(X, dtype)
        values = X.data
    else:
        try:
            X = np.asarray(X)
        except Exception as err:  # ragged lists and the like
            raise ValueError(f"{name} could not be read as a 2-D numeric array: {err}") from err
        if X.dtype.kind not in "biuf":
            raise ValueError(
                f"{name} has dtype {X.dtype}, which is not numeric; pass a numeric array, a SciPy "
                "sparse matrix or a DataFrame of numbers."
            )
        if X.ndim != 2:
            raise ValueError(
                f"{name} must be 2-D (samples x features); got {X.ndim}-D with shape {X.shape}. "
                "Use X.reshape(1, -1) for a single sample."
            )
        X = np.ascontiguousarray(X, dtype=dtype)
        values = X
    n_samples, n_features = X.shape
    if n_samples == 0 or n_features == 0:
        raise ValueError(f"{name} is empty (shape {X.shape}); it needs at least one sample and one feature.")
    _check_values(X, values, name, allow_zeros, allow_negative)
    if sp.issparse(X) and not allow_zeros:
        # A loss undefined at zero (Itakura-Saito) needs every entry stored, where dense is the
        # smaller form; sparse kernels also price the unstored entries as zeros, infinite here.
        X = X.toarray()
    if warn_empty in ("both", "rows"):
        _warn_empty_rows(X, name)
    if warn_empty == "both":
        warn_empty_columns([X], name)
    return X, feature_names


def canonical_csr(X, dtype) -> sp.csr_matrix:
    """``X`` as CSR of ``dtype`` with sorted, summed indices and no stored zeros, the caller's
    arrays untouched. Stored zeros (common in ``.h5ad`` files) would reach the kernels as entries
    ``0 * log(0 / v)``, which is NaN for count losses; they are dropped in a copy. An input already
    in that form is used as it is: copying would double the memory of large inputs."""
    if sp.isspmatrix_csr(X) and X.dtype == dtype and X.has_canonical_format and np.all(X.data):
        return sp.csr_matrix(X, copy=False)
    X = sp.csr_matrix(X, dtype=dtype, copy=True)
    X.sum_duplicates()
    X.eliminate_zeros()
    return X


def _check_values(X, values, name: str, allow_zeros: bool, allow_negative: bool = False) -> None:
    """Reject NaN/inf, negative entries (unless allowed) and (where the loss needs it) zeros in ``X``."""
    n_bad, n_negative, n_zero = _count_bad_values(values)
    if n_bad:
        raise ValueError(
            f"{name} contains {n_bad} NaN or infinite values; impute or drop them first "
            "(for example fill each column with its mean)."
        )
    if n_negative and not allow_negative:
        raise ValueError(
            f"{name} has {n_negative} negative entries (smallest {float(values.min()):.4g}); non-negative "
            "factorization needs data >= 0. Use raw counts or a non-negative transform such as log1p, "
            "not centred or scaled data."
        )
    if not allow_zeros and (sp.issparse(X) and X.nnz < X.shape[0] * X.shape[1] or n_zero):
        raise ValueError(
            f"{name} has zero entries, where the Itakura-Saito divergence (beta <= 0) is undefined; add a "
            "small constant to the data or use a loss with beta > 0."
        )



#: Values checked at a time: the masks of a whole 50-million-entry matrix would be 50 MB each.
CHECK_CHUNK = 2**20


def _count_bad_values(values: np.ndarray) -> tuple[int, int, int]:
    """``(non-finite, negative, zero)`` counts over a contiguous array, one chunk at a time."""
    flat = values.reshape(-1)
    n_bad = n_negative = n_zero = 0
    for start in range(0, flat.size, CHECK_CHUNK):
        part = flat[start:start + CHECK_CHUNK]
        n_bad += part.size - int(np.count_nonzero(np.isfinite(part)))
        n_negative += int(np.count_nonzero(part < 0))
        n_zero += part.size - int(np.count_nonzero(part))
    return n_bad, n_negative, n_zero

@dataclass
class SourceSummary:
    """What one pass over a block source learns: sums for offsets and caps, and row totals."""

    column_sums: np.ndarray
    max_row_total: float
    empty_rows: int
    nonzeros: int

    def combined(self, other: SourceSummary) -> SourceSummary:
        """The summary of this part of the rows and ``other`` together."""
        return SourceSummary(self.column_sums + other.column_sums, max(self.max_row_total, other.max_row_total),
                             self.empty_rows + other.empty_rows, self.nonzeros + other.nonzeros)


def scan_source(source, name: str, dtype, *, allow_zeros: bool = True, n_blocks: int = 1) -> SourceSummary:
    """Check every block of an out-of-core source as :func:`check_matrix` checks a matrix, and sum it.

    Errors name the rows of the offending block, so the user can find it in the file. Blocks are
    checked where they are read (on the workers, for a source spread over a Dask cluster).
    """
    if source.n_rows == 0 or source.n_features == 0:
        raise ValueError(f"{name} is empty (shape {(source.n_rows, source.n_features)}); it needs samples and features.")
    summary = source.reduce_blocks(partial(summarize_block, name=name, n_features=source.n_features,
                                           allow_zeros=allow_zeros), SourceSummary.combined, n_blocks, dtype)
    if summary.empty_rows:
        warnings.warn(f"{name} has {summary.empty_rows} all-zero rows (samples); their usages will be zero.",
                      DataWarning, stacklevel=3)
    return summary


def summarize_block(rows: slice, block, *, name: str, n_features: int, allow_zeros: bool) -> SourceSummary:
    """Check one block of rows ``rows`` of ``name`` and sum it (:func:`scan_source`'s per-block part)."""
    if block.shape[1] != n_features:
        raise ValueError(f"{name} rows {rows.start}-{rows.stop - 1} have {block.shape[1]} features, not "
                         f"{n_features}; every block needs the same features.")
    _check_values(block, block.data if sp.issparse(block) else block, f"{name} (rows {rows.start}-{rows.stop - 1})",
                  allow_zeros)
    row_totals = np.asarray(block.sum(axis=1, dtype=np.float64)).ravel()
    return SourceSummary(np.asarray(block.sum(axis=0, dtype=np.float64)).ravel(), float(row_totals.max(initial=0.0)),
                         int(np.count_nonzero(row_totals == 0)),
                         int(np.count_nonzero(block.data if sp.issparse(block) else block)))


def _warn_empty_rows(X, name: str) -> None:
    empty_rows = int(np.count_nonzero(np.asarray(X.sum(axis=1)).ravel() == 0))
    if empty_rows:
        warnings.warn(
            f"{name} has {empty_rows} all-zero rows (samples); their usages will be zero. Filter them "
            "out (for example cells with no counts) if that is not intended.",
            DataWarning,
            stacklevel=4,
        )


def warn_empty_columns(matrices: list, name: str) -> None:
    """Warn about features that are zero in every one of ``matrices``."""
    col_sums = sum(np.asarray(X.sum(axis=0)).ravel() for X in matrices)
    empty_cols = int(np.count_nonzero(col_sums == 0))
    if empty_cols:
        warnings.warn(
            f"{name} has {empty_cols} all-zero columns (features); their loadings will be zero. Filter "
            "them out to save time.",
            DataWarning,
            stacklevel=4,
        )


def check_dispersion(dispersion, n_features: int) -> None:
    """A fixed NB dispersion must be one positive finite number or one per feature; None (estimated
    from the data) passes."""
    if dispersion is None:
        return
    try:
        values = np.asarray(dispersion, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"dispersion={dispersion!r} is not a number or an array of numbers.") from err
    if values.ndim > 1 or (values.ndim == 1 and values.size != n_features):
        raise ValueError(f"dispersion has shape {values.shape}; give one number, one per feature ({n_features}), "
                         "or None to estimate it.")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError("dispersion must be positive and finite (Var = mean + dispersion * mean**2; Poisson is "
                         "loss='kl'); give None to estimate it.")


def check_n_components(n_components, n_samples: int, n_features: int, name: str = "X") -> int:
    """``n_components`` must be a positive integer no larger than ``min(n_samples, n_features)``."""
    if isinstance(n_components, bool) or not isinstance(n_components, numbers.Integral) or n_components < 1:
        raise ValueError(f"n_components={n_components!r} must be a positive integer.")
    limit = min(n_samples, n_features)
    if n_components > limit:
        raise ValueError(
            f"n_components={n_components} is larger than {name} allows: it has {n_samples} samples and "
            f"{n_features} features, so at most {limit} components; lower n_components."
        )
    return int(n_components)


def check_contrast_data(X_target, X_background, k: int) -> None:
    """What bcNMF needs of its data before any work: two samples of each condition (its labels
    test the topics' use in one against the other), and non-zero entries in at least ``k`` target
    samples and ``k`` target features (the target's rank is no larger, and contrastive topics
    beyond it are driven to zero: an unstable fit)."""
    for name, X in (("X_target", X_target), ("X_background", X_background)):
        if X.shape[0] < 2:
            raise ValueError(f"{name} has {X.shape[0]} sample; bcNMF needs at least two target and two background "
                             "samples, because its labels test the topics' use in one against the other.")
    rows = int(np.count_nonzero(np.asarray(X_target.sum(axis=1)).ravel()))
    columns = int(np.count_nonzero(np.asarray(X_target.sum(axis=0)).ravel()))
    if rows == 0:
        raise ValueError("X_target has no non-zero entries, so there is nothing to factorize; check that the "
                         "intended data were passed (for example raw counts, not an empty layer).")
    if min(rows, columns) < k:
        raise ValueError(f"X_target has non-zero entries in only {rows} samples and {columns} features, too few "
                         f"for n_components={k} topics (at most {min(rows, columns)}); lower n_components.")


def check_same_features(target_shape, background_shape, target_names, background_names) -> None:
    """Target and background must describe the same features, in the same order."""
    if target_shape[1] != background_shape[1]:
        raise ValueError(
            f"X_target has {target_shape[1]} features but X_background has {background_shape[1]}; both "
            "must be measured on the same features (columns), in the same order."
        )
    if target_names is not None and background_names is not None and not np.array_equal(target_names, background_names):
        if set(target_names) == set(background_names):
            raise ValueError(
                "X_target and X_background have the same feature names in a different order; reorder "
                "the background with X_background = X_background[X_target.columns]."
            )
        missing = sorted(set(target_names) ^ set(background_names))
        raise ValueError(
            f"X_target and X_background have different feature names (for example {missing[:5]}); "
            "subset both to their shared features first."
        )


def check_positive(value, name: str, *, allow_zero: bool = False, upper: float | None = None) -> float:
    """A finite real number > 0 (or >= 0), optionally <= ``upper``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}={value!r} must be a finite number.")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}={value!r} must be {bound}.")
    if upper is not None and value > upper:
        raise ValueError(f"{name}={value!r} must be at most {upper}.")
    return float(value)


def check_missing(missing, X, name: str = "missing"):
    """Check a boolean mask of entries of ``X`` to leave out (True: missing or held out).

    Returns
    -------
    X_observed : ndarray or csr_matrix
        ``X`` with zeros at the left-out entries (a copy when any are left out).
    left_out : csr_matrix or None
        Their pattern, or None when nothing is left out.
    """
    if missing is None:
        return X, None
    if sp.issparse(missing):
        if missing.dtype != bool:
            raise ValueError(f"{name} must be a boolean mask (True where an entry is missing); got dtype {missing.dtype}.")
        pattern = sp.csr_matrix(missing, dtype=bool)
    else:
        mask = np.asarray(missing)
        if mask.dtype != bool:
            raise ValueError(f"{name} must be a boolean mask (True where an entry is missing); got dtype {mask.dtype}. "
                             "For NaN-coded data pass missing=np.isnan(X) and fill the NaNs with 0.")
        pattern = sp.csr_matrix(mask, dtype=bool)
    if pattern.shape != X.shape:
        raise ValueError(f"{name} has shape {pattern.shape} but the data have shape {X.shape}; give one flag per entry.")
    pattern.eliminate_zeros()
    if pattern.nnz == 0:
        return X, None
    counts = np.diff(pattern.indptr)
    full_rows = np.flatnonzero(counts == X.shape[1])
    if full_rows.size:
        raise ValueError(f"{name} leaves out every entry of row(s) {full_rows[:5].tolist()}; drop those samples instead.")
    if sp.issparse(X):
        observed = sp.csr_matrix(X - X.multiply(pattern))
        observed.eliminate_zeros()
        observed = sp.csr_matrix(observed, dtype=X.dtype)
    else:
        observed = np.array(X, copy=True)
        observed[pattern.nonzero()] = 0
    return observed, pattern


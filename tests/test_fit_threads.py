"""BLAS threads during fits: one while iterating on sparse data, as they were otherwise."""

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_info, threadpool_limits

from bcnmf.backend.threads import fit_threads


def blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.fixture
def two_blas_threads():
    if not blas_threads():
        pytest.skip("no BLAS library that threadpoolctl can control is loaded")
    with threadpool_limits(2, user_api="blas"):
        yield


def test_sparse_data_run_blas_on_one_thread_and_the_setting_comes_back(two_blas_threads):
    before = blas_threads()
    with fit_threads([np.ones((3, 3)), sp.random(5, 4, density=0.5, format="csr")]):
        assert set(blas_threads()) == {1}
    assert blas_threads() == before


def test_dense_data_keep_blas_threads(two_blas_threads):
    before = blas_threads()
    with fit_threads([np.ones((3, 3))]):
        assert blas_threads() == before


def test_a_sparse_fit_sweeps_while_blas_has_one_thread(two_blas_threads, monkeypatch):
    import bcnmf.engine.coordinate as coordinate
    from bcnmf import NMF

    seen = []
    sweeps = coordinate.quadratic_sweeps

    def spy(*args, **kwargs):
        seen.append(max(blas_threads()))
        return sweeps(*args, **kwargs)

    monkeypatch.setattr(coordinate, "quadratic_sweeps", spy)
    X = sp.random(60, 40, density=0.3, format="csr", random_state=0)
    NMF(4, max_iter=5, tol=0.0).fit(X)
    assert seen and set(seen) == {1}
    assert max(blas_threads()) == 2

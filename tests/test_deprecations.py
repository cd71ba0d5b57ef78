"""Names kept for one release: the old name warns and gives what the new one holds."""

import numpy as np
import pytest

from bcnmf import BCNMF, NMF


def test_nmf_loss_curve_is_a_deprecated_objective_curve(small_sim):
    model = NMF(2, loss="kl", max_iter=20, tol=0, random_state=0).fit(small_sim.target)
    with pytest.warns(FutureWarning, match="loss_curve_ is deprecated.*use objective_curve_"):
        old = model.loss_curve_
    np.testing.assert_array_equal(old, model.objective_curve_)
    with pytest.warns(FutureWarning, match="use objective_curve_iterations_"):
        np.testing.assert_array_equal(model.loss_curve_iterations_, model.objective_curve_iterations_)


def test_bcnmf_loss_curve_is_a_deprecated_target_loss_curve(small_sim):
    model = BCNMF(2, max_iter=20, tol=0, random_state=0).fit(small_sim.target, small_sim.background)
    with pytest.warns(FutureWarning, match="use target_loss_curve_"):
        old = model.loss_curve_
    np.testing.assert_array_equal(old, model.target_loss_curve_)
    assert len(model.objective_curve_) == len(model.target_loss_curve_)


def test_an_unfitted_estimator_has_no_curve_and_no_warning(recwarn):
    assert not hasattr(NMF(2), "loss_curve_")
    assert not hasattr(BCNMF(2), "loss_curve_")
    assert not [w for w in recwarn if issubclass(w.category, FutureWarning)]

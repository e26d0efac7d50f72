"""Metrics against hand-computed values and against scikit-learn."""
import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from voltlib.metrics import evaluate, r2_per_neuron, r2_pooled

Y_TRUE = np.array([[1.0, 2.0], [3.0, 4.0]])
Y_PRED = np.array([[1.0, 3.0], [2.0, 4.0]])
STD_MV = np.array([2.0, 10.0])


def test_hand_computed_values():
    m = evaluate(Y_TRUE, Y_PRED, STD_MV, n_exc=1, y_persist_z=np.array([[0.0, 0.0], [3.0, 4.0]]))
    # errors (pred - true): [[0, 1], [-1, 0]]; global mean 2.5 -> SST = 2.25 + 0.25 + 0.25 + 2.25 = 5
    assert m["r2"] == pytest.approx(1 - 2 / 5)
    # each neuron: SST 2 around its own mean, SSE 1
    assert m["r2_per_neuron"] == pytest.approx([0.5, 0.5])
    assert m["r2_per_neuron_mean"] == pytest.approx(0.5)
    assert (m["mse_z"], m["mae_z"], m["rmse_z"]) == pytest.approx((0.5, 0.5, np.sqrt(0.5)))
    # in mV: errors [[0, 10], [-2, 0]]
    assert (m["mse_mv"], m["mae_mv"], m["rmse_mv"]) == pytest.approx((26.0, 3.0, np.sqrt(26.0)))
    assert (m["r2_exc"], m["r2_inh"]) == pytest.approx((0.5, 0.5))
    # persistence errors [[-1, -2], [0, 0]] -> MSE 1.25; skill = 1 - 0.5 / 1.25
    assert m["skill_vs_persistence"] == pytest.approx(0.6)
    assert "skill_vs_persistence" not in evaluate(Y_TRUE, Y_PRED, STD_MV, n_exc=1)


def test_against_sklearn():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(500, 7)) + np.arange(7) * 0.3
    p = t + rng.normal(scale=0.6, size=t.shape)
    m = evaluate(t, p, np.ones(7), n_exc=5)
    assert m["r2"] == pytest.approx(r2_score(t.ravel(), p.ravel()), abs=1e-12)
    assert np.allclose(m["r2_per_neuron"], r2_score(t, p, multioutput="raw_values"))
    assert m["mse_z"] == pytest.approx(mean_squared_error(t, p))
    assert m["mae_z"] == pytest.approx(mean_absolute_error(t, p))
    assert m["r2_exc"] == pytest.approx(r2_score(t[:, :5].ravel(), p[:, :5].ravel()))
    assert m["r2_inh"] == pytest.approx(r2_score(t[:, 5:].ravel(), p[:, 5:].ravel()))


def test_pooled_differs_from_per_neuron_when_neuron_means_differ():
    # pooled SST includes the spread between neuron means, so it rewards getting the offsets right
    t = np.array([[0.0, 10.0], [1.0, 11.0], [2.0, 12.0]])
    p = t + np.array([[0.5, -0.5], [-0.5, 0.5], [0.5, -0.5]])
    assert r2_per_neuron(t, p) == pytest.approx([1 - 0.75 / 2, 1 - 0.75 / 2])
    assert r2_pooled(t, p) == pytest.approx(1 - 1.5 / (np.var(t) * 6))
    assert r2_pooled(t, p) > 0.95 > r2_per_neuron(t, p).mean()


def test_shape_errors():
    with pytest.raises(ValueError, match="one shape"):
        evaluate(Y_TRUE, Y_PRED[:1], STD_MV, 1)
    with pytest.raises(ValueError, match="one std per neuron"):
        evaluate(Y_TRUE, Y_PRED, np.ones(3), 1)

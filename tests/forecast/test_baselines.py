"""Baselines on processes whose best forecasts are known in closed form."""

import numpy as np
import pytest

from voltlib.config import DataConfig
from voltlib.forecast import baselines
from voltlib.forecast.data import array_simulation, make_dataset
from voltlib.forecast.metrics import r2_per_neuron, r2_pooled

CFG = DataConfig(discard_ms=0, meas_noise_mv=0.0, window=40, stride=3, horizon=1)


def ar1(phi, n_runs=6, n_t=3000, n=3, seed=0):
    """Independent AR(1) voltages, stationary, unit variance around -60 mV: [run, time, neuron]."""
    rng = np.random.default_rng(seed)
    v = np.zeros((n_runs, n_t, n))
    v[:, 0] = rng.normal(size=(n_runs, n))
    for t in range(1, n_t):
        v[:, t] = phi * v[:, t - 1] + np.sqrt(1 - phi**2) * rng.normal(size=(n_runs, n))
    return v - 60.0


@pytest.mark.parametrize("h", [1, 5])
def test_ar_ridge_reaches_the_ar1_optimum(h):
    ds = make_dataset(array_simulation(ar1(0.9), n_exc=2), CFG, "clean", horizon=h)
    y = ds.test.targets()
    pred, chosen = baselines.ar_ridge(ds)
    # best forecast phi^h * v(t): R^2 = phi^(2h); persistence: 1 - 2 (1 - phi^h)
    assert r2_pooled(y, pred) == pytest.approx(0.9 ** (2 * h), abs=0.04)
    assert r2_pooled(y, ds.test.last_values()) == pytest.approx(1 - 2 * (1 - 0.9**h), abs=0.05)
    assert chosen["lags"] in baselines.AR_LAGS and chosen["alpha"] in baselines.ALPHAS


def test_population_ridge_uses_other_neurons():
    rng = np.random.default_rng(1)
    v = ar1(0.3, n=2)
    # neuron 1 is neuron 0 one step later plus a little noise: only cross-neuron input predicts it
    v[:, 1:, 1] = 0.9 * (v[:, :-1, 0] + 60) + 0.3 * rng.normal(size=v[:, 1:, 1].shape) - 60
    ds = make_dataset(array_simulation(v, n_exc=1), CFG, "clean")
    y = ds.test.targets()
    pop = r2_per_neuron(y, baselines.population_ridge(ds)[0])[1]
    own = r2_per_neuron(y, baselines.ar_ridge(ds)[0])[1]
    assert pop == pytest.approx(0.81 / (0.81 + 0.09), abs=0.05)
    assert pop > own + 0.3


def test_boosting_learns_a_reset_linear_models_cannot():
    # integrate-and-fire-like: drift up with noise, reset to 0 after crossing 10
    rng = np.random.default_rng(2)
    v = np.zeros((6, 3000, 2))
    for t in range(1, 3000):
        up = v[:, t - 1] + 1 + 0.5 * rng.normal(size=(6, 2))
        v[:, t] = np.where(v[:, t - 1] > 10, 0.0, up)
    ds = make_dataset(array_simulation(v - 70, n_exc=1), CFG, "clean")
    y = ds.test.targets()
    boost = r2_pooled(y, baselines.own_lags_boosting(ds)[0])
    assert boost > 0.95
    assert boost > r2_pooled(y, baselines.ar_ridge(ds)[0]) + 0.2


def test_baseline_table_shape_and_trivial_rows():
    sim = array_simulation(ar1(0.8, n_runs=5, n_t=1500), n_exc=2)
    table = baselines.baseline_table(sim, CFG, horizons=(1, 3))
    assert set(table) == {"original", "clean"}
    assert set(table["clean"]) == set(baselines.BASELINES)
    ds = make_dataset(sim, CFG, "clean", horizon=3)
    y = ds.test.targets()
    row = table["clean"]["persistence"]["3"]
    assert row["r2"] == pytest.approx(r2_pooled(y, ds.test.last_values()), abs=1e-9)
    assert row["skill_vs_persistence"] == 0.0
    # the mean forecast is 0 in z: R^2 = -mean^2 / var of the test targets
    assert table["clean"]["mean"]["1"]["mse_z"] == pytest.approx(
        np.mean(make_dataset(sim, CFG, "clean").test.targets().astype(float) ** 2), rel=1e-6
    )
    for protocol in table:
        for name in baselines.BASELINES:
            assert set(table[protocol][name]) == {"1", "3"}  # keys as in baselines.json
            assert {"r2", "r2_per_neuron_mean", "mse_z", "mae_z", "rmse_mv", "mae_mv"} <= set(
                table[protocol][name]["1"]
            )
            lo, hi = table[protocol][name]["1"]["r2_ci"]
            if protocol == "original":  # windows from all 5 runs; the clean test split holds 1 run: no interval
                assert lo <= table[protocol][name]["1"]["r2"] <= hi
            else:
                assert np.isnan(lo) and np.isnan(hi)

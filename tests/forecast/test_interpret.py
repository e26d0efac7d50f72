"""Interpretability tools against models whose importance, sensitivity and parts are known."""

import numpy as np
import pytest
import torch
from torch import nn

from voltlib import paths
from voltlib.config import DataConfig, ModelConfig, TrainConfig
from voltlib.forecast.data import array_simulation, make_dataset
from voltlib.forecast.interpret import (
    acf,
    connectivity_correlation,
    decode_r2,
    filter_summary,
    fit_or_load_ablated,
    head_components,
    lag_groups,
    permutation_importance,
    permute_dataset,
    population_rate_hz,
    predict_x,
    sensitivity,
    unpermute,
)
from voltlib.forecast.metrics import r2_pooled
from voltlib.forecast.models import build_model


class Linear(nn.Module):
    """y = x[t] @ w1 + x[t-2] @ w2 + bias: the stand-in whose sensitivity is its weights."""

    def __init__(self, w1, w2=None):
        super().__init__()
        self.w1 = nn.Parameter(torch.as_tensor(w1, dtype=torch.float32))
        self.w2 = nn.Parameter(torch.zeros_like(self.w1) if w2 is None else torch.as_tensor(w2, dtype=torch.float32))
        self.bias = nn.Parameter(torch.ones(len(self.w1)))

    def forward(self, x):
        return x[:, -1] @ self.w1 + x[:, -3] @ self.w2 + self.bias


def windows(b=400, t=10, n=4, seed=0):
    return torch.as_tensor(np.random.default_rng(seed).standard_normal((b, t, n)), dtype=torch.float32)


def test_permutation_importance_of_an_ignored_neuron_is_zero():
    w = np.diag([1.0, 0.5, 0.0, 2.0])
    w[0, 1] = 0.3  # neuron 1 also reads neuron 0
    model, x = Linear(w), windows()
    y = model(x).detach() + 0.1 * windows(1)[0, :1]
    imp = permutation_importance(model, x, y, groups=[0, 1, 2, 3], axis="neuron")
    assert np.abs(imp[2]).max() == 0.0  # neuron 2's input is never read
    # shuffling neuron 0 hurts outputs 0 and 1 only; exchangeable windows give ~2 w^2 (here 2 and 0.18)
    assert imp[0, 0] == pytest.approx(2.0, rel=0.25) and imp[0, 1] == pytest.approx(0.18, rel=0.3)
    assert imp[0, 2:].max() == 0.0
    assert imp[3, 3] > imp[1, 1] > 0
    # only the lags it reads matter: lag 1 (index -1) and lag 3 (index -3)
    labels, groups = lag_groups(10, edges=(1, 2, 3, 4))
    assert labels == ["1", "2", "3", "4-10"]
    lag_imp = permutation_importance(Linear(w, w2=w), x, Linear(w, w2=w)(x).detach(), groups, axis="lag")
    assert lag_imp[1].max() == 0.0 and lag_imp[3].max() == 0.0
    assert lag_imp[0].sum() > 0 and lag_imp[2].sum() > 0
    assert x.equal(windows())  # the input comes back unshuffled


def test_lag_groups_cover_every_step_once():
    labels, groups = lag_groups(150)
    assert labels[0] == "1" and labels[-1] == "50-150"
    assert sorted(np.concatenate(groups).tolist()) == list(range(150))
    assert groups[0].tolist() == [149]  # lag 1 is the last input sample


def test_sensitivity_of_a_linear_model_equals_its_weights():
    rng = np.random.default_rng(1)
    w1, w2 = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    model = Linear(w1, w2)
    np.testing.assert_allclose(sensitivity(model, windows(16)), w1 + w2, atol=1e-5)
    np.testing.assert_allclose(sensitivity(model, windows(16), last_steps=1), w1, atol=1e-5)
    np.testing.assert_allclose(sensitivity(model, windows(16), last_steps=2), w1, atol=1e-5)


def test_connectivity_correlation_own_run_and_null():
    rng = np.random.default_rng(2)
    w = {r: rng.standard_normal((6, 6)) for r in range(4)}
    res = connectivity_correlation(2.0 * w[1] + 0.0 * np.eye(6), w, own_run=1)
    assert res["r_own"] == pytest.approx(1.0)
    assert len(res["r_other_runs"]) == 3 and abs(res["r_other_mean"]) < 0.6


def test_neuron_shuffle_round_trip():
    rng = np.random.default_rng(3)
    sim = array_simulation(rng.standard_normal((4, 60, 5)).cumsum(axis=1), n_exc=4)
    ds = make_dataset(sim, DataConfig(discard_ms=10, meas_noise_mv=0.0, window=5, stride=2), "clean")
    perm = np.array([3, 0, 4, 1, 2])
    shuffled = permute_dataset(ds, perm)
    assert shuffled.key != ds.key
    for name in ("train", "val", "test"):
        orig, new = ds.split(name).targets(), shuffled.split(name).targets()
        np.testing.assert_array_equal(new[:, 1], orig[:, 0])  # new neuron j is old neuron perm[j]
        np.testing.assert_array_equal(unpermute(new, perm), orig)
        x0, x1 = ds.split(name).get_batch([0])[0], shuffled.split(name).get_batch([0])[0]
        np.testing.assert_array_equal(x1.numpy(), x0.numpy()[..., perm])
    np.testing.assert_array_equal(unpermute(shuffled.std_mv, perm), ds.std_mv)
    with pytest.raises(ValueError, match="permutation"):
        permute_dataset(ds, np.array([0, 0, 1, 2, 3]))


def test_head_components_add_up_to_the_forecast():
    torch.manual_seed(0)
    model = build_model(ModelConfig("cnn_lstm", hidden=8, layers=1), window=10, n_neurons=4).eval()
    x = windows(32)
    lstm_part, skip_part = head_components(model, x)
    with torch.no_grad():
        y = model(x).numpy()
    np.testing.assert_allclose(lstm_part + skip_part + model.out.bias.detach().numpy(), y, atol=1e-5)


def test_filter_summary_shapes_and_centre_ratio():
    torch.manual_seed(0)
    model = build_model(ModelConfig("cnn_lstm", hidden=8, layers=1), window=10, n_neurons=4)
    with torch.no_grad():
        model.cnn.conv1.weight.zero_()
        model.cnn.conv1.weight[:, :, 1] = 2.0
        model.cnn.conv1.weight[:, :, 0] = 1.0
    s = filter_summary(model)
    assert s["conv1"]["offsets"] == [-1, 0, 1] and s["conv2"]["offsets"] == [-2, -1, 0, 1, 2]
    np.testing.assert_allclose(s["conv1"]["by_offset"], [1.0, 2.0, 0.0])
    assert s["conv1"]["centre_over_neighbours"] == pytest.approx(4.0)
    assert s["conv2"]["by_input_step"].shape == (10,)


def test_acf_decode_and_rate_on_known_signals():
    rng = np.random.default_rng(4)
    e = rng.standard_normal((20000, 3))
    ar = np.zeros_like(e)
    for t in range(1, len(e)):
        ar[t] = 0.8 * ar[t - 1] + e[t]
    assert acf(e, 2)[1] == pytest.approx(0.0, abs=0.03)
    np.testing.assert_allclose(acf(ar, 2), [1.0, 0.8, 0.64], atol=0.03)
    f = rng.standard_normal((400, 2))
    assert decode_r2(f, 3 * f[:, 0] - f[:, 1]) == pytest.approx(1.0, abs=1e-3)
    assert decode_r2(f, rng.standard_normal(400)) < 0.05
    # 2 spikes of 10 neurons in the 1-ms bin around 5 ms: 200 Hz per neuron there
    rate = population_rate_hz(np.array([4.8, 5.2]), 10, np.arange(10.0), sigma_ms=0)
    assert rate[5] == pytest.approx(200.0) and rate.sum() == pytest.approx(200.0)


@pytest.fixture
def tiny_cnn_lstm(tmp_path, monkeypatch):
    """(clean dataset of 4 random-walk runs, a tiny CNN-LSTM config, a one-epoch schedule), models cached in tmp_path."""
    monkeypatch.setattr(paths, "MODELS", tmp_path)
    rng = np.random.default_rng(5)
    sim = array_simulation(rng.standard_normal((4, 80, 4)).cumsum(axis=1), n_exc=3)
    ds = make_dataset(sim, DataConfig(discard_ms=0, meas_noise_mv=0.0, window=6, stride=3), "clean")
    return ds, ModelConfig("cnn_lstm", hidden=8, layers=1), TrainConfig(max_epochs=1, warmup_epochs=0)


def test_ablated_retraining_is_cached_and_never_uses_the_skip(tiny_cnn_lstm):
    ds, mcfg, tcfg = tiny_cnn_lstm
    model, info = fit_or_load_ablated("no_res", mcfg, tcfg, ds, "cpu", residual=True)
    assert not info["cached"] and not model.use_residual and model.use_cnn
    again, info2 = fit_or_load_ablated("no_res", mcfg, tcfg, ds, "cpu", residual=True)
    assert info2["cached"] and not again.use_residual
    x = ds.test.get_batch(np.arange(len(ds.test)))[0]
    with torch.no_grad():
        np.testing.assert_allclose(again(x).numpy(), model(x).numpy(), atol=1e-6)
        again.skip.weight.mul_(100.0)  # the skip path does not enter the forecast
        np.testing.assert_allclose(again(x).numpy(), model(x).numpy(), atol=1e-6)


def test_ablation_switches_mean_the_same_in_ablated_and_in_retraining(tiny_cnn_lstm):
    # models.ablated(cnn=True) removes the CNN at forward time; fit_or_load_ablated(cnn=True) trains without it
    ds, mcfg, tcfg = tiny_cnn_lstm
    no_cnn, info = fit_or_load_ablated("no_cnn", mcfg, tcfg, ds, "cpu", cnn=True)
    assert not no_cnn.use_cnn and no_cnn.use_residual and info["variant"] == {"use_cnn": False, "use_residual": True}
    with pytest.raises(ValueError, match="needs a part to switch off"):
        fit_or_load_ablated("nothing", mcfg, tcfg, ds, "cpu")


def test_residual_stats_by_hand():
    from voltlib.forecast.interpret import residual_stats

    out = residual_stats(np.ones((2, 2)), skip_part=np.array([0.0, 2.0]), lstm_part=np.array([0.0, 2 * 3**0.5]))
    assert out["excess_kurtosis"] == pytest.approx(-2.0)  # a constant magnitude: E[r^4]/E[r^2]^2 = 1
    assert out["top1pct_share_of_sse"] == pytest.approx(0.25)  # 4 residuals: the largest one is the top 1 %
    assert out["skip_variance_share"] == pytest.approx(0.25)  # variances 1 and 3


def test_ablation_r2_switches_parts_off_and_puts_them_back():
    from voltlib.forecast.interpret import ablation_r2

    torch.manual_seed(0)
    model = build_model(ModelConfig("cnn_lstm", hidden=8, layers=1), window=6, n_neurons=4).eval()
    x, y = torch.randn(16, 6, 4), torch.randn(16, 4)
    out = ablation_r2(model, model, model, x, y)
    assert out["full CNN-LSTM"] == pytest.approx(r2_pooled(y.numpy(), predict_x(model, x).numpy()))
    assert out["no CNN, retrained (phase 3)"] == out["full CNN-LSTM"]  # the stand-ins are the model itself
    assert out["CNN switched off"] != out["full CNN-LSTM"]
    assert out["persistence"] == pytest.approx(r2_pooled(y.numpy(), x[:, -1].numpy()))
    assert model.use_cnn and model.use_residual  # switched back on

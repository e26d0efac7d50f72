"""The staircase of shared-weight forecasters: inputs aligned with the datasets, features, caching, scoring."""

import dataclasses

import numpy as np
import pytest
import torch

from voltlib import paths, store
from voltlib.config import get_profile, ms_to_samples
from voltlib.forecast import staircase
from voltlib.forecast.data import make_datasets
from voltlib.sim import spikes, wiring
from voltlib.sim.simulate import simulate

pytestmark = pytest.mark.slow

SMOKE = get_profile("smoke")
H = tuple(ms_to_samples(h, SMOKE.sim.record_dt_ms) for h in SMOKE.data.horizons_ms)


@pytest.fixture(scope="module")
def setup():
    sim = simulate(SMOKE.sim, progress=False)
    datasets = make_datasets(sim, SMOKE.data, "clean", H)
    ds = datasets[H[0]]
    inp = staircase.build_inputs(sim, SMOKE.data, ds.runs, H, keep_couplings=ds.runs["test"])
    return sim, datasets, ds, inp


def test_inputs_are_the_datasets_voltages(setup):
    # the family reads the very noisy voltages the datasets z-score: at each test window's origin its mV
    # value is the window's last sample, and t + h is the target
    _, datasets, ds, inp = setup
    for h in H:
        d = datasets[h]
        run, t = staircase.window_origins(d)
        last_mv = d.test.last_values() * d.std_mv + d.mean_mv
        np.testing.assert_allclose(inp.v_mv[run, t].numpy(), last_mv, atol=2e-4)
        np.testing.assert_allclose(inp.v_mv[run, t + h].numpy(), d.test.targets() * d.std_mv + d.mean_mv, atol=2e-4)


def test_detection_is_scored_on_the_test_runs(setup):
    _, _, _, inp = setup
    assert inp.detection["precision"] > 0.999 and inp.detection["recall"] > 0.99
    assert inp.alpha in wiring.ALPHAS


def test_drives_use_the_causal_and_the_true_coupling(setup):
    sim, _, ds, inp = setup
    r = int(ds.runs["test"][0])
    s = inp.spikes[r].numpy()
    np.testing.assert_allclose(inp.drive_true[r].numpy(), s @ (sim.weights_mv(r) / 2), atol=1e-5)
    w_ck = inp.couplings[r]
    assert np.all(inp.drive_inferred[r, : wiring.STEP].numpy() == 0)  # no past, no coupling
    t = wiring.STEP + 17
    np.testing.assert_allclose(inp.drive_inferred[r, t].numpy(), s[t] @ w_ck[1], atol=1e-5)
    np.testing.assert_array_equal(inp.clock[r].numpy(), spikes.clock(s.astype(bool)))


@pytest.mark.parametrize("name", staircase.MEMBERS)
def test_features_have_the_declared_width_and_content(setup, name):
    _, _, _, inp = setup
    m = staircase.MemberConfig(name)
    r, t, i = torch.tensor([0, 1, 3]), torch.tensor([200, 300, 999]), torch.tensor([5, 80, 99])
    x = staircase.features(m, inp, r, t, i)
    assert x.shape == (3, staircase.n_features(m))
    # the first LAGS columns are the neuron's own voltages at t, t-1, ..., scaled once for every neuron
    own = (
        inp.v_mv[r[:, None], t[:, None] - torch.arange(staircase.LAGS), i[:, None]] - staircase.V_CENTER_MV
    ) / staircase.V_SCALE_MV
    torch.testing.assert_close(x[:, : staircase.LAGS], own)
    widths = {"own": staircase.LAGS, "clock": 2 * staircase.LAGS + 1 + staircase.CLOCK_STATES}
    widths["wiring"] = widths["oracle"] = widths["clock"] + staircase.DRIVE_LAGS + 2 * staircase.POP_LAGS + 1
    assert x.shape[1] == widths[name]


def test_oracle_reads_the_true_drive_and_wiring_the_inferred(setup):
    _, _, _, inp = setup
    r, t, i = torch.tensor([2]), torch.tensor([700]), torch.tensor([3])
    at = staircase.LAGS * 2 + 1 + staircase.CLOCK_STATES
    xo = staircase.features(staircase.MemberConfig("oracle"), inp, r, t, i)
    xw = staircase.features(staircase.MemberConfig("wiring"), inp, r, t, i)
    assert xo[0, at] == inp.drive_true[2, 700, 3] and xw[0, at] == inp.drive_inferred[2, 700, 3]
    assert xo[0, -1] == 1.0 and xw[0, -1] == inp.past[700]


def test_rows_decode_every_origin_once(setup):
    _, _, ds, inp = setup
    rows = staircase.Rows(staircase.MemberConfig("own"), inp, ds.runs["train"], 149, torch.ones(len(H)))
    n = inp.v_mv.shape[2]
    assert len(rows) == len(ds.runs["train"]) * (inp.n_samples - max(H) - 149) * n
    r, t, i = rows.decode(np.arange(len(rows)))
    keys = (r * inp.n_samples + t) * n + i
    assert len(np.unique(keys.numpy())) == len(rows)
    assert t.min() == 149 and t.max() == inp.n_samples - max(H) - 1
    _, y = rows.get_batch(np.array([0, len(rows) - 1]))
    assert y.shape == (2, len(H))


def test_a_member_that_predicts_no_change_is_persistence(setup):
    # the whole path from the model's output to z forecasts on the datasets' test windows
    _, datasets, _, inp = setup
    m = staircase.MemberConfig("clock", hidden=8)
    model = staircase.SharedMLP(staircase.n_features(m), 8, 1, len(H))
    torch.nn.init.zeros_(model.head.weight)
    preds = staircase.forecasts_z(model, m, inp, torch.ones(len(H)), datasets)
    for h in H:
        np.testing.assert_allclose(preds[h], datasets[h].test.last_values(), atol=2e-5)


def test_members_train_cache_and_reload(setup, tmp_path, monkeypatch):
    _, datasets, ds, inp = setup
    monkeypatch.setattr(paths, "MODELS", tmp_path)
    cfg = dataclasses.replace(SMOKE.beyond, rows_per_epoch=4000, val_rows=2000, max_epochs=2)
    m = staircase.members(cfg)[1]
    tc = staircase.member_train_config(cfg)
    model, info, scale = staircase.fit_member(m, tc, inp, ds.runs, 149, SMOKE.sim, SMOKE.data)
    assert not info["cached"] and info["epochs"] == 2 and info["params"] == sum(p.numel() for p in model.parameters())
    again, info2, _ = staircase.fit_member(m, tc, inp, ds.runs, 149, SMOKE.sim, SMOKE.data)
    assert info2["cached"]
    a = staircase.forecasts_z(model, m, inp, scale, datasets)
    b = staircase.forecasts_z(again, m, inp, scale, datasets)
    np.testing.assert_array_equal(a[H[0]], b[H[0]])
    # another seed is another training
    _, info3, _ = staircase.fit_member(
        m, staircase.member_train_config(cfg, seed=1), inp, ds.runs, 149, SMOKE.sim, SMOKE.data
    )
    assert not info3["cached"]


def test_quick_members_are_a_small_fraction_of_the_cnn_lstm():
    quick = get_profile("quick").beyond
    for m in staircase.members(quick):
        model = staircase.SharedMLP(staircase.n_features(m), m.hidden, m.depth, len(H))
        assert sum(p.numel() for p in model.parameters()) < 0.02 * 2_188_168


def test_r2_by_past_groups_by_checkpoint(setup):
    _, datasets, ds, _ = setup
    y = ds.test.targets()
    _, t = staircase.window_origins(ds)
    n_ck = int(t.max() // wiring.STEP) + 2  # one checkpoint more than the windows reach: NaN there
    r2 = staircase.r2_by_past(y, ds, n_ck)  # a perfect forecast
    present = np.unique(t // wiring.STEP)
    assert np.allclose(r2[present], 1.0) and np.isnan(r2[-1])
    assert np.isnan(np.delete(r2, present)).all()


def test_the_pinball_loss_is_minimised_by_the_quantiles_of_the_target():
    # a free forecast of 8 levels at 2 horizons, fitted to fixed skewed targets: it must land on their quantiles
    gen = torch.Generator().manual_seed(0)
    y = torch.stack([torch.empty(4000).exponential_(1.0, generator=gen), torch.randn(4000, generator=gen) * 2], 1)
    q = torch.zeros(1, 2 * 8, requires_grad=True)
    loss = staircase.pinball_loss(8)
    opt = torch.optim.Adam([q], lr=0.05)
    for _ in range(1500):
        opt.zero_grad()
        loss(q.expand(len(y), -1), y).backward()
        opt.step()
    want = np.quantile(y.numpy(), staircase.quantile_levels(8).numpy(), axis=0).T  # [2, 8]
    np.testing.assert_allclose(q.detach().view(2, 8).numpy(), want, atol=0.06)
    # and half its value at the optimum approximates the CRPS of those quantiles as an ensemble
    assert staircase.quantile_levels(8).tolist() == pytest.approx([(k + 0.5) / 8 for k in range(8)])


def test_member_config_refuses_what_it_cannot_train():
    with pytest.raises(ValueError, match="expected 0 .* or a whole number >= 2"):
        staircase.MemberConfig("wiring", quantiles=1)
    with pytest.raises(ValueError, match="expected one of"):
        staircase.MemberConfig("population")
    # a mean member keeps its cache key: the quantiles field is left out of the hash at 0
    from voltlib.config import config_hash

    assert config_hash(staircase.MemberConfig("own")) == config_hash({"name": "own", "hidden": 128, "depth": 2})


def test_a_quantile_member_trains_caches_and_its_intervals_cover_the_test_targets(setup, tmp_path, monkeypatch):
    _, datasets, ds, inp = setup
    monkeypatch.setattr(paths, "MODELS", tmp_path)
    cfg = dataclasses.replace(SMOKE.beyond, rows_per_epoch=20000, val_rows=4000, max_epochs=4)
    m = staircase.MemberConfig("clock", hidden=16, depth=2, quantiles=20)
    tc = staircase.member_train_config(cfg)
    model, info, scale = staircase.fit_member(m, tc, inp, ds.runs, 149, SMOKE.sim, SMOKE.data)
    folder = staircase.member_folder(m, tc, inp, 149, SMOKE.sim, SMOKE.data)
    assert folder.name.startswith("clock-q20-") and not info["cached"]
    assert staircase.fit_member(m, tc, inp, ds.runs, 149, SMOKE.sim, SMOKE.data)[1]["cached"]
    run, t = staircase.window_origins(ds)
    q = staircase.forecast_quantiles_mv(model, m, inp, scale, run, t)  # [origins, n, horizons, 20]
    assert q.shape == (len(run), inp.v_mv.shape[2], len(H), 20)
    assert np.all(np.diff(q, axis=-1) >= 0)
    y = inp.v_mv[torch.as_tensor(run), torch.as_tensor(t + H[0])].numpy()
    # levels 0.075 and 0.925 (k = 1 and 18 of 20) bound a central 85 % interval
    inside = np.mean((y >= q[:, :, 0, 1]) & (y <= q[:, :, 0, 18]))
    assert 0.75 < inside < 0.95
    with pytest.raises(ValueError, match="use forecast_mv"):
        staircase.forecast_quantiles_mv(model, staircase.MemberConfig("clock"), inp, scale, run, t)


def test_the_family_trained_on_a_worker_is_what_notebook_08_loads(tmp_path, monkeypatch):
    from voltlib.workflow.fanout import FamilyJob

    monkeypatch.setattr(paths, "MODELS", tmp_path / "worker")  # the worker's disk
    assert staircase.family_missing(SMOKE)
    product = FamilyJob("smoke").compute()
    n_members = len(staircase.members(SMOKE.beyond)) * SMOKE.beyond.seeds
    assert len(product["members"]) == len(product["record"]["members"]) == n_members
    assert {m["folder"] for m in product["members"]} == {m["folder"] for m in product["record"]["members"]}
    monkeypatch.setattr(paths, "MODELS", tmp_path / "client")  # the client's: another disk (a remote worker)
    assert staircase.family_missing(SMOKE)
    store.write_json(FamilyJob("smoke").path(), FamilyJob.save(product))
    assert not staircase.family_missing(SMOKE)
    sim = simulate(SMOKE.sim, progress=False)
    inp, runs = staircase.family_inputs(SMOKE, sim)
    fitted = staircase.fit_family(SMOKE.beyond, inp, runs, SMOKE.data.window - 1, SMOKE.sim, SMOKE.data)
    infos = [info for seeds in fitted.values() for _, info, _ in seeds]
    assert len(infos) == n_members and all(info["cached"] for info in infos)  # nothing trained again
    # a member's damaged file: the family is missing again, and the fan-out retrains it
    folder = paths.MODELS / "beyond" / product["members"][0]["folder"]
    (folder / "model.safetensors").write_bytes(b"damaged")
    assert staircase.family_missing(SMOKE)

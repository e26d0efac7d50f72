"""Windows, splits and normalisation of both protocols, on synthetic voltages whose answers are known."""

import dataclasses

import numpy as np
import pytest
import torch

from voltlib.config import DataConfig
from voltlib.forecast.data import (
    array_simulation,
    leak_stats,
    make_dataset,
    make_datasets,
    protocol_summary,
    source_window_starts,
    split_sizes,
)

# 3 runs x 100 samples, 10 discarded -> 90 kept per run, 270 in all
SMALL = DataConfig(discard_ms=10, meas_noise_mv=0.0, window=20, stride=5, horizon=1)


def time_coded(n_runs=3, n_t=100, n=2):
    """Voltages that encode where they come from: v = 1000 * run + t (mV), the same for every neuron."""
    v = 1000.0 * np.arange(n_runs)[:, None, None] + np.arange(n_t)[None, :, None] + np.zeros((1, 1, n))
    return array_simulation(v, n_exc=1)


def to_mv(ds, z):
    return z * ds.std_mv + ds.mean_mv


def test_window_counts_by_hand():
    ds = make_dataset(time_coded(), SMALL, "original")
    # source: range(0, 270 - 20 - 1, 5) = 0, 5, ..., 245 -> 50 windows; int(0.7*50)=35, int(0.15*50)=7
    assert (len(ds.train), len(ds.val), len(ds.test)) == (35, 7, 8)
    assert sorted(np.concatenate([ds.train.starts, ds.val.starts, ds.test.starts])) == list(range(0, 250, 5))
    clean = make_dataset(time_coded(), SMALL, "clean")
    # per run: starts 0, 5, ..., 65 (65 + 20 - 1 + 1 = 85 <= 89) -> 14 windows; 3 runs -> 1 / 1 / 1
    assert (len(clean.train), len(clean.val), len(clean.test)) == (14, 14, 14)
    assert list(clean.train.starts) == list(range(0, 70, 5))
    # the last start must leave room for the target: 65 + 19 + 5 = 89 fits, 65 + 19 + 6 = 90 does not
    assert len(make_dataset(time_coded(), SMALL, "clean", horizon=5).train) == 14
    assert len(make_dataset(time_coded(), SMALL, "clean", horizon=6).train) == 13


def test_source_counts_at_paper_scale():
    # 50 runs x 10 s at 1 ms, 800 ms discarded: 460,000 samples; one neuron is enough for the counts
    assert len(source_window_starts(460_000, 150, 1, 15)) == 30_657
    sim = array_simulation(np.zeros((50, 10_000, 1), np.float32) - 60.0, n_exc=1)
    ds = make_dataset(sim, DataConfig(), "original")
    assert (len(ds.train), len(ds.val), len(ds.test)) == (21_459, 4_598, 4_600)
    starts = np.concatenate([ds.train.starts, ds.val.starts, ds.test.starts])
    assert len(np.unique(starts)) == 30_657 and starts.max() == 15 * 30_656
    # the shuffle is the source's call (torch.randperm after manual_seed(42)), reproduced privately
    torch.manual_seed(42)
    assert np.array_equal(ds.train.starts[:5], 15 * torch.randperm(30_657)[:5].numpy())
    clean = make_dataset(sim, DataConfig(), "clean")
    assert {k: len(v) for k, v in clean.runs.items()} == {"train": 35, "val": 7, "test": 8}
    assert len(clean.train) == 35 * 604  # (9200 - 151) // 15 + 1 windows per run


def test_split_sizes_small_inputs_keep_val_and_test():
    assert split_sizes(50, (0.7, 0.15, 0.15)) == (35, 7, 8)
    assert split_sizes(4, (0.7, 0.15, 0.15)) == (2, 1, 1)
    assert split_sizes(3, (0.7, 0.15, 0.15)) == (1, 1, 1)


def test_batches_index_the_series():
    ds = make_dataset(time_coded(), SMALL, "original", horizon=3)
    idx = np.array([0, 4, 9])
    x, y = ds.train.get_batch(idx)
    assert x.shape == (3, 20, 2) and y.shape == (3, 2) and x.dtype == torch.float32
    s = ds.train.starts[idx]
    assert torch.equal(x[1], ds.train.series[s[1] : s[1] + 20])
    assert torch.equal(y, ds.train.series[s + 19 + 3])
    assert np.array_equal(ds.train.last_values()[idx], x[:, -1].numpy())
    assert np.array_equal(ds.train.targets()[idx], y.numpy())


def test_clean_splits_are_disjoint_and_no_window_crosses_a_run():
    sim = time_coded(n_runs=7)
    ds = make_dataset(sim, SMALL, "clean", horizon=4)
    runs = [set(ds.runs[k].tolist()) for k in ("train", "val", "test")]
    assert not (runs[0] & runs[1] or runs[0] & runs[2] or runs[1] & runs[2])
    assert set.union(*runs) == set(range(7))
    for name in ("train", "val", "test"):
        sp = ds.split(name)
        first_mv = to_mv(ds, sp.series.numpy()[sp.starts])[:, 0]
        target_mv = to_mv(ds, sp.targets())[:, 0]
        # same run (thousands digit), target exactly window - 1 + h samples after the first input
        assert np.array_equal(np.round(first_mv / 1000), np.round(target_mv / 1000))
        assert np.allclose(target_mv - first_mv, 20 - 1 + 4, atol=1e-2)
        assert set(np.round(target_mv / 1000).astype(int)) == set(ds.runs[name].tolist())
        assert np.array_equal(np.round(target_mv / 1000).astype(int), sp.run_of_window)
    assert leak_stats(ds)["frac_test_windows_overlapping_train"] == 0.0


def test_original_windows_straddle_runs():
    ds = make_dataset(time_coded(), SMALL, "original")
    starts = np.concatenate([ds.train.starts, ds.val.starts, ds.test.starts])
    # kept run length 90: windows starting at 70, 75, 80, 85 of a run have inputs or target in the
    # next run (as in the source); 2 boundaries inside the 270 samples -> 8 windows
    assert sum((s % 90) + 20 + 1 > 90 for s in starts) == 2 * 4
    summary = protocol_summary(ds)
    assert sum(summary[f"n_{k}_windows_spanning_two_runs"] for k in ("train", "val", "test")) == 8
    assert protocol_summary(make_dataset(time_coded(), SMALL, "clean"))["n_test_windows_spanning_two_runs"] == 0


def test_clean_statistics_come_from_training_runs_only():
    sim = time_coded(n_runs=5)
    base = make_dataset(sim, SMALL, "clean")
    changed = sim.v_mv.copy()
    changed[base.runs["test"]] = changed[base.runs["test"]] * 3 + 50
    changed[base.runs["val"]] -= 200
    other = make_dataset(dataclasses.replace(sim, v_mv=changed), SMALL, "clean")
    assert np.array_equal(base.mean_mv, other.mean_mv) and np.array_equal(base.std_mv, other.std_mv)
    assert torch.equal(base.train.series, other.train.series)
    assert not torch.equal(base.test.series, other.test.series)
    # the mean is over the kept samples (t >= 10) of exactly the training runs
    expected = np.mean([1000 * r + t for r in base.runs["train"] for t in range(10, 100)])
    assert base.mean_mv[0] == pytest.approx(expected)
    orig = make_dataset(dataclasses.replace(sim, v_mv=changed), SMALL, "original")
    assert orig.mean_mv[0] != pytest.approx(make_dataset(sim, SMALL, "original").mean_mv[0])


def test_noise_is_seeded_and_shared_by_protocols():
    sim = array_simulation(np.full((3, 400, 2), -60.0, np.float32), n_exc=1)
    cfg = dataclasses.replace(SMALL, meas_noise_mv=0.2)
    a, b = make_dataset(sim, cfg, "original"), make_dataset(sim, cfg, "original")
    assert torch.equal(a.train.series, b.train.series)
    assert a.std_mv == pytest.approx([0.2, 0.2], rel=0.05)
    clean = make_dataset(sim, cfg, "clean")
    r = int(clean.runs["test"][0])
    noisy_orig = to_mv(a, a.train.series.numpy()[r * 390 : (r + 1) * 390])
    assert np.allclose(noisy_orig, to_mv(clean, clean.test.series.numpy()), atol=1e-4)
    other = make_dataset(sim, dataclasses.replace(cfg, noise_seed=7), "original")
    assert not torch.equal(a.train.series, other.train.series)


def test_persistence_is_exact_on_constant_runs():
    from voltlib.forecast.metrics import evaluate

    v = np.repeat(np.array([-65.0, -60.0, -55.0, -50.0])[:, None, None], 100, axis=1) + np.zeros((1, 1, 3))
    ds = make_dataset(array_simulation(v, n_exc=2), SMALL, "clean", horizon=7)
    assert np.array_equal(ds.test.targets(), ds.test.last_values())
    # the one test run is constant (SST = 0 there), so R^2 is taken over all three splits' windows
    y = np.concatenate([ds.split(k).targets() for k in ("train", "val", "test")])
    p = np.concatenate([ds.split(k).last_values() for k in ("train", "val", "test")])
    assert evaluate(y, p, ds.std_mv, 2)["r2"] == 1.0


def test_leak_of_the_random_split():
    sim = array_simulation(np.zeros((50, 10_000, 1), np.float32), n_exc=1)
    leak = leak_stats(make_dataset(sim, DataConfig(), "original"))
    # each sample lies in 10 windows; P(none of them in train) = 0.3**10 ~ 6e-6
    assert leak["frac_test_targets_inside_a_train_input"] > 0.999
    # a test start is never a train start, so the nearest train window is >= 15 samples away
    assert leak["median_samples_shared_with_nearest_train"] == 135
    assert 130 < leak["mean_samples_shared_with_nearest_train"] <= 135
    assert leak["frac_test_runs_seen_in_training"] == 1.0


def test_keys_name_what_determined_the_data():
    sim = time_coded()
    keys = {make_dataset(sim, SMALL, p, h).key for p in ("original", "clean") for h in (1, 2)}
    assert len(keys) == 4
    assert make_dataset(sim, SMALL, "clean", 2).key == make_datasets(sim, SMALL, "clean", (1, 2))[2].key


@pytest.mark.parametrize(
    "change, protocol, horizon, message",
    [
        ("2d", "clean", 1, "3-D array"),
        ("nan", "clean", 1, "runs [1] contain NaN"),
        ("short", "original", 1, "do not fit"),
        (None, "clean", 0, "horizon=0"),
        (None, "random", 1, "unknown protocol"),
        ("two_runs", "clean", 1, "at least 3 runs"),
        ("few_windows", "original", 1, "val split is empty"),
    ],
)
def test_bad_inputs_are_refused(change, protocol, horizon, message):
    sim, cfg = time_coded(), SMALL
    if change == "2d":
        sim = dataclasses.replace(sim, v_mv=sim.v_mv[0])
    elif change == "nan":
        v = sim.v_mv.copy()
        v[1, 50, 0] = np.nan
        sim = dataclasses.replace(sim, v_mv=v)
    elif change == "short":
        cfg = dataclasses.replace(SMALL, window=90)  # 90 + 1 > 90 kept samples
    elif change == "two_runs":
        sim = time_coded(n_runs=2)
    elif change == "few_windows":
        sim = time_coded(n_runs=1, n_t=40)  # 30 kept -> starts 0, 5 -> 1 / 0 / 1
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make_dataset(sim, cfg, protocol, horizon)


def test_given_runs_replace_the_shuffle():
    runs = {"train": [0, 1], "val": [2], "test": [3]}  # time order, as forecast_recording splits segments
    ds = make_datasets(time_coded(n_runs=4), SMALL, "clean", (1,), runs=runs)[1]
    assert {k: v.tolist() for k, v in ds.runs.items()} == runs
    assert set(ds.test.run_of_window) == {3} and set(ds.train.run_of_window) == {0, 1}
    # statistics from the training runs only: v = 1000 * run + t, so their mean is 500 + mean kept t
    np.testing.assert_allclose(ds.mean_mv, 500.0 + np.mean(np.arange(10, 100)), rtol=1e-9)
    np.testing.assert_allclose(to_mv(ds, ds.test.targets())[:, 0] // 1000, 3.0)

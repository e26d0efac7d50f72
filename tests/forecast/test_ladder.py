"""A ladder entry from several training seeds: means, spread, and an interval that redraws seeds and runs."""

from types import SimpleNamespace

import numpy as np
import pytest

from voltlib.forecast.ladder import ENTRY_KEYS, seed_summary
from voltlib.forecast.metrics import evaluate, r2_pooled


def _dataset(rng):
    runs = np.repeat(np.arange(6), 80)
    y = rng.normal(size=(480, 4)).astype(np.float32)
    test = SimpleNamespace(targets=lambda: y, last_values=lambda: np.zeros_like(y), run_of_window=runs)
    return SimpleNamespace(test=test, std_mv=np.ones(4), n_exc=3), y, runs


def _scored(ds, y, runs, pred):
    return evaluate(y, pred, ds.std_mv, ds.n_exc, y_persist_z=ds.test.last_values(), run_of_sample=runs)


def test_seed_summary_averages_the_seeds_and_widens_with_their_spread():
    rng = np.random.default_rng(0)
    ds, y, runs = _dataset(rng)
    preds = [y + rng.normal(scale=s, size=y.shape).astype(np.float32) for s in (0.5, 0.7, 0.9)]
    entry = seed_summary([_scored(ds, y, runs, p) for p in preds], preds, ds)
    r2s = [r2_pooled(y, p) for p in preds]
    assert entry["r2"] == pytest.approx(np.mean(r2s)) and entry["r2_seeds"] == pytest.approx(r2s)
    assert entry["r2_seed_sd"] == pytest.approx(np.std(r2s, ddof=1))
    assert set(ENTRY_KEYS) <= set(entry) and np.shape(entry["run_stats"]["sse"]) == (3, 6)
    lo, hi = entry["r2_ci"]
    assert lo < entry["r2"] < hi
    # the same seed three times: no seed spread, a narrower interval
    same = [preds[1]] * 3
    narrow = seed_summary([_scored(ds, y, runs, p) for p in same], same, ds)
    assert np.isnan(seed_summary([_scored(ds, y, runs, preds[1])], [preds[1]], ds)["r2_seed_sd"])
    assert narrow["r2_ci"][1] - narrow["r2_ci"][0] < hi - lo

"""The ceiling: R^2 from replica variances by hand, the cached smoke ceiling, a damaged cache."""

import numpy as np
import pytest

from voltlib import store
from voltlib.forecast import ceiling as C


def test_summarise_by_hand():
    var_mv2 = np.full((10, 2, 3), 4.0)  # 4 mV^2 everywhere, std 2 mV -> 1 z^2
    out = C.summarise(var_mv2, std_mv=np.full(3, 2.0), target_var_z=[4.0, 2.0], meas_noise_mv=0.2, seed=0)
    np.testing.assert_allclose(out["ceiling_r2_oracle"], [0.75, 0.5])
    np.testing.assert_allclose(out["ceiling_r2_oracle_ci"], [[0.75, 0.75], [0.5, 0.5]])  # no spread, no interval
    # 0.2 mV of measurement noise on a 2 mV std is 0.01 z^2 more error
    np.testing.assert_allclose(out["ceiling_r2"], [1 - 1.01 / 4, 1 - 1.01 / 2])
    np.testing.assert_allclose(out["ceiling_r2_ci"], [[1 - 1.01 / 4] * 2, [1 - 1.01 / 2] * 2])
    np.testing.assert_allclose(out["e_var_mv2"], [4.0, 4.0])


@pytest.mark.slow
def test_compute_ceiling_smoke_is_cached_and_sane():
    first = C.compute_ceiling("smoke", progress=False)
    again = C.compute_ceiling("smoke", progress=False)
    assert again == first  # the second call reads data/ceiling/<hash>.json
    assert first["horizons_ms"] == [1, 2, 5, 10, 20]
    e = np.array(first["e_var_mv2"])
    # one ms of noise spreads v by at least the subthreshold amount (~0.9 mV^2, see the report);
    # by 20 ms the spread approaches the stationary variance (about 33 mV^2)
    assert 0.5 < e[0] < e[-1] < 45
    r2 = np.array(first["ceiling_r2_oracle"])
    lo, hi = np.array(first["ceiling_r2_oracle_ci"]).T
    assert np.all(lo <= r2) and np.all(r2 <= hi)
    assert np.all(np.array(first["ceiling_r2"]) < r2)  # the measurement noise costs R^2
    assert r2[0] > 0.5


@pytest.mark.slow
def test_a_damaged_ceiling_cache_is_said_in_one_line_and_recomputed_to_the_same_values(capsys):
    first = C.compute_ceiling("smoke", progress=False)
    path = C.cache_path("smoke")
    path.write_text(path.read_text().replace('"ceiling_r2": [', '"ceiling_r2": [0.99, ', 1))  # valid JSON, altered
    capsys.readouterr()
    again = C.compute_ceiling("smoke", progress=False)
    assert capsys.readouterr().out == f"cache: {store.shown(path)} {store.MISMATCH}; recomputing the ceiling\n"
    timing = {"wall_s", "restarts_wall_s"}  # the only values that depend on the machine's load
    assert {k: v for k, v in again.items() if k not in timing} == {k: v for k, v in first.items() if k not in timing}
    assert store.verify(path) is None and C.compute_ceiling("smoke", progress=False) == again

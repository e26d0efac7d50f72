"""Probabilistic scores against hand-computed values, their O(M^2) definitions, closed forms and scipy."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from voltlib.forecast.probabilistic import (
    central_interval,
    coverage,
    crps_ensemble,
    crps_gaussian,
    pit,
    pit_histogram,
    residual_ensemble,
)


def _crps_by_definition(x: np.ndarray, y: np.ndarray, fair: bool = False) -> np.ndarray:
    """The O(M^2) definition: mean |x_i - y| - sum_{i,j} |x_i - x_j| / (2 M^2), or / (2 M (M-1)) when fair."""
    m = x.shape[-1]
    pairs = np.abs(x[..., :, None] - x[..., None, :]).sum(axis=(-1, -2))
    return np.abs(x - y[..., None]).mean(axis=-1) - pairs / (2 * (m * (m - 1) if fair else m * m))


def test_crps_one_member_is_absolute_error():
    x = np.array([[1.0], [-2.0], [3.5]])
    y = np.array([4.0, -2.0, 1.0])
    np.testing.assert_allclose(crps_ensemble(x, y), [3.0, 0.0, 2.5])


def test_crps_two_members_by_hand():
    # members 0 and 2, y = 3: mean |x - y| = (3 + 1) / 2 = 2; sum_{i,j} |x_i - x_j| = 4 -> spread term 4 / (2 * 4) = 0.5
    assert crps_ensemble([0.0, 2.0], 3.0) == pytest.approx(1.5)
    # fair: spread 4 / (2 * 2) = 1
    assert crps_ensemble([0.0, 2.0], 3.0, fair=True) == pytest.approx(1.0)
    # y between the members: mean |x - y| = (1 + 1) / 2 = 1 -> 0.5 (the CDF step is 1/2 over [0, 2] except [1, 1])
    assert crps_ensemble([2.0, 0.0], 1.0) == pytest.approx(0.5)


@pytest.mark.parametrize("lead", [(), (4,), (2, 3)])
def test_crps_sorted_formula_matches_definition(lead):
    rng = np.random.default_rng(7)
    for m in (1, 2, 3, 5, 10, 50):
        x = rng.normal(size=(*lead, m)) * 3 + 1
        y = rng.normal(size=lead)
        np.testing.assert_allclose(crps_ensemble(x, y), _crps_by_definition(x, y), rtol=1e-12, atol=1e-12)
        if m >= 2:
            np.testing.assert_allclose(crps_ensemble(x, y, fair=True), _crps_by_definition(x, y, fair=True), atol=1e-12)
        ties = np.round(x)  # repeated members and members equal to y
        yt = np.round(y)
        np.testing.assert_allclose(crps_ensemble(ties, yt), _crps_by_definition(ties, yt), atol=1e-12)


def test_crps_broadcasts_y_and_keeps_leading_shape():
    x = np.random.default_rng(0).normal(size=(2, 3, 6))
    out = crps_ensemble(x, 0.5)  # scalar y for every forecast
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out, _crps_by_definition(x, np.full((2, 3), 0.5)), atol=1e-12)
    out_row = crps_ensemble(x, np.array([0.0, 1.0, 2.0]))  # y [3] broadcasts to [2, 3]
    np.testing.assert_allclose(out_row[1], _crps_by_definition(x[1], np.array([0.0, 1.0, 2.0])), atol=1e-12)


def test_large_ensemble_crps_approaches_gaussian_closed_form():
    mu, sigma = 0.5, 1.5
    ys = mu + sigma * np.linspace(-2.5, 2.5, 16)
    x = np.random.default_rng(1).normal(mu, sigma, size=(16, 20000))
    ens, exact = crps_ensemble(x, ys), crps_gaussian(mu, sigma, ys)
    assert ens.mean() == pytest.approx(exact.mean(), rel=0.01)
    np.testing.assert_allclose(ens, exact, rtol=0.03)


def test_fair_crps_is_unbiased_for_small_ensembles():
    m, y = 5, 0.3
    x = np.random.default_rng(2).normal(size=(4000, m))
    exact = crps_gaussian(0.0, 1.0, y)
    plain, fair = crps_ensemble(x, y).mean(), crps_ensemble(x, y, fair=True).mean()
    assert abs(fair - exact) < 0.01
    assert abs(fair - exact) < abs(plain - exact)
    # the plain score's excess is E|X - X'| / (2M) = sigma / (sqrt(pi) M) = 0.113 for N(0, 1), M = 5
    assert plain - fair == pytest.approx(1 / (math.sqrt(math.pi) * m), abs=0.01)


@pytest.mark.parametrize(("mu", "sigma", "y"), [(0.0, 1.0, 0.0), (1.0, 2.0, -0.5), (-3.0, 0.5, 1.0), (2.0, 1.0, 2.7)])
def test_crps_gaussian_matches_numeric_integral(mu, sigma, y):
    cdf = stats.norm(mu, sigma).cdf
    below, _ = integrate.quad(lambda t: cdf(t) ** 2, -np.inf, y)
    above, _ = integrate.quad(lambda t: (1 - cdf(t)) ** 2, y, np.inf)
    assert crps_gaussian(mu, sigma, y) == pytest.approx(below + above, rel=1e-7)


def test_crps_gaussian_known_value_and_broadcast():
    # at z = 0: sigma * (2 phi(0) - 1/sqrt(pi)) = sigma * (sqrt(2) - 1) / sqrt(pi)
    out = crps_gaussian(np.array([0.0, 1.0]), np.array([[1.0], [2.0]]), np.array([0.0, 1.0]))
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out, np.array([[1.0], [2.0]]) * (math.sqrt(2) - 1) / math.sqrt(math.pi) * np.ones(2))


def test_central_interval_quantiles_by_hand():
    x = np.arange(11.0)  # linear quantiles of 0..10 at p are 10 p
    lo, hi = central_interval(x, 0.8)
    assert (float(lo), float(hi)) == pytest.approx((1.0, 9.0))
    lo2, hi2 = central_interval(np.stack([x, 2 * x]), 0.5)
    np.testing.assert_allclose(lo2, [2.5, 5.0])
    np.testing.assert_allclose(hi2, [7.5, 15.0])


def test_coverage_counts_bounds_as_inside():
    x = np.tile(np.arange(11.0), (4, 1))  # 80 % interval [1, 9]
    cov = coverage(x, np.array([1.0, 9.0, 0.5, 9.5]), levels=(0.8,))
    assert cov == {0.8: pytest.approx(0.5)}


def test_coverage_of_calibrated_and_too_narrow_ensembles():
    rng = np.random.default_rng(3)
    n, m = 5000, 200
    mu = rng.normal(size=n)
    y = mu + rng.normal(size=n)
    x = mu[:, None] + rng.normal(size=(n, m))
    cov = coverage(x, y, levels=(0.5, 0.9))
    assert set(cov) == {0.5, 0.9}
    for level, c in cov.items():
        assert abs(c - level) < 0.03
    narrow = coverage(mu[:, None] + 0.5 * (x - mu[:, None]), y, levels=(0.5, 0.9))
    # true coverage of a half-width interval: P(|Z| < z_level / 2) = 0.26 and 0.59
    assert narrow[0.5] == pytest.approx(2 * stats.norm.cdf(stats.norm.ppf(0.75) / 2) - 1, abs=0.03)
    assert narrow[0.9] == pytest.approx(2 * stats.norm.cdf(stats.norm.ppf(0.95) / 2) - 1, abs=0.03)
    assert narrow[0.9] < cov[0.9] - 0.2


def test_pit_by_hand_and_reproducible():
    x = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    y = np.array([2.5, 2.0, 0.0, 5.0])
    v = pit(x, y, seed=4)
    assert 0.5 < v[0] < 0.75  # 2 below, no tie: (2 + U) / 4
    assert 0.25 < v[1] < 0.75  # 1 below, 1 tie: (1 + 2U) / 4
    assert 0.0 < v[2] < 0.25  # none below: U / 4
    assert 0.75 < v[3] < 1.0  # all below: (3 + U) / 4
    np.testing.assert_array_equal(pit(x, y, seed=4), v)
    assert not np.array_equal(pit(x, y, seed=5), v)


def test_pit_of_calibrated_ensemble_is_flat():
    rng = np.random.default_rng(5)
    n, m, bins = 5000, 20, 10
    mu = rng.normal(size=n)
    y = mu + rng.normal(size=n)
    x = mu[:, None] + rng.normal(size=(n, m))
    hist = pit_histogram(pit(x, y), bins=bins)
    assert hist.shape == (bins,)
    assert hist.sum() == pytest.approx(bins)
    assert stats.chisquare(hist * n / bins).pvalue > 0.001
    assert np.abs(hist - 1).max() < 0.2
    narrow = pit_histogram(pit(mu[:, None] + 0.5 * (x - mu[:, None]), y), bins=bins)
    assert narrow[0] > 1.5 and narrow[-1] > 1.5
    assert narrow[bins // 2] < 0.8  # U shape: too few in the middle


def test_pit_of_ties_is_uniform_and_never_0_or_1():
    x = np.full((20, 7), 2.0)
    v = np.concatenate([pit(x, 2.0, seed=s) for s in range(200)])
    assert v.min() > 0.0 and v.max() < 1.0
    assert stats.kstest(v, "uniform").pvalue > 0.001
    assert v.mean() == pytest.approx(0.5, abs=0.02)


def test_pit_histogram_by_hand():
    hist = pit_histogram([0.05, 0.15, 0.15, 1.0], bins=10)  # 1.0 falls in the last bin
    expected = np.zeros(10)
    expected[[0, 1, 9]] = [1, 2, 1]
    np.testing.assert_allclose(hist, expected / (4 * 0.1))


def test_residual_ensemble_all_residuals():
    out = residual_ensemble(np.array([5.0, -1.0]), np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_allclose(out, [[4.0, 5.0, 7.0], [-2.0, -1.0, 1.0]])


def test_residual_ensemble_quantiles():
    rng = np.random.default_rng(6)
    point = rng.normal(size=(3, 4))
    res = rng.exponential(size=50) - 1
    assert residual_ensemble(point, res).shape == (3, 4, 50)
    out = residual_ensemble(point, res, m=9)
    assert out.shape == (3, 4, 9)
    np.testing.assert_allclose(
        out - point[..., None], np.broadcast_to(np.quantile(res, (np.arange(9) + 0.5) / 9), (3, 4, 9))
    )
    np.testing.assert_allclose(residual_ensemble(2.0, np.array([0.0, 1.0, 10.0]), m=1), [3.0])  # the median


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: crps_ensemble(np.zeros((3, 5)), np.zeros(4)), "y"),
        (lambda: crps_ensemble(np.zeros((3, 0)), np.zeros(3)), "samples"),
        (lambda: crps_ensemble(np.array([[1.0, np.nan]]), np.zeros(1)), "samples"),
        (lambda: crps_ensemble(np.zeros((3, 5)), np.array([0.0, np.inf, 0.0])), "y"),
        (lambda: crps_ensemble(np.zeros((3, 1)), np.zeros(3), fair=True), "fair"),
        (lambda: crps_ensemble(1.0, 1.0), "samples"),
        (lambda: crps_gaussian(0.0, 0.0, 1.0), "sigma"),
        (lambda: crps_gaussian(np.nan, 1.0, 1.0), "mu"),
        (lambda: crps_gaussian(np.zeros(2), 1.0, np.zeros(3)), "do not broadcast"),
        (lambda: central_interval(np.zeros((2, 5)), 1.0), "level"),
        (lambda: central_interval(np.zeros((2, 5)), 0.0), "level"),
        (lambda: coverage(np.zeros((2, 5)), np.zeros(2), levels=(0.5, 1.5)), "level"),
        (lambda: coverage(np.zeros((2, 5)), np.zeros((2, 5))), "y"),
        (lambda: pit(np.zeros((2, 0)), np.zeros(2)), "samples"),
        (lambda: pit(np.zeros((2, 3)), np.array([0.0, np.nan])), "y"),
        (lambda: pit_histogram([0.5, 1.2]), "pit_values"),
        (lambda: pit_histogram([]), "pit_values"),
        (lambda: pit_histogram([0.5], bins=0), "bins"),
        (lambda: residual_ensemble(np.zeros(3), np.zeros((2, 2))), "residuals"),
        (lambda: residual_ensemble(np.zeros(3), np.array([0.0, np.nan])), "residuals"),
        (lambda: residual_ensemble(np.zeros(3), np.zeros(4), m=0), "m="),
    ],
)
def test_errors_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name) as err:
        call()
    assert "expected" in str(err.value)


def test_plotting_positions_make_a_small_calibrated_ensemble_cover_its_level():
    # M = 64 draws from the forecast distribution N(mu, 1), y from the same: read at numpy's linear positions the
    # 90 % interval covers about 0.9 (M - 1) / (M + 1) = 87 %, at Weibull's (k + 1)/(M + 1) about 90 %
    rng = np.random.default_rng(5)
    n, m = 40000, 64
    mu = rng.normal(size=n)
    y = mu + rng.normal(size=n)
    x = mu[:, None] + rng.normal(size=(n, m))
    assert coverage(x, y, (0.9,))[0.9] == pytest.approx(0.9 * (m - 1) / (m + 1), abs=0.01)
    assert coverage(x, y, (0.5, 0.9), positions="weibull") == pytest.approx({0.5: 0.5, 0.9: 0.9}, abs=0.01)
    # the quantiles at (k + 0.5)/M of the forecast distribution itself, read at Hazen's positions, cover the level
    q = mu[:, None] + stats.norm.ppf((np.arange(m) + 0.5) / m)[None, :]
    assert coverage(q, y, (0.9,), positions="hazen")[0.9] == pytest.approx(0.9, abs=0.01)
    assert coverage(q, y, (0.9,))[0.9] < 0.89  # the linear reading puts them too close to the middle
    with pytest.raises(ValueError, match="expected one of"):
        central_interval(x, 0.9, positions="median_unbiased")

"""Scores for forecasts given as distributions rather than single values: ensembles of M samples per forecast.

A point forecast is scored by its error; a probabilistic forecast is scored by how much probability it put near
what happened and by whether its stated uncertainty is honest. The continuous ranked probability score (CRPS)
does both at once and reads in the units of the target (for a one-member ensemble it is the absolute error). For
the empirical distribution of an ensemble x_1..x_M it is CRPS = mean_i |x_i - y| - (1/2) mean_{i,j} |x_i - x_j|,
the spread term computed in O(M log M) from the sorted members, sum_{i,j} |x_i - x_j| = 2 sum_k (2k - M - 1) x_(k);
the fair version divides that sum by M(M-1) instead of M^2, which removes the bias of a finite ensemble against
the distribution it was drawn from. Calibration alone is checked by the coverage of central intervals (a 90 %
interval should hold 90 % of observations) and by the probability integral transform (PIT: the rank of the
observation among the members, uniform on (0, 1) for a calibrated ensemble; a U-shaped histogram means too
narrow, a hump too wide). Ensembles carry their members on the last axis; observations have the leading shape.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _finite(name: str, a: np.ndarray, where: str) -> None:
    """Raises ValueError naming `name` when `a` holds NaN or inf."""
    if not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise ValueError(
            f"{where}: {name} has {bad} NaN or inf value(s) of {np.size(a)}; expected finite numbers. "
            f"Drop or fill the missing values before scoring."
        )


def _ensemble(samples: npt.ArrayLike, where: str, min_members: int = 1) -> np.ndarray:
    """Returns samples as float64 [..., M], checked: at least one axis, M >= min_members, all finite."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError(
            f"{where}: samples is a scalar; expected an ensemble of shape [..., M] with the M members on the last "
            f"axis. Pass a one-member ensemble as x[..., None]."
        )
    if x.shape[-1] < min_members:
        raise ValueError(
            f"{where}: samples has M={x.shape[-1]} member(s) on its last axis (shape {x.shape}); expected M >= "
            f"{min_members}. Put the ensemble members on the last axis."
        )
    _finite("samples", x, where)
    return x


def _observations(y: npt.ArrayLike, lead: tuple[int, ...], where: str) -> np.ndarray:
    """Returns y as float64 broadcast to `lead` (samples.shape[:-1]), checked: broadcastable, all finite."""
    obs = np.asarray(y, dtype=np.float64)
    try:
        ok = np.broadcast_shapes(obs.shape, lead) == lead
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{where}: y has shape {obs.shape}, which does not broadcast to samples.shape[:-1] = {lead}; expected "
            f"one observation per forecast. Put the ensemble members on the last axis of samples and give y the "
            f"leading shape."
        )
    _finite("y", obs, where)
    return np.broadcast_to(obs, lead)


def _level(level: float, where: str) -> float:
    """Returns level as a float, checked to lie in the open interval (0, 1)."""
    lv = float(level)
    if not 0.0 < lv < 1.0:
        raise ValueError(f"{where}: level={level!r}; expected a probability in (0, 1), e.g. 0.9 for a 90 % interval.")
    return lv


def crps_ensemble(samples: npt.ArrayLike, y: npt.ArrayLike, fair: bool = False) -> np.ndarray:
    """Returns the CRPS of ensembles samples [..., M] against y [...] (fair: unbiased spread term), float64 [...]."""
    where = "crps_ensemble"
    x = _ensemble(samples, where)
    m = x.shape[-1]
    if fair and m < 2:
        raise ValueError(
            f"{where}: fair=True needs M >= 2 members to estimate the spread (samples has M={m}); expected M >= 2. "
            f"Use fair=False for a one-member ensemble (its CRPS is |x - y|)."
        )
    obs = _observations(y, x.shape[:-1], where)
    skill = np.mean(np.abs(x - obs[..., None]), axis=-1)
    weights = 2.0 * np.arange(1, m + 1, dtype=np.float64) - m - 1  # (2k - M - 1), k = 1..M
    pair_sum = 2.0 * np.sum(np.sort(x, axis=-1) * weights, axis=-1)  # sum_{i,j} |x_i - x_j|
    pairs = m * (m - 1) if fair else m * m
    return np.asarray(skill - 0.5 * pair_sum / pairs, dtype=np.float64)


def crps_gaussian(mu: npt.ArrayLike, sigma: npt.ArrayLike, y: npt.ArrayLike) -> np.ndarray:
    """Returns the closed-form CRPS of N(mu, sigma^2) against y, float64 of the broadcast shape of mu, sigma, y."""
    where = "crps_gaussian"
    m, s, obs = (np.asarray(a, dtype=np.float64) for a in (mu, sigma, y))
    for name, a in (("mu", m), ("sigma", s), ("y", obs)):
        _finite(name, a, where)
    if np.any(s <= 0):
        raise ValueError(
            f"{where}: sigma has {int(np.count_nonzero(s <= 0))} value(s) <= 0; expected a standard deviation > 0. "
            f"Score a point forecast with its absolute error (or crps_ensemble of one member) instead."
        )
    try:
        m, s, obs = np.broadcast_arrays(m, s, obs)
    except ValueError:
        raise ValueError(
            f"{where}: mu {m.shape}, sigma {s.shape} and y {obs.shape} do not broadcast together; expected shapes "
            f"that numpy can broadcast. Reshape them to one shape."
        ) from None
    z = (obs - m) / s
    cdf = 0.5 * (1.0 + _erf(z / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return np.asarray(s * (z * (2.0 * cdf - 1.0) + 2.0 * pdf - 1.0 / math.sqrt(math.pi)), dtype=np.float64)


# How an ensemble's sorted members are read as quantiles (numpy's method names):
#   "linear"   the k-th of M (k = 0..M-1) at k / (M - 1): numpy's default;
#   "weibull"  the k-th at (k + 1) / (M + 1): for M random draws of a forecast distribution, the expected level of
#              their k-th smallest is exactly that, so a central interval of a calibrated drawn ensemble covers its
#              level on average (with "linear" it covers about level (M - 1) / (M + 1): 87 % for 90 % at M = 64);
#   "hazen"    the k-th at (k + 0.5) / M: the levels at which a quantile forecaster (or residual_ensemble) gives them.
_METHODS: dict[str, Literal["linear", "weibull", "hazen"]] = {
    "linear": "linear",
    "weibull": "weibull",
    "hazen": "hazen",
}
POSITIONS = tuple(_METHODS)


def central_interval(samples: npt.ArrayLike, level: float, positions: str = "linear") -> tuple[np.ndarray, np.ndarray]:
    """Returns (lo, hi), each float64 [...]: the (1-level)/2 and (1+level)/2 quantiles of samples [..., M], the
    members read at the plotting positions `positions` (POSITIONS: "weibull" for random draws, "hazen" for
    quantiles at the levels (k + 0.5)/M)."""
    where = "central_interval"
    lv = _level(level, where)
    x = _ensemble(samples, where)
    if positions not in POSITIONS:
        raise ValueError(
            f"{where}: positions={positions!r}; expected one of {POSITIONS}: 'weibull' for members drawn at random "
            "from the forecast, 'hazen' for members that are its quantiles at (k + 0.5)/M."
        )
    lo, hi = np.quantile(x, [(1.0 - lv) / 2.0, (1.0 + lv) / 2.0], axis=-1, method=_METHODS[positions])
    return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)


def coverage(
    samples: npt.ArrayLike, y: npt.ArrayLike, levels: tuple[float, ...] = (0.5, 0.9), positions: str = "linear"
) -> dict[float, float]:
    """Returns {level: share of y [...] inside the central interval of samples [..., M], bounds included}; positions:
    how the members are read as quantiles (central_interval)."""
    where = "coverage"
    lvs = [_level(lv, where) for lv in levels]
    x = _ensemble(samples, where)
    obs = _observations(y, x.shape[:-1], where)
    out: dict[float, float] = {}
    for lv in lvs:
        lo, hi = central_interval(x, lv, positions)
        out[lv] = float(np.mean((lo <= obs) & (obs <= hi)))
    return out


def pit(samples: npt.ArrayLike, y: npt.ArrayLike, seed: int = 0) -> np.ndarray:
    """Returns the randomised rank PIT of y [...] in samples [..., M], float64 [...] in (0, 1); ties are spread by U."""
    where = "pit"
    x = _ensemble(samples, where)
    m = x.shape[-1]
    obs = _observations(y, x.shape[:-1], where)
    below = np.count_nonzero(x < obs[..., None], axis=-1)
    ties = np.count_nonzero(x == obs[..., None], axis=-1)
    # U uniform on the open interval (0, 1): midpoints of a 2^52 grid, so a value is never exactly 0
    u = (np.random.default_rng(seed).integers(0, 2**52, size=obs.shape) + 0.5) / 2.0**52
    values = (below + u * (ties + 1)) / (m + 1)
    return np.minimum(values, np.nextafter(1.0, 0.0))  # rounding of u * (M + 1) may reach 1 exactly


def pit_histogram(pit_values: npt.ArrayLike, bins: int = 10) -> np.ndarray:
    """Returns the density of pit_values (any shape, in [0, 1]) in `bins` equal bins of [0, 1], float64 [bins]."""
    where = "pit_histogram"
    v = np.asarray(pit_values, dtype=np.float64).ravel()
    if int(bins) != bins or bins < 1:
        raise ValueError(f"{where}: bins={bins!r}; expected a whole number >= 1 of equal bins on [0, 1].")
    if v.size == 0:
        raise ValueError(f"{where}: pit_values is empty; expected at least one PIT value. Compute them with pit().")
    _finite("pit_values", v, where)
    if np.any((v < 0.0) | (v > 1.0)):
        raise ValueError(
            f"{where}: pit_values has values outside [0, 1] (min {v.min():g}, max {v.max():g}); expected PIT "
            f"values, which are probabilities. Compute them with pit()."
        )
    density, _ = np.histogram(v, bins=int(bins), range=(0.0, 1.0), density=True)
    return np.asarray(density, dtype=np.float64)


def residual_ensemble(point: npt.ArrayLike, residuals: npt.ArrayLike, m: int | None = None) -> np.ndarray:
    """Returns point [...] plus each residual [R] (or its m quantiles at (k+0.5)/m), float64 [..., R or m]."""
    where = "residual_ensemble"
    p = np.asarray(point, dtype=np.float64)
    r = np.asarray(residuals, dtype=np.float64)
    if r.ndim != 1 or r.size == 0:
        raise ValueError(
            f"{where}: residuals has shape {r.shape}; expected a non-empty 1-D array [R] of past errors "
            f"(e.g. training residuals). Flatten them with np.ravel first."
        )
    _finite("point", p, where)
    _finite("residuals", r, where)
    if m is not None:
        if int(m) != m or m < 1:
            raise ValueError(
                f"{where}: m={m!r}; expected a whole number >= 1 of members, or None to use all residuals."
            )
        r = np.asarray(np.quantile(r, (np.arange(int(m), dtype=np.float64) + 0.5) / int(m)), dtype=np.float64)
    return np.asarray(p[..., None] + r, dtype=np.float64)

"""06's explorer: every forecaster of the paper on one neuron's stretch of a clean test run, beside the truth.

For a test run, a neuron, a span of target samples and a horizon, `Explorer.view` returns the truth
(the recorded, noisy voltage the models are scored against), each chosen forecaster's forecast of it
in mV, each one's R^2 on the span (metrics.r2_pooled over those targets of that neuron), and, for the
oracle, its predictive band. The forecasters are the paper's own models, not refits of them:

- baselines (METHODS.md section 7): the training mean, persistence, and the AR, population ridge and
  boosted trees fitted at the chosen horizon by voltlib.forecast.baselines' own fitting on the same training
  windows with the same seeds (notebook 02's fits, done again once per horizon in the kernel, seconds);
- the ladder (section 5): phases 1-3 at 1 ms (the paper trains them at 1 ms only), the CNN-LSTM
  trained directly at every horizon and its 1-ms model rolled out, loaded from the cache (first seed);
- the staircase of notebook 08 (section 11): each member's first seed, loaded from the cache, with the
  best member that reads only the recording marked as notebook 08 found it;
- the oracle (section 9): the simulator restarted from its true state at each forecast origin of the
  span, ORACLE_REPLICAS times with fresh noise (the ceiling's restarts and seed): its forecast is the
  replicas' mean, its band the mean +- 2 SD of the replicas and of the measurement noise the recorded
  truth carries. The mean of K replicas misses the conditional mean by Var / K, so its R^2 on a span
  lies a little below what the oracle itself reaches (at smoke, over all neurons of one 200-ms span
  at 1 ms: 0.735 with the ceiling's 4 replicas, 0.786 with 32; the smoke ceiling is 0.754).

A forecaster whose model is not cached (a notebook that trains it has not run) or that does not
exist at a horizon is listed in `View.unavailable` with the reason; nothing is trained here.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from voltlib import display, paths
from voltlib.config import PHASE_LABELS, ms_to_samples
from voltlib.forecast import baselines, fits, staircase
from voltlib.forecast.data import Split
from voltlib.forecast.metrics import r2_pooled
from voltlib.forecast.train import predict
from voltlib.paper.analysis import Setup, rollout, span_windows

LADDER = tuple(PHASE_LABELS)  # phase 1 ... phase 4 (the CNN-LSTM)
CNN_LSTM, ROLLOUT, ORACLE = "phase4_cnn_lstm", "cnn_lstm_rollout", "oracle"
MEMBER = "member:"  # staircase keys: "member:own", "member:clock", ...
ORACLE_REPLICAS = 32  # restarts per shown target (about 10-20 s for 200 targets on one busy core)
ORACLE_MAX_TARGETS = 400
BAND_SD = 2.0
BAND_LABEL = f"±{BAND_SD:g} SD (its replicas and the measurement noise)"


@dataclasses.dataclass(frozen=True)
class Forecaster:
    key: str
    label: str
    family: str  # "baseline", "ladder", "staircase", "oracle"


@dataclasses.dataclass
class View:
    """What the explorer draws: target samples (index in the run, discard included), truth and forecasts in mV."""

    t_samples: np.ndarray
    truth: np.ndarray
    traces: dict  # {label: mV [b]}, in the order asked for
    r2: dict  # {label: R^2 of that forecast on the span}
    bands: dict  # {label: (low, high) mV [b]}
    unavailable: dict  # {label: why it is not shown}
    notes: list  # one-time costs paid for this view ("boosted trees fitted at 5 ms in 12 s")

    def summary(self) -> str:
        """The R^2 of each shown forecaster on the span, best first, then what could not be shown and why."""
        lines = [f"R² on the shown {display.count(len(self.truth), 'target')}:"]
        lines += [f"  {self.r2[k]:7.3f}  {k}" for k in sorted(self.r2, key=self.r2.__getitem__, reverse=True)]
        lines += [f"  not shown: {k}: {why}" for k, why in self.unavailable.items()]
        lines += [f"  ({note})" for note in self.notes]
        return "\n".join(lines)


class Explorer:
    """Every forecaster of the paper on the clean test runs of one notebook's Setup (analysis.setup(all_horizons=True))."""

    def __init__(self, setup: Setup, device=None, results_dir=None):
        self.S, self.device = setup, device if device is not None else setup.device
        self.cfg = setup.cfg
        self.results = paths.results_dir(self.cfg.name) if results_dir is None else results_dir
        self.best_member = _best_member(self.results)
        self._fitted: dict = {}  # (baseline, horizon samples) -> baselines.Fitted
        self._models: dict = {}  # fit name -> model
        self._inputs: staircase.Inputs | None = None  # built on the first staircase member asked for
        self._members: dict = {}  # member name -> (model, info, scale) or None
        self._oracle: dict = {}  # (run, first target, n targets, horizon) -> (mean, sd) mV [b, n]

    # ------------------------------------------------------------ what there is

    def forecasters(self) -> list[Forecaster]:
        """Every forecaster of the paper, in the order the paper meets them."""
        out = [Forecaster(b, display.name(b), "baseline") for b in baselines.BASELINES]
        out += [Forecaster(p, display.name(p), "ladder") for p in LADDER if p != CNN_LSTM]
        out += [Forecaster(CNN_LSTM, "CNN-LSTM direct", "ladder"), Forecaster(ROLLOUT, "CNN-LSTM rollout", "ladder")]
        for m in staircase.MEMBERS:
            label = f"staircase {staircase.MEMBER_LABELS[m]}"
            out.append(Forecaster(MEMBER + m, label + (" (best member)" if m == self.best_member else ""), "staircase"))
        out.append(Forecaster(ORACLE, f"oracle (mean of {ORACLE_REPLICAS} restarts from the true state)", "oracle"))
        return out

    def options(self) -> list[tuple[str, str]]:
        """(label, key) of every forecaster, for a selection widget."""
        return [(f.label, f.key) for f in self.forecasters()]

    def label(self, key: str) -> str:
        """The display label of a forecaster's key (KeyError naming the keys there are)."""
        for f in self.forecasters():
            if f.key == key:
                return f.label
        raise KeyError(
            f"{key!r} is not a forecaster of the explorer; choose one of {[f.key for f in self.forecasters()]}"
        )

    # ------------------------------------------------------------ one view

    def view(self, run: int, neuron: int, t0: int, n_samples: int, horizon_ms: float, keys) -> View:
        """Truth and the forecasters `keys` for targets t0 .. t0 + n_samples - 1 (index in the run's kept part)
        of one neuron of a clean test run, horizon_ms ahead (clipped to the targets the run has)."""
        S = self.S
        hs = ms_to_samples(horizon_ms, S.dt_ms)
        if hs not in S.datasets:
            raise ValueError(f"{horizon_ms:g} ms is not a horizon of this profile: choose one of {S.horizons_ms}")
        split = S.datasets[max(S.h_samples)].test  # windows whose targets exist at every horizon
        kept = S.kept
        d, k = span_windows(split, kept, run, t0, n_samples, hs)  # k: the targets' index in the run's kept part
        ds = S.datasets[hs]
        std, mean = ds.std_mv[neuron], ds.mean_mv[neuron]
        truth = d.targets()[:, neuron] * std + mean
        out = View(k + S.discard, truth, {}, {}, {}, {}, [])
        for key in keys:
            label = self.label(key)
            t_start = time.perf_counter()
            try:
                got = self._forecast(key, d, ds, run, neuron, k, hs)
            except Unavailable as why:
                out.unavailable[label] = str(why)
                continue
            if isinstance(got, tuple):
                got, sd = got
                out.bands[label] = (got - BAND_SD * sd, got + BAND_SD * sd)
            out.traces[label] = got if got.ndim == 1 else got[:, neuron] * std + mean
            out.r2[label] = r2_pooled(truth, out.traces[label])
            spent = time.perf_counter() - t_start
            if spent > 2:
                out.notes.append(f"{label}: {spent:.0f} s for this view, once; kept for the next")
        return out

    def _forecast(self, key: str, d: Split, ds, run: int, neuron: int, k: np.ndarray, hs: int):
        """z forecasts [b, n], or mV [b] of the neuron, or (mean, sd) mV [b] for the oracle."""
        if key == "mean":
            return np.zeros((len(d), ds.std_mv.shape[0]))
        if key == "persistence":
            return d.last_values()
        if key in baselines.FIT:
            if (key, hs) not in self._fitted:
                self._fitted[key, hs] = baselines.FIT[key](ds)
            return self._fitted[key, hs].predict(d)
        if key in LADDER:
            if key != CNN_LSTM and hs != self.cfg.data.horizon:
                raise Unavailable("the paper trains phases 1-3 at 1 ms only (Methods section 5)")
            return predict(self._model(key, hs), d, self.device)
        if key == ROLLOUT:
            if hs == self.cfg.data.horizon:
                raise Unavailable("at 1 ms the rollout is the direct CNN-LSTM itself")
            return rollout(self._model(CNN_LSTM, self.cfg.data.horizon), d, hs, device=self.device)[-1]
        if key.startswith(MEMBER):
            return self._member(key.removeprefix(MEMBER), run, neuron, k, hs)
        if key == ORACLE:
            return self._oracle_at(run, neuron, k, hs)
        raise KeyError(self.label(key))  # label() names the keys there are

    def _model(self, phase: str, hs: int):
        """A ladder model (first seed) at horizon hs from the cache; Unavailable if it was never trained."""
        h_ms = hs * self.S.dt_ms
        name = phase if hs == self.cfg.data.horizon else f"{phase}_h{h_ms:g}ms"
        if name not in self._models:
            spec = fits.find(self.cfg, name, "clean")
            if not spec.is_cached():
                raise Unavailable(
                    f"not trained yet: notebook {spec.notebook} trains it (make report PROFILE={self.cfg.name})"
                )
            self._models[name] = spec.fit_or_load(self.S.datasets[spec.horizon], self.device)[0]
        return self._models[name]

    def _member(self, name: str, run: int, neuron: int, k: np.ndarray, hs: int) -> np.ndarray:
        """A staircase member's (first seed) forecast of the neuron in mV [b], origins hs before the targets."""
        folder = paths.MODELS / "beyond"
        if not any((f / "info.json").is_file() for f in folder.glob(f"{name}-*")):
            raise Unavailable(f"not trained yet: notebook 08 trains it (make report PROFILE={self.cfg.name})")
        runs = self.S.ds1.runs
        assert runs is not None, "a Setup's datasets are clean ones, which carry their runs"
        if self._inputs is None:
            S = self.S
            self._inputs = staircase.build_inputs(S.sim, self.cfg.data, runs, tuple(S.h_samples))
        if name not in self._members:
            member = next(m for m in staircase.members(self.cfg.beyond) if m.name == name)
            self._members[name] = (
                member,
                staircase.load_member(
                    member,
                    staircase.member_train_config(self.cfg.beyond, seed=0),
                    self._inputs,
                    runs,
                    self.cfg.data.window - 1,
                    self.cfg.sim,
                    self.cfg.data,
                ),
            )
        member, loaded = self._members[name]
        if loaded is None:
            raise Unavailable(
                "no intact cached training for this profile's configuration: notebook 08 trains it "
                f"(make report PROFILE={self.cfg.name})"
            )
        model, _, scale = loaded
        mv = staircase.forecast_mv(model, member, self._inputs, scale, np.full(len(k), run), k - hs)
        return mv[:, neuron, self._inputs.horizons.index(hs)].astype(np.float64)

    def _oracle_at(self, run: int, neuron: int, k: np.ndarray, hs: int) -> tuple[np.ndarray, np.ndarray]:
        if len(k) > ORACLE_MAX_TARGETS:
            raise Unavailable(
                f"{len(k)} targets would take {len(k) * ORACLE_REPLICAS:,} network restarts: "
                f"choose a span of at most {ORACLE_MAX_TARGETS} ms to see it"
            )
        key = (run, int(k[0]), len(k), hs)
        if key not in self._oracle:
            self._oracle[key] = oracle_forecast(self.S, run, k - hs, hs, n_replicas=ORACLE_REPLICAS)
        mean, var = self._oracle[key]
        return mean[:, neuron], np.sqrt(var[:, neuron] + self.cfg.data.meas_noise_mv**2)


class Unavailable(Exception):
    """A forecaster that cannot be shown here; the message says why and what would make it available."""


def oracle_forecast(setup: Setup, run: int, origins: np.ndarray, hs: int, n_replicas=None, seed=None):
    """The oracle's forecast hs samples after each origin (index in the run's kept part) of one run:
    (mean [b, n] mV, variance across replicas [b, n] mV^2) of the simulator restarted from its true
    state at each origin with fresh noise (METHODS.md section 9; the ceiling's K and seed by default)."""
    from voltlib.sim.restart_states import states_at
    from voltlib.sim.restarts import replicas_in_child

    sim, ceiling = setup.sim, setup.cfg.ceiling
    samples = np.asarray(origins, np.int64) + setup.discard
    states = states_at(sim.v_mv[run], sim.spike_i[run], sim.spike_t_ms[run], samples, sim.sim, run=run)
    mean, var = replicas_in_child(
        states,
        {run: (sim.syn_i[run], sim.syn_j[run])},
        sim.sim,
        n_replicas or ceiling.n_replicas,
        hs,
        ceiling.seed if seed is None else seed,
        progress=False,
    )
    return mean[:, hs], var[:, hs]


def _best_member(results) -> str | None:
    """The best staircase member without the oracle that notebook 08 found, None before 08 has run."""
    from voltlib.store import DamagedFileError, read_json

    try:
        return read_json(results / "analysis.json").get("reaching_the_ceiling", {}).get("best_without_oracle")
    except (FileNotFoundError, DamagedFileError):
        return None

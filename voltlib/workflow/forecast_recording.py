"""Forecast any recording: the paper's baselines and notebook 08's best member on one file (METHODS.md section 12).

    python -m voltlib.workflow.forecast_recording FILE [--out DIR]        (make forecast FILE=...)
    forecast(path, out=None)                                      (the same, from a notebook)

FILE is an NWB file (its acquisition's one TimeSeries or ElectricalSeries of voltages, [time,
channel]; rate, unit and conversion read from it) or an array file: .npz with `v` [time, channel],
`rate_hz` and `unit` ("V", "mV" or "uV"), or .npy with --rate-hz and --unit given.

The protocol: the recording is cut in time into `segments` equal segments (a few trailing samples
that do not fill one are dropped), the first 70 % train, the next 15 % validate and the last 15 %
test (at least one each), in time order, so that nothing is fitted on the future of a test sample.
Every segment plays the part of a simulated run of the clean protocol: windows lie inside one
segment, z-scoring uses the training segments, and intervals resample test segments. The models
are those of notebooks 02 and 08, fitted by their own functions: the baselines
(voltlib.forecast.baselines.run_baselines: persistence, the per-neuron AR, the population ridge and the
boosted trees) and one member of the shared-weight staircase (voltlib.forecast.staircase), which reads the
spikes detected in the trace (voltlib.sim.spikes) and the wiring inferred from the recording's own
past (voltlib.sim.wiring, causally over the whole recording).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import io
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

import numpy as np
import torch

from voltlib import paths
from voltlib.config import get_profile, ms_to_samples
from voltlib.display import with_interval
from voltlib.forecast import staircase
from voltlib.forecast.baselines import run_baselines
from voltlib.forecast.data import array_simulation, make_datasets, split_sizes
from voltlib.forecast.ladder import score_predictions, seed_summary
from voltlib.sim import spikes, wiring
from voltlib.store import atomic_path, horizon_key, read_json, write_json

# the unit a file states (lower case, as NWB and users write it) -> millivolts per unit
UNITS = {
    "v": 1e3,
    "volt": 1e3,
    "volts": 1e3,
    "mv": 1.0,
    "millivolt": 1.0,
    "millivolts": 1.0,
    "uv": 1e-3,
    "µv": 1e-3,
    "microvolt": 1e-3,
    "microvolts": 1e-3,
}
SEGMENTS = 10
WINDOW = 32  # samples before the first forecast origin: the longest lag any of these models reads is 30
STRIDE = 5  # samples between forecast origins (one recording has fewer samples than the paper's 50 runs)
MAX_SAMPLES_PER_MS = 10  # above 10 kHz the 20-sample histories of the models would span under 2 ms: resample
BASELINE_NAMES = ("persistence", "ar_ridge", "population_ridge", "own_lags_boosting")
MAX_MOMENTS_GB = 4.0  # memory the wiring inference may take (its moments: blocks x n x (n + 2)^2 float64)
DEFAULT_MEMBER = "wiring"  # when notebook 08 has not named its best member at the profile


class RecordingError(ValueError):
    """A recording the forecast cannot use; the message names the problem, what was expected and what to do."""


def _fail(problem: str, expected: str, todo: str) -> NoReturn:
    raise RecordingError(f"{problem}\n  expected: {expected}\n  to do: {todo}")


@dataclass
class Recording:
    """A multichannel voltage recording: v_mv [time, channel] float32 mV at rate_hz."""

    v_mv: np.ndarray
    rate_hz: float
    source: str  # the file and the series read
    unit: str  # the unit the file stated
    neuron_type: list | None = None  # "excitatory"/"inhibitory" per channel, when the file says

    @property
    def dt_ms(self) -> float:
        return 1000.0 / self.rate_hz


def _to_mv(data, unit: str, conversion: float = 1.0, offset: float = 0.0, what: str = "") -> np.ndarray:
    key = str(unit).strip().lower()
    if key not in UNITS:
        _fail(
            f"{what} is in unit {unit!r}, which is not a voltage this command reads",
            f"a voltage in one of {', '.join(sorted({'V', 'mV', 'uV', 'volts'}))}",
            "store the membrane voltage (not a current or a fluorescence), or state its unit (--unit V|mV|uV)",
        )
    return ((np.asarray(data, np.float64) * conversion + offset) * UNITS[key]).astype(np.float32)


def _regular_rate(timestamps, what: str) -> float:
    t = np.asarray(timestamps, np.float64)
    d = np.diff(t)
    if len(d) == 0 or not np.allclose(d, d[0], rtol=1e-6, atol=0) or d[0] <= 0:
        _fail(
            f"{what} has irregular or missing timestamps",
            "samples at a constant rate (an NWB rate, or evenly spaced timestamps)",
            "resample the recording to a constant rate",
        )
    return 1.0 / float(d[0])


def _read_nwb(path: Path, series: str | None) -> Recording:
    from pynwb import NWBHDF5IO, TimeSeries

    with NWBHDF5IO(str(path), mode="r") as nwb_io:
        f = nwb_io.read()
        found = {k: v for k, v in f.acquisition.items() if isinstance(v, TimeSeries)}
        voltages = {k: v for k, v in found.items() if str(v.unit).strip().lower() in UNITS}
        if series is not None:
            if series not in found:
                _fail(
                    f"{path} has no series {series!r} in its acquisition",
                    f"one of {sorted(found) or 'none: it has no TimeSeries'}",
                    "pass --series with one of those names",
                )
            chosen = found[series]
        elif len(voltages) == 1:
            chosen = next(iter(voltages.values()))
        elif not voltages:
            if found:  # series there, but none in a voltage unit: say which units they have
                name, ts = next(iter(found.items()))
                _to_mv([], ts.unit, what=f"{path}'s series {name!r}")
            _fail(
                f"{path} has no voltage series in its acquisition (found: {sorted(f.acquisition) or 'nothing'})",
                "one TimeSeries or ElectricalSeries [time, channel] in volts in the file's acquisition",
                "export the recording's voltages into acquisition, or save them as .npz (v, rate_hz, unit)",
            )
        else:
            _fail(
                f"{path} has {len(voltages)} voltage series: {sorted(voltages)}",
                "one series to forecast",
                "choose one with --series NAME",
            )
        what = f"{path}'s series {chosen.name!r}"
        rate = chosen.rate if chosen.rate is not None else _regular_rate(chosen.timestamps[:], what)
        v = _to_mv(chosen.data[:], chosen.unit, chosen.conversion, getattr(chosen, "offset", 0.0) or 0.0, what)
        types = None
        if (
            f.units is not None
            and "neuron_type" in f.units.colnames
            and len(f.units) == (v.shape[1] if v.ndim == 2 else 0)
        ):
            types = [str(x) for x in f.units["neuron_type"][:]]
        return Recording(v, float(rate), what, str(chosen.unit), types)


def read_recording(path, series: str | None = None, rate_hz: float | None = None, unit: str | None = None):
    """The Recording in an .nwb, .npz or .npy file (rate_hz and unit: for an .npy, or to override an .npz)."""
    path = Path(path)
    if not path.exists():
        _fail(f"{path} does not exist", "an .nwb, .npz or .npy file", "check the path")
    suffix = path.suffix.lower()
    if suffix == ".nwb":
        return _read_nwb(path, series)
    if suffix not in (".npz", ".npy"):
        _fail(f"{path} is a {suffix or 'suffix-less'} file", "an .nwb, .npz or .npy file", "convert it to one of those")
    if suffix == ".npy":
        v, meta = np.load(path, allow_pickle=False), {}
    else:
        with np.load(path, allow_pickle=False) as z:
            meta = {k: z[k] for k in z.files}
        if "v" not in meta:
            _fail(
                f"{path} has no voltage array 'v' (arrays: {sorted(meta) or 'none'})",
                "arrays v [time, channel], rate_hz and unit",
                "np.savez(file, v=voltages, rate_hz=1000.0, unit='mV')",
            )
        v = meta["v"]
    rate = rate_hz if rate_hz is not None else meta.get("rate_hz")
    unit = unit if unit is not None else meta.get("unit")
    if rate is None or unit is None:
        _fail(
            f"{path} does not state its {'sampling rate' if rate is None else 'unit'}",
            "rate_hz and unit in the .npz, or --rate-hz and --unit for an .npy",
            "pass --rate-hz HZ --unit V|mV|uV (make forecast FILE=... RATE=1000 UNIT=mV)",
        )
    return Recording(_to_mv(v, str(unit), what=str(path)), float(rate), str(path), str(unit))


def check(rec: Recording, horizons_ms, segments: int = SEGMENTS) -> None:
    """Raises RecordingError naming what makes rec unusable: its shape, NaN gaps, its rate, its size or its length."""
    v = rec.v_mv
    if v.ndim != 2 or v.shape[1] < 1:
        _fail(
            f"{rec.source} has shape {v.shape}",
            "a 2-D series [time, channel] with at least one channel",
            "store one column per neuron or electrode (a single trace as [time, 1])",
        )
    bad = ~np.isfinite(v)
    if bad.any():
        t, c = np.argwhere(bad)[0]
        _fail(
            f"{rec.source} has {int(bad.sum()):,} NaN or infinite samples (the first at {t * rec.dt_ms / 1000:.3f} s, "
            f"channel {c})",
            "a gap-free recording",
            "cut the recording at the gap and forecast the longest gap-free part",
        )
    per_ms = rec.rate_hz / 1000.0
    steps = [h * per_ms for h in horizons_ms]
    if (
        not rec.rate_hz > 0
        or any(abs(s - round(s)) > 1e-6 or round(s) < 1 for s in steps)
        or per_ms > MAX_SAMPLES_PER_MS
    ):
        _fail(
            f"{rec.source} is sampled at {rec.rate_hz:g} Hz: the horizons {list(horizons_ms)} ms are "
            f"{[round(s, 3) for s in steps]} samples",
            f"a rate that makes every horizon a whole number of samples, at most {MAX_SAMPLES_PER_MS} kHz "
            "(1, 2, 5 or 10 kHz)",
            "resample the recording to 1 kHz",
        )
    n_t, n = v.shape
    moments_gb = -(-n_t // wiring.STEP) * n * (n + 2) ** 2 * 8 / 1e9  # wiring.block_moments' xx, float64
    if moments_gb > MAX_MOMENTS_GB:
        _fail(
            f"{rec.source} has {n} channels x {n_t:,} samples: inferring its wiring would hold {moments_gb:.1f} GB "
            "of regression moments",
            f"at most {MAX_MOMENTS_GB:g} GB (the moments grow with channels squared times blocks of {wiring.STEP} samples)",
            "forecast a shorter part of the recording or fewer channels",
        )
    need = segments * (WINDOW + ms_to_samples(max(horizons_ms), rec.dt_ms))
    if len(v) < need:
        _fail(
            f"{rec.source} has {len(v):,} samples ({len(v) * rec.dt_ms / 1000:g} s at {rec.rate_hz:g} Hz)",
            f"at least {need:,} samples: {segments} segments, each holding a {WINDOW}-sample history and the "
            f"longest horizon ({max(horizons_ms):g} ms)",
            "forecast a longer recording, or pass fewer segments (--segments, at least 3)",
        )


def segment_runs(n_segments: int, fractions=(0.7, 0.15, 0.15)) -> dict:
    """{split: segment indices}: the first segments train, the next validate, the last test (in time order)."""
    n_tr, n_va, _ = split_sizes(n_segments, fractions)
    idx = np.arange(n_segments)
    return {"train": idx[:n_tr], "val": idx[n_tr : n_tr + n_va], "test": idx[n_tr + n_va :]}


def estimate_reset(v_mv: np.ndarray) -> float | None:
    """The voltage a spike resets to, read from the trace: the median after every fall of spikes.DROP_MV or more
    within one sample (None when the trace has no such fall: no spikes to detect)."""
    v = np.asarray(v_mv, np.float32)
    fall = v[:-1] - v[1:] >= spikes.DROP_MV
    return float(np.median(v[1:][fall])) if fall.any() else None


def recording_inputs(v_seg: np.ndarray, n_exc: int, horizons: tuple, runs: dict, reset_mv) -> staircase.Inputs:
    """What notebook 08's members read, from the recording alone: spikes, clocks, and the drive through the
    coupling inferred causally over the whole recording (checkpoint c fitted on every block before it)."""
    n_seg, seg_len, n = v_seg.shape
    v = v_seg.reshape(-1, n)
    s = spikes.detect(v, reset_mv) if reset_mv is not None else np.zeros(v.shape, bool)
    moments = wiring.block_moments(v, s)
    fit_blocks = int(runs["test"][0]) * seg_len // wiring.STEP  # blocks wholly before the first test segment
    if fit_blocks >= 2:  # the penalty is chosen on the causal error of blocks before the test part only
        alpha, scores = wiring.choose_alpha([{k: m[:fit_blocks] for k, m in moments.items()}])
    else:
        alpha, scores = wiring.ALPHAS[1], {}
    drive = wiring.drive(s, wiring.coupling(wiring.checkpoint_coefficients(moments, alpha)))
    frac = lambda a: a.mean(-1) if a.shape[-1] else np.zeros(a.shape[:-1], np.float32)  # noqa: E731
    pop = np.stack([frac(s[:, :n_exc]), frac(s[:, n_exc:])], axis=-1)
    t = np.arange(len(v))
    past = (t // wiring.STEP) * wiring.STEP / len(v)
    seg = lambda a: torch.from_numpy(np.ascontiguousarray(a.reshape(n_seg, seg_len, *a.shape[1:]), np.float32))  # noqa: E731
    return staircase.Inputs(
        v_mv=seg(v),
        spikes=seg(s),
        clock=seg(spikes.clock(s)),
        drive_inferred=seg(drive),
        drive_true=seg(np.zeros_like(v)),  # a recording has no true wiring: the oracle member is not fitted
        population=seg(pop),
        past=seg(past),
        horizons=tuple(int(h) for h in horizons),
        alpha=float(alpha),
        alpha_scores={str(k): x for k, x in scores.items()},
        couplings={},
        detection={"n_detected": int(s.sum()), "reset_mv": reset_mv},
    )


def best_member(profile: str) -> tuple[str, str]:
    """(member, why): notebook 08's best member without the oracle at this profile, or DEFAULT_MEMBER."""
    path = paths.RESULTS / profile / "analysis.json"
    if path.exists():
        found = read_json(path).get("reaching_the_ceiling", {}).get("best_without_oracle")
        if found in staircase.MEMBERS and found != "oracle":
            return found, f"notebook 08's best member at the {profile} profile ({path.name})"
    return DEFAULT_MEMBER, f"notebook 08 has not run at the {profile} profile: the member reading the most"


def forecast(
    path,
    out=None,
    profile: str = "quick",
    segments: int = SEGMENTS,
    series=None,
    rate_hz=None,
    unit=None,
    member: str | None = None,
    progress: bool = True,
) -> dict:
    """Forecasts one recording; writes forecast.json and forecast.html into out; returns the numbers (forecast.json)."""
    t0 = time.perf_counter()
    cfg = get_profile(profile)
    horizons_ms = list(cfg.data.horizons_ms)
    if segments < 3:
        _fail(f"segments={segments}", "at least 3 (train, validation and test)", "pass --segments 10")
    rec = read_recording(path, series, rate_hz, unit)
    check(rec, horizons_ms, segments)
    dt = rec.dt_ms
    h_samples = tuple(ms_to_samples(h, dt) for h in horizons_ms)
    seg_len = len(rec.v_mv) // segments
    v_seg = rec.v_mv[: segments * seg_len].reshape(segments, seg_len, -1)
    n = v_seg.shape[2]
    types = rec.neuron_type
    n_exc = int(sum(t == "excitatory" for t in types)) if types and types == sorted(types) else n
    runs = segment_runs(segments)
    # the recording's own voltages: no discard and no added noise (a recording has its own)
    data_cfg = replace(cfg.data, discard_ms=0.0, meas_noise_mv=0.0, window=WINDOW, stride=STRIDE)
    sim = array_simulation(v_seg, n_exc, dt)
    datasets = make_datasets(sim, data_cfg, "clean", h_samples, runs=runs)
    say = (lambda m: print(f"[forecast] {m}", flush=True)) if progress else (lambda m: None)
    say(f"{rec.source}: {len(rec.v_mv):,} samples x {n} channels at {rec.rate_hz:g} Hz; {segments} segments")
    models: dict[str, dict[str, dict]] = {}  # {baseline: {horizon key: its entry}}
    for h_ms, h in zip(horizons_ms, h_samples):
        for name, m in run_baselines(datasets[h]).items():
            if name in BASELINE_NAMES:
                models.setdefault(name, {})[horizon_key(h_ms)] = _entry(m)
    say(f"baselines fitted ({time.perf_counter() - t0:.0f} s)")
    member, why = (member, "chosen by the caller") if member else best_member(profile)
    inp = recording_inputs(v_seg, n_exc, h_samples, runs, estimate_reset(rec.v_mv))
    mcfg = next(m for m in staircase.members(cfg.beyond) if m.name == member)
    digest = hashlib.sha256(np.ascontiguousarray(v_seg).tobytes()).hexdigest()[:16]
    what = {"recording_sha256": digest, "rate_hz": rec.rate_hz, "segments": segments}  # the cache key's recording
    fitted = [
        staircase.fit_member(
            mcfg, staircase.member_train_config(cfg.beyond, seed=k), inp, runs, WINDOW - 1, what, data_cfg
        )
        for k in range(cfg.beyond.seeds)
    ]
    per_seed = [staircase.forecasts_z(model, mcfg, inp, scale, datasets) for model, _, scale in fitted]
    label = staircase.MEMBER_LABELS[member]
    for h_ms, h in zip(horizons_ms, h_samples):
        preds = [p[h] for p in per_seed]
        ev = seed_summary([score_predictions(p, datasets[h]) for p in preds], preds, datasets[h])
        models.setdefault(label, {})[horizon_key(h_ms)] = _entry(ev)
    say(f"{label} fitted ({time.perf_counter() - t0:.0f} s)")
    result = {
        "source": rec.source,
        "unit_in_file": rec.unit,
        "rate_hz": rec.rate_hz,
        "n_samples": int(len(rec.v_mv)),
        "n_channels": int(n),
        "protocol": {
            "segments": segments,
            "segment_samples": int(seg_len),
            "dropped_trailing_samples": int(len(rec.v_mv) - segments * seg_len),
            "splits": {k: v.tolist() for k, v in runs.items()},
            "window_samples": WINDOW,
            "stride_samples": STRIDE,
            "test_windows": {horizon_key(h_ms): len(datasets[h].test) for h_ms, h in zip(horizons_ms, h_samples)},
            "interval": "95 % over test segments (and training seeds for the member)",
        },
        "horizons_ms": horizons_ms,
        "spikes": {**inp.detection, "coupling_alpha": inp.alpha, "n_excitatory_channels": n_exc},
        "member": {
            "name": member,
            "label": label,
            "why": why,
            "seeds": len(fitted),
            "params": fitted[0][1]["params"],
            "profile": profile,
        },
        "r2": models,
        "wall_s": time.perf_counter() - t0,
    }
    if out is not None:
        write(result, Path(out))
    return result


def _entry(m: dict) -> dict:
    return {"r2": m["r2"], "r2_ci": list(m["r2_ci"]), "rmse_mv": m["rmse_mv"]}


def _figure_png(result: dict) -> str:
    from voltlib.paper.plots import horizons as plots

    hk = [horizon_key(h) for h in result["horizons_ms"]]
    curves: dict[str, tuple[list[float], dict]] = {
        name: ([by_h[k]["r2"] for k in hk], {}) for name, by_h in result["r2"].items()
    }
    low = min(min(v) for v, _ in curves.values())
    fig = plots.r2_vs_horizon(result["horizons_ms"], curves, ylim=(max(-1.0, low - 0.05), 1.0))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def write(result: dict, out: Path) -> tuple[Path, Path]:
    """forecast.json and forecast.html in out, each written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    js = write_json(out / "forecast.json", result)
    hk = [horizon_key(h) for h in result["horizons_ms"]]
    head = "".join(f"<th>{h:g} ms</th>" for h in result["horizons_ms"])
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th>"
        + "".join(f"<td>{with_interval(by_h[k]['r2'], by_h[k]['r2_ci'])}</td>" for k in hk)
        + "</tr>"
        for name, by_h in result["r2"].items()
    )
    p, sp, mem = result["protocol"], result["spikes"], result["member"]
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Forecast: {html.escape(result["source"])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td,th{{padding:.2em .6em;text-align:right}}
table{{border-collapse:collapse}}tr:nth-child(even){{background:#f3f3f3}}</style></head><body>
<h1>Forecast of a recording</h1>
<p>{html.escape(result["source"])}: {result["n_samples"]:,} samples of {result["n_channels"]} channels at
{result["rate_hz"]:g} Hz (unit in the file: {html.escape(result["unit_in_file"])}).</p>
<p>Protocol (METHODS.md section 12): {p["segments"]} segments of {p["segment_samples"]:,} samples in time order
({p["dropped_trailing_samples"]} trailing samples dropped); segments {p["splits"]["train"]} train,
{p["splits"]["val"]} validate, {p["splits"]["test"]} test. Forecast origins every {p["stride_samples"]} samples
after a {p["window_samples"]}-sample history; test windows per horizon: {p["test_windows"]}.
Spikes detected in the trace: {sp["n_detected"]:,} (reset read from the trace:
{"none" if sp["reset_mv"] is None else f"{sp['reset_mv']:.1f} mV"}); coupling penalty {sp["coupling_alpha"]:g}.
Shared-weight member: {html.escape(mem["label"])} ({html.escape(mem["why"])}; {mem["params"]:,} parameters,
{mem["seeds"]} seeds, {html.escape(mem["profile"])} profile's schedule).</p>
<table><caption>test R<sup>2</sup> [{html.escape(p["interval"])}]</caption><tr><th></th>{head}</tr>{rows}</table>
<p><img alt="R^2 by horizon" src="data:image/png;base64,{_figure_png(result)}"></p>
<p>Numbers: forecast.json. {result["wall_s"]:.0f} s.</p></body></html>
"""
    page_path = out / "forecast.html"
    with atomic_path(page_path) as tmp:
        tmp.write_text(page)
    return js, page_path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m voltlib.workflow.forecast_recording", description=__doc__.split("\n")[0]
    )
    ap.add_argument("file", type=Path, help="an .nwb, .npz (v, rate_hz, unit) or .npy file")
    ap.add_argument(
        "--out", type=Path, default=None, help="folder for forecast.json and .html (default build/forecast/<name>/)"
    )
    ap.add_argument("--series", default=None, help="the NWB acquisition series to forecast, if there are several")
    ap.add_argument("--rate-hz", type=float, default=None, help="sampling rate (an .npy states none)")
    ap.add_argument("--unit", default=None, help="V, mV or uV (an .npy states none)")
    ap.add_argument("--segments", type=int, default=SEGMENTS, help=f"segments in time (default {SEGMENTS})")
    ap.add_argument("--profile", default="quick", help="whose schedule the shared-weight member trains with")
    ap.add_argument("--member", default=None, choices=[m for m in staircase.MEMBERS if m != "oracle"])
    args = ap.parse_args(argv)
    out = args.out or paths.BUILD / "forecast" / args.file.stem
    try:
        result = forecast(
            args.file, out, args.profile, args.segments, args.series, args.rate_hz, args.unit, args.member
        )
    except RecordingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    hk = horizon_key(result["horizons_ms"][0])
    for name, by_h in result["r2"].items():
        print(f"  {name:55s} R^2 at {hk} ms {with_interval(by_h[hk]['r2'], by_h[hk]['r2_ci'])}")
    print(f"[forecast] wrote {out}/forecast.html and forecast.json in {result['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    from voltlib.cli import run_cli  # a stop is one line, and the work under way is shut down

    sys.exit(run_cli(main))

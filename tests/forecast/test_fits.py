"""The list of every model a profile trains (voltlib.forecast.fits): counts, order, cache keys, and refusals.

tests/workflow/test_fanout.py trains some of these specs on a tiny profile; here nothing is trained:
the specs of the real profiles are checked against what their configs imply.
"""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from voltlib import paths
from voltlib.config import PHASES, PROTOCOLS, DataConfig, SimConfig, get_profile
from voltlib.forecast import fits, interpret, train

SMOKE, QUICK, PAPER = (get_profile(p) for p in ("smoke", "quick", "paper"))
P4 = "phase4_cnn_lstm"


def _expected_count(profile) -> int:
    """phases x protocols x seeds, one per longer horizon of notebook 06, notebook 07's no-residual and shuffled."""
    ladder = sum(len(PROTOCOLS) * profile.seeds.get(p, 1) for p in PHASES)
    longer = sum(round(h / profile.sim.record_dt_ms) != profile.data.horizon for h in profile.data.horizons_ms)
    return ladder + longer + 1 + profile.seeds.get(P4, 1)


def _keys(profile) -> dict:
    """{(name, protocol, seed): cache folder name} of every spec of a profile."""
    return {(s.name, s.protocol, s.seed): s.folder().name for s in fits.specs(profile)}


@pytest.mark.parametrize(("profile", "count"), [(SMOKE, 17), (QUICK, 20), (PAPER, 50)])
def test_each_profile_lists_as_many_fits_as_its_config_implies(profile, count):
    # smoke: (3 phases x 2 protocols) + (phase 4: 2 protocols x 2 seeds) + 4 horizons + 1 + 2 shuffled = 17
    # quick: 6 + 2 x 3 + 4 + 1 + 3 = 20;  paper: 4 x 2 x 5 + 4 + 1 + 5 = 50
    specs = fits.specs(profile)
    assert len(specs) == count == _expected_count(profile)
    assert len({(s.name, s.protocol, s.seed) for s in specs}) == count  # each (name, protocol, seed) once
    assert len({s.folder() for s in specs}) == count  # and each its own cache entry


def test_the_smoke_list_is_in_the_order_the_notebooks_first_need_it():
    assert [(s.name, s.protocol, s.seed, s.horizon, s.notebook) for s in fits.specs(SMOKE)] == [
        ("phase1_lstm", "original", 0, 1, "03_baseline_lstm"),
        ("phase1_lstm", "clean", 0, 1, "03_baseline_lstm"),
        ("phase2_large_lstm", "original", 0, 1, "04_lstm_ladder"),
        ("phase2_large_lstm", "clean", 0, 1, "04_lstm_ladder"),
        ("phase3_lstm_res", "original", 0, 1, "04_lstm_ladder"),
        ("phase3_lstm_res", "clean", 0, 1, "04_lstm_ladder"),
        (P4, "original", 0, 1, "05_cnn_lstm"),
        (P4, "original", 1, 1, "05_cnn_lstm"),
        (P4, "clean", 0, 1, "05_cnn_lstm"),
        (P4, "clean", 1, 1, "05_cnn_lstm"),
        (f"{P4}_h2ms", "clean", 0, 2, "06_error_analysis"),
        (f"{P4}_h5ms", "clean", 0, 5, "06_error_analysis"),
        (f"{P4}_h10ms", "clean", 0, 10, "06_error_analysis"),
        (f"{P4}_h20ms", "clean", 0, 20, "06_error_analysis"),
        (fits.NO_RESIDUAL, "clean", 0, 1, "07_interpretability"),
        (fits.SHUFFLED, "clean", 0, 1, "07_interpretability"),
        (fits.SHUFFLED, "clean", 1, 1, "07_interpretability"),
    ]


@pytest.mark.parametrize("profile", [SMOKE, QUICK, PAPER], ids=lambda p: p.name)
def test_the_fan_out_may_wait_for_a_notebook_by_name_order(profile):
    """FanOut.wait_for(nb) waits for `s.notebook <= nb`: the list must never go back to an earlier notebook."""
    notebooks = [s.notebook for s in fits.specs(profile)]
    assert notebooks == sorted(notebooks)
    assert set(notebooks) == {*fits.LADDER_NOTEBOOK.values(), "06_error_analysis", "07_interpretability"}


def test_seeds_count_up_from_the_phases_training_seed():
    """Seed k of a phase trains with TrainConfig.seed + k; find() without a seed gives the first."""
    m, t = SMOKE.phases[P4]
    profile = dataclasses.replace(
        SMOKE, phases={**SMOKE.phases, P4: (m, dataclasses.replace(t, seed=7))}, seeds={P4: 3, "phase2_large_lstm": 2}
    )
    assert [s.seed for s in fits.seeds_of(profile, P4, "original")] == [7, 8, 9]
    assert [s.seed for s in fits.seeds_of(profile, P4, "clean")] == [7, 8, 9]
    assert [s.seed for s in fits.seeds_of(profile, fits.SHUFFLED)] == [7, 8, 9]  # the control has phase 4's seeds
    assert [s.seed for s in fits.seeds_of(profile, "phase2_large_lstm")] == [0, 1]
    assert [s.seed for s in fits.seeds_of(profile, fits.NO_RESIDUAL)] == [7]  # one model, the first seed
    assert [s.seed for s in fits.seeds_of(profile, f"{P4}_h5ms")] == [7]
    assert fits.find(profile, P4).seed == 7 and fits.find(profile, P4, "original", seed=9).seed == 9
    assert fits.find(profile, P4, seed=8).label == f"{P4} (clean, seed 8)"
    assert len(fits.specs(profile)) == _expected_count(profile) == 2 + 4 + 2 + 6 + 4 + 1 + 3


def test_notebook_06_finds_one_fit_per_horizon_in_samples():
    """Notebook 06's loop over the profile's horizons, on a recording every 0.5 ms: names in ms, horizons in samples."""
    profile = dataclasses.replace(
        SMOKE,
        sim=SimConfig(n_runs=4, duration_s=2.0, dt_ms=0.1, record_dt_ms=0.5),
        data=DataConfig(horizons_ms=(0.5, 1, 2.5)),  # the task's own horizon (1 sample) is 0.5 ms here
    )
    found = {}
    for h in profile.data.horizons_ms:  # as notebook 06 names them
        hs = round(h / profile.sim.record_dt_ms)
        name = P4 if hs == profile.data.horizon else f"{P4}_h{h:g}ms"
        found[name] = fits.find(profile, name, "clean").horizon
    assert found == {P4: 1, f"{P4}_h1ms": 2, f"{P4}_h2.5ms": 5}
    assert len(fits.specs(profile)) == _expected_count(profile) == 10 + 2 + 1 + 2


def test_notebook_07s_controls_are_phase_4_switched_off_or_on_shuffled_neurons():
    spec = fits.find(SMOKE, P4)
    no_res = fits.find(SMOKE, fits.NO_RESIDUAL)
    assert (no_res.model_cfg, no_res.train_cfg, no_res.variant) == (
        spec.model_cfg,
        spec.train_cfg,
        (("use_residual", False),),
    )
    assert no_res.dataset_key() == spec.dataset_key()  # the same data...
    assert no_res.folder() == train.cache_folder(
        spec.dataset_key(), spec.model_cfg, spec.train_cfg, {"use_residual": False}
    )
    assert no_res.folder() != spec.folder()  # ...in another cache entry

    shuffled = fits.find(SMOKE, fits.SHUFFLED)
    assert shuffled.perm_seed == SMOKE.analysis.order_seed == 12345 and shuffled.variant == ()
    perm = fits.neuron_order(SMOKE.sim.network.n_neurons, SMOKE.analysis.order_seed)
    assert shuffled.dataset_key() == interpret.permuted_key(spec.dataset_key(), perm) != spec.dataset_key()
    with pytest.raises(KeyError, match=f"{fits.SHUFFLED!r} on the original protocol is not a model"):
        fits.find(SMOKE, fits.SHUFFLED, "original")  # the controls exist on the clean protocol only


def test_the_neuron_order_is_a_fixed_permutation_of_its_seed():
    order = fits.neuron_order(100, 12345)
    assert sorted(order.tolist()) == list(range(100))
    assert np.array_equal(order, fits.neuron_order(100, 12345))
    assert not np.array_equal(order, fits.neuron_order(100, 12346))
    assert not np.array_equal(order, np.arange(100))


def test_the_cache_keys_do_not_change_without_a_config_change():
    """Trained models are cached under these names: a key that moves retrains every model of every user's cache.

    If a change means to move them (a new config field, CACHE_VERSION), update the names here with it.
    """
    keys = _keys(SMOKE)
    assert keys[("phase1_lstm", "original", 0)] == "00f58096ed28"
    assert keys[("phase1_lstm", "clean", 0)] == "c98046ec1844"
    assert keys[(P4, "clean", 1)] == "c3d272fe3b90"
    assert keys[(f"{P4}_h20ms", "clean", 0)] == "c2009ae9bad4"
    assert keys[(fits.NO_RESIDUAL, "clean", 0)] == "78331b520864"
    assert keys[(fits.SHUFFLED, "clean", 0)] == "1565dfbe04e5"
    assert fits.find(SMOKE, "phase1_lstm", "clean").dataset_key() == "e9fb767d52fc"
    assert fits.find(SMOKE, "phase1_lstm", "original").dataset_key() == "69e0b5e7f0d6"


def _changed(before: dict, after: dict) -> set:
    assert before.keys() == after.keys()
    return {k for k in before if before[k] != after[k]}


def test_a_config_change_moves_the_keys_of_the_fits_it_touches_and_only_those():
    base = _keys(SMOKE)
    by_name = lambda *names: {k for k in base if k[0] in names}  # noqa: E731
    phase4_family = by_name(P4, *(f"{P4}_h{h}ms" for h in (2, 5, 10, 20)), fits.NO_RESIDUAL, fits.SHUFFLED)

    m2, t2 = SMOKE.phases["phase2_large_lstm"]
    new_lr = dataclasses.replace(
        SMOKE, phases={**SMOKE.phases, "phase2_large_lstm": (m2, dataclasses.replace(t2, lr=1e-3))}
    )
    assert _changed(base, _keys(new_lr)) == by_name("phase2_large_lstm")  # both protocols, nothing else

    m4, t4 = SMOKE.phases[P4]
    wider = dataclasses.replace(SMOKE, phases={**SMOKE.phases, P4: (dataclasses.replace(m4, hidden=32), t4)})
    assert _changed(base, _keys(wider)) == phase4_family  # 4 + 4 horizons + no-residual + 2 shuffled
    assert len(phase4_family) == 11

    reordered = dataclasses.replace(SMOKE, analysis=dataclasses.replace(SMOKE.analysis, order_seed=1))
    assert _changed(base, _keys(reordered)) == by_name(fits.SHUFFLED)

    # the rollout windows of notebook 06 and the staircase's sizes are read by no training
    other = dataclasses.replace(SMOKE, analysis=dataclasses.replace(SMOKE.analysis, rollout_windows=65))
    assert _changed(base, _keys(other)) == set()
    assert (
        _changed(base, _keys(dataclasses.replace(SMOKE, beyond=dataclasses.replace(SMOKE.beyond, hidden=8)))) == set()
    )

    noisier = dataclasses.replace(SMOKE, data=dataclasses.replace(SMOKE.data, meas_noise_mv=0.3))
    assert _changed(base, _keys(noisier)) == set(base)  # every dataset is cut anew
    longer = dataclasses.replace(SMOKE, sim=dataclasses.replace(SMOKE.sim, n_runs=5))
    assert _changed(base, _keys(longer)) == set(base)


def test_more_seeds_keep_the_other_keys_and_a_dropped_horizon_drops_its_fit():
    base = _keys(SMOKE)
    more = _keys(dataclasses.replace(SMOKE, seeds={P4: 3}))
    assert set(more) - set(base) == {(P4, "original", 2), (P4, "clean", 2), (fits.SHUFFLED, "clean", 2)}
    assert all(more[k] == v for k, v in base.items())  # seeds 0 and 1 keep their trained models

    fewer = _keys(dataclasses.replace(SMOKE, data=dataclasses.replace(SMOKE.data, horizons_ms=(1, 2, 5, 10))))
    assert set(base) - set(fewer) == {(f"{P4}_h20ms", "clean", 0)} and set(fewer) < set(base)
    # today the horizons are a field of DataConfig, which the dataset key hashes whole: every other key moves
    # (every model retrains), although no dataset depends on the list of the other horizons
    assert _changed({k: base[k] for k in fewer}, fewer) == set(fewer)


def test_an_unknown_model_is_refused_with_every_name_of_the_profile():
    with pytest.raises(KeyError) as err:
        fits.find(SMOKE, "phase5_transformer")
    names = sorted({s.name for s in fits.specs(SMOKE)})
    assert len(names) == 4 + 4 + 2
    assert err.value.args[0] == (
        f"'phase5_transformer' on the clean protocol is not a model of profile 'smoke'. Expected one of {names}; "
        "a new model is added to voltlib.forecast.fits.specs, so that the fan-out trains it too."
    )
    with pytest.raises(KeyError) as err:
        fits.find(QUICK, P4, "original", seed=3)
    assert err.value.args[0] == (
        f"{P4} (original) has no seed 3 in profile 'quick': its seeds are [0, 1, 2] (profile.seeds sets how many)."
    )


def test_a_fit_refuses_the_dataset_of_another_spec_before_training():
    spec = fits.find(SMOKE, "phase1_lstm", "clean")
    wrong = SimpleNamespace(key="0123456789ab", protocol="original", train=SimpleNamespace(horizon=3))
    with pytest.raises(ValueError) as err:
        spec.fit_or_load(wrong)
    assert str(err.value) == (
        f"phase1_lstm (clean, seed 0) learns from the dataset {spec.dataset_key()}, but was given 0123456789ab "
        "(original protocol, horizon 3). Pass spec.dataset(sim) (the protocol, horizon and "
        "neuron order of the spec)."
    )
    assert callable(spec.dataset)  # the way out the message names exists
    # load picks the spec by the dataset's protocol and the seed asked for (here: the wrong key stops it)
    with pytest.raises(ValueError, match=r"^phase4_cnn_lstm \(original, seed 1\) learns from"):
        fits.load(SMOKE, P4, wrong, seed=1)


def test_on_an_empty_cache_every_fit_is_missing_in_list_order(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "MODELS", tmp_path / "models")
    assert fits.missing(SMOKE) == fits.specs(SMOKE)
    spec = fits.find(SMOKE, "phase3_lstm_res", "original")
    spec.folder().mkdir(parents=True)
    (spec.folder() / "model.safetensors").write_bytes(b"cut short before info.json")  # an interrupted write
    assert spec.damage() is None and not spec.is_cached()
    assert len(fits.missing(SMOKE)) == 17

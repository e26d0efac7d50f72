"""Config validation, profiles and the stable hash that names cached artifacts."""

import dataclasses
import math
import re

import numpy as np
import pytest

from voltlib.config import (
    PHASES,
    AnalysisConfig,
    CeilingConfig,
    ConfigError,
    DataConfig,
    ModelConfig,
    NetworkConfig,
    SimConfig,
    TrainConfig,
    config_hash,
    get_profile,
    notebook_profile,
    paper_phases,
    to_dict,
)

CONFIGS = (NetworkConfig, SimConfig, DataConfig, ModelConfig, TrainConfig, CeilingConfig, AnalysisConfig)


def test_external_rate_is_threshold_rate():
    # nu_thr = (theta - E_L) / (J * C_E * tau) = 20 mV / (0.5 mV * 8 * 10 ms) = 500 Hz
    assert NetworkConfig().nu_ext_hz == pytest.approx(500.0)
    assert NetworkConfig().c_e == pytest.approx(8.0)


def test_unknown_profile_names_the_allowed_ones_and_what_to_do():
    with pytest.raises(
        ConfigError,
        match=r"^profile='fast' is invalid: expected one of 'smoke', 'quick', "
        r"'paper'\. Pass PROFILE=smoke\|quick\|paper to make",
    ):
        get_profile("fast")


@pytest.mark.parametrize("profile, kind", [(["quick"], "list"), (3, "int"), (None, "NoneType")])
def test_a_profile_that_is_no_string_fails_with_a_message_not_a_type_error(profile, kind):
    expected = f"profile={profile!r} is invalid: expected one of 'smoke', 'quick', 'paper' (a string, not a {kind})"
    with pytest.raises(ConfigError, match="^" + re.escape(expected)):
        notebook_profile(profile, None)


def test_notebook_parameters_are_checked_and_name_the_profile():
    assert notebook_profile("smoke") is get_profile("smoke")
    assert notebook_profile("quick", "cpu") is get_profile("quick")
    for device in (3, ["cpu"], True):  # papermill's `-p device 3` injects the int 3
        with pytest.raises(
            ConfigError,
            match=f"^{re.escape(f'device={device!r}')} is invalid: expected None "
            r".*'cuda:1'.*pass a name to papermill \(-p device cpu\)",
        ):
            notebook_profile("smoke", device)


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: ModelConfig(kind="transformer"), "model.kind"),
        (lambda: DataConfig(horizon=0), "data.horizon"),
        (lambda: DataConfig(split_fractions=(0.7, 0.2, 0.2)), "data.split_fractions"),
        (lambda: SimConfig(dt_ms=0.1, record_dt_ms=0.25), "sim.record_dt_ms"),
        (lambda: TrainConfig(plateau_factor=1.5), "train.plateau_factor"),
        (lambda: NetworkConfig(p_connect=0.0), "network.p_connect"),
    ],
)
def test_invalid_values_fail_naming_the_field(make, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        make()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: SimConfig(duration_s=math.inf), "sim.duration_s=inf is invalid: expected a finite number"),
        (lambda: SimConfig(dt_ms=math.nan), "sim.dt_ms=nan is invalid: expected a finite number"),
        (lambda: SimConfig(duration_s="10"), "sim.duration_s='10' is invalid: expected a finite number"),
        (lambda: SimConfig(n_runs=2.5), "sim.n_runs=2.5 is invalid: expected an integer"),
        (lambda: SimConfig(n_runs=True), "sim.n_runs=True is invalid: expected an integer"),
        (lambda: ModelConfig(hidden=16.7), "model.hidden=16.7 is invalid: expected an integer"),
        (lambda: ModelConfig(kind=3), "model.kind=3 is invalid: expected a string"),
        (lambda: SimConfig(network="x"), "sim.network='x' is invalid: expected a NetworkConfig"),
        (lambda: TrainConfig(max_train_windows=0), "train.max_train_windows=0 is invalid: expected an integer >= 1"),
        (lambda: TrainConfig(max_train_windows=-5), "train.max_train_windows=-5 is invalid"),
        (lambda: TrainConfig(max_eval_windows=0), "train.max_eval_windows=0 is invalid"),
        (
            lambda: TrainConfig(max_train_windows=2.5),
            "train.max_train_windows=2.5 is invalid: expected an integer or None",
        ),
        (lambda: TrainConfig(clip_norm=0.0), "train.clip_norm=0.0 is invalid: expected a positive number"),
        (lambda: TrainConfig(min_lr=-1e-5), "train.min_lr=-1e-05 is invalid: expected a number >= 0"),
        (lambda: TrainConfig(min_lr=1e-2), "train.min_lr=0.01 is invalid: expected a floor at or below lr=0.003"),
        (lambda: TrainConfig(plateau_patience=-1), "train.plateau_patience=-1 is invalid: expected an integer >= 0"),
        (lambda: TrainConfig(seed=-1), "train.seed=-1 is invalid: expected an integer >= 0"),
        (lambda: NetworkConfig(noise_mv=-0.5), "network.noise_mv=-0.5 is invalid: expected a number >= 0"),
        (lambda: NetworkConfig(g=0.0), "network.g=0.0 is invalid: expected a positive number"),
        (lambda: NetworkConfig(g=-5.5), "network.g=-5.5 is invalid"),
        (
            lambda: NetworkConfig(v_reset_mv=-50.0),
            "network.v_reset_mv=-50.0 is invalid: expected a reset below theta_mv",
        ),
        (lambda: CeilingConfig(n_test_runs=0), "ceiling.n_test_runs=0 is invalid: expected an integer >= 1"),
        (lambda: DataConfig(horizons_ms=()), "data.horizons_ms=() is invalid: expected one or more positive numbers"),
        (
            lambda: DataConfig(horizons_ms=[1, 2]),
            "data.horizons_ms=[1, 2] is invalid: expected a tuple of finite numbers",
        ),
        (
            lambda: dataclasses.replace(get_profile("smoke"), ceiling=CeilingConfig(horizons_ms=(1, 2.5))),
            "ceiling.horizons_ms=(1, 2.5) is invalid: expected whole multiples of sim.record_dt_ms=1",
        ),
        (
            lambda: dataclasses.replace(get_profile("smoke"), phases={**paper_phases(), "phase1_lstm": ModelConfig()}),
            "profile.phases['phase1_lstm']=ModelConfig(...) is invalid: expected a pair (ModelConfig, TrainConfig)",
        ),
    ],
)
def test_meaningless_values_fail_saying_what_was_expected(make, message):
    # "..." in a message stands for any text
    with pytest.raises(ConfigError, match="^" + ".*".join(map(re.escape, message.split("..."))) + ".*Fix the value"):
        make()


@pytest.mark.parametrize("cls", CONFIGS)
def test_every_field_rejects_a_value_of_the_wrong_kind(cls):
    # the rule follows each field's declared type, so a field added later is covered without a new check
    wrong = {
        int: (2.5, 3.0, True, "3", math.nan),
        float: (math.nan, math.inf, -math.inf, "1.0", True, None),
        str: (3, None),
        tuple: ([1], (1, math.nan), ("1",), 1),
        type(None): (2.5, True, "3"),
    }
    tried = set()
    for f in dataclasses.fields(cls):
        default = getattr(cls(), f.name)
        for bad in wrong.get(type(default), ()):
            with pytest.raises(ConfigError, match=rf"^{cls.__name__.removesuffix('Config').lower()}\.{f.name}="):
                cls(**{f.name: bad})
            tried.add(f.name)
    # a field of a new kind (a bool, a list) fails here until `wrong` gets values for it
    assert tried == {f.name for f in dataclasses.fields(cls) if not dataclasses.is_dataclass(getattr(cls(), f.name))}


@pytest.mark.parametrize(
    "make",
    [
        lambda: TrainConfig(
            weight_decay=0.0,
            warmup_epochs=0,
            min_lr=0.0,
            plateau_patience=0,
            min_delta=0.0,
            warmup_start_lr=0.0,
            max_train_windows=None,
            max_eval_windows=None,
            seed=0,
        ),
        lambda: NetworkConfig(noise_mv=0.0, v0_sd_mv=0.0, c_ext=0, n_inh=0),
        lambda: DataConfig(discard_ms=0, meas_noise_mv=0.0, noise_seed=0, split_seed=0, horizons_ms=(1,)),
        lambda: SimConfig(n_runs=np.int64(3), duration_s=np.float32(1.5), seed_base=0),
        lambda: CeilingConfig(n_test_runs=1, seed=0),
    ],
)
def test_zero_none_and_numpy_numbers_stay_valid_where_they_mean_something(make):
    make()


def test_the_profiles_build_with_the_hashes_that_name_their_caches():
    # Pinned before the type and range checks and the analysis section were added: neither may change
    # the hash of a part that names a cache (simulations by sim, datasets by data, the ceiling by
    # ceiling, trained models by their phase's model and training configs).
    parts = {
        n: [config_hash(p.sim), config_hash(p.data), config_hash(p.ceiling)]
        + [config_hash(*p.phases[k]) for k in sorted(p.phases)]
        for n, p in ((n, get_profile(n)) for n in ("smoke", "quick", "paper"))
    }
    assert parts == {
        "smoke": [
            "fea9b654011c",
            "66db6ddad376",
            "5c4dbc067ecf",
            "d31ed5d8ed08",
            "98091fa6a7d9",
            "83569b068233",
            "deda88d90bad",
        ],
        "quick": [
            "5f48f12382b6",
            "66db6ddad376",
            "8bdbce904d7c",
            "22e2c5df2861",
            "bbc5b6080d19",
            "a536de1e04cc",
            "2791166e19ce",
        ],
        "paper": [
            "5f48f12382b6",
            "66db6ddad376",
            "0a0f301915da",
            "76b6885d142b",
            "c09a63f85d55",
            "2d60d24e0eb6",
            "5296b283c939",
        ],
    }


def test_every_profile_has_its_own_analysis_budget():
    budgets = [get_profile(n).analysis for n in ("smoke", "quick", "paper")]
    assert [a.rollout_windows for a in budgets] == [64, 1000, 4000]
    assert all(a.perm_windows <= a.eval_windows for a in budgets)
    with pytest.raises(ConfigError, match="analysis.eval_windows=0 is invalid"):
        AnalysisConfig(eval_windows=0)


def test_hash_is_stable_across_sessions():
    # Pinned: if this changes, every cached simulation and model is silently orphaned.
    assert config_hash(NetworkConfig()) == config_hash(NetworkConfig())
    assert config_hash(SimConfig()) == "5f48f12382b6"


def test_hash_changes_with_any_field():
    base = SimConfig()
    assert config_hash(base) != config_hash(dataclasses.replace(base, duration_s=9.0))
    changed_net = dataclasses.replace(base, network=dataclasses.replace(base.network, g=5.0))
    assert config_hash(base) != config_hash(changed_net)


def test_profiles_share_the_network_and_differ_in_scale():
    smoke, quick, paper = (get_profile(n) for n in ("smoke", "quick", "paper"))
    assert smoke.sim.network == quick.sim.network == paper.sim.network == NetworkConfig()
    assert quick.sim == paper.sim == SimConfig()  # quick uses the full 50 x 10 s data
    assert (smoke.sim.n_runs, smoke.sim.duration_s) == (4, 2.0)
    assert set(paper.phases) == set(PHASES)
    assert paper.phases == paper_phases()


def test_paper_phases_are_the_sources():
    p = paper_phases()
    assert [p[k][0].hidden for k in PHASES] == [256, 512, 384, 384]
    assert [p[k][0].layers for k in PHASES] == [2, 3, 2, 2]
    assert [p[k][1].lr for k in PHASES] == [1e-3, 5e-3, 2e-3, 3e-3]
    assert [p[k][1].weight_decay for k in PHASES] == [0.0, 1e-4, 5e-5, 1e-4]
    assert p["phase1_lstm"][1].plateau_factor == 0.5 and p["phase1_lstm"][1].early_stop == 10
    assert p["phase4_cnn_lstm"][1].plateau_factor == 0.7 and p["phase4_cnn_lstm"][1].early_stop == 20


def test_ms_to_samples_rounds_to_the_nearest_sample():
    from voltlib.config import ms_to_samples

    assert ms_to_samples(0.3, 0.1) == 3  # 0.3 / 0.1 is 2.9999999999999996: int() alone would give 2
    assert ms_to_samples(800, 1.0) == 800 and ms_to_samples(2.5, 1.0) == 2  # (half to even)
    assert SimConfig(duration_s=10.0, record_dt_ms=1.0).n_samples == 10_000


def test_the_drive_is_a_ratio_to_the_threshold_rate_and_the_source_keeps_its_hash():
    net = NetworkConfig()
    assert net.nu_thr_hz == pytest.approx(500.0)  # 20 mV / (0.5 mV x 8 x 10 ms)
    assert net.nu_ext_hz == pytest.approx(500.0)  # the source's drive: nu_ext = nu_thr
    half = dataclasses.replace(net, nu_ratio=0.5, j_mv=2.0)
    assert half.nu_thr_hz == pytest.approx(125.0) and half.nu_ext_hz == pytest.approx(62.5)
    # the default ratio is left out of the hash (the pinned hashes above hold), any other value is in it
    assert config_hash(dataclasses.replace(net, nu_ratio=1.0)) == config_hash(net)
    assert config_hash(dataclasses.replace(net, nu_ratio=1.5)) != config_hash(net)
    assert NetworkConfig(nu_ratio=0).nu_ext_hz == 0.0  # no external drive is a valid model
    for bad in (-0.5, float("nan"), True):
        with pytest.raises(ConfigError, match="network.nu_ratio"):
            NetworkConfig(nu_ratio=bad)


def test_the_observers_settings_are_checked_and_left_out_of_the_profile_hash_at_their_default():
    from voltlib.config import ObserverConfig, Profile

    for bad, name in (
        ({"n_particles": 1}, "observer.n_particles"),
        ({"n_members": 1}, "observer.n_members"),
        ({"check_particles": ()}, "check_particles"),
        ({"burn_in_ms": 0.0}, "burn_in_ms"),
        ({"distributional_member": "oracle"}, "observer.distributional_member"),
        ({"quantiles": 1}, "observer.quantiles"),
    ):
        with pytest.raises(ConfigError, match=name):
            ObserverConfig(**bad)
    quick = get_profile("quick")
    assert isinstance(quick, Profile) and quick.observer == ObserverConfig()
    other = dataclasses.replace(quick, observer=ObserverConfig(n_particles=512))
    assert config_hash(dataclasses.replace(quick, observer=ObserverConfig())) == config_hash(quick)
    assert config_hash(other) != config_hash(quick)
    # the distributional member's settings, added later, leave the smoke profile's hash where it was
    smoke = get_profile("smoke")
    assert to_dict(smoke.observer, for_hash=True).keys().isdisjoint({"distributional_member", "quantiles"})
    assert config_hash(dataclasses.replace(quick, observer=ObserverConfig(quantiles=32))) != config_hash(quick)

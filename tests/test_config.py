"""Config validation, profiles and the stable hash that names cached artifacts."""
import dataclasses

import pytest

from voltlib.config import (PHASES, ConfigError, DataConfig, ModelConfig, NetworkConfig, SimConfig,
                            TrainConfig, config_hash, get_profile, paper_phases)


def test_external_rate_is_threshold_rate():
    # nu_thr = (theta - E_L) / (J * C_E * tau) = 20 mV / (0.5 mV * 8 * 10 ms) = 500 Hz
    assert NetworkConfig().nu_ext_hz == pytest.approx(500.0)
    assert NetworkConfig().c_e == pytest.approx(8.0)


def test_unknown_profile_names_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"unknown profile 'fast'.*\['paper', 'quick', 'smoke'\]"):
        get_profile("fast")


@pytest.mark.parametrize("make, field", [
    (lambda: ModelConfig(kind="transformer"), "model.kind"),
    (lambda: DataConfig(horizon=0), "data.horizon"),
    (lambda: DataConfig(split_fractions=(0.7, 0.2, 0.2)), "data.split_fractions"),
    (lambda: SimConfig(dt_ms=0.1, record_dt_ms=0.25), "sim.record_dt_ms"),
    (lambda: TrainConfig(plateau_factor=1.5), "train.plateau_factor"),
    (lambda: NetworkConfig(p_connect=0.0), "network.p_connect"),
])
def test_invalid_values_fail_naming_the_field(make, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        make()


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
    assert quick.sim == paper.sim == SimConfig()             # quick uses the full 50 x 10 s data
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

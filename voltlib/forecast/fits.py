"""Every model a profile trains, as plain specs: the one list the fan-out and the notebooks share.

A `FitSpec` holds everything a training needs except the data (the configs, the protocol and
horizon of its dataset, a neuron permutation, ablation switches, the training seed), and names the
notebook that first reads it. Its cache folder is the one `train.fit_or_load` uses, so a fit trained
by the fan-out (voltlib.workflow.fanout, on Dask workers) is what the notebook then loads, and a notebook run
alone (JupyterLab, an empty cache) trains it in-process with the same result.

Notebooks get their models through `load` (or `ladder.run_phases`, which calls it): a model that is
not in `specs(profile)` is refused with a message, so the list cannot fall behind the notebooks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voltlib.config import (
    PHASES,
    PROTOCOLS,
    DataConfig,
    ModelConfig,
    Profile,
    SimConfig,
    TrainConfig,
    ms_to_samples,
)
from voltlib.forecast.data import Dataset, dataset_key, make_dataset
from voltlib.forecast.interpret import permute_dataset, permuted_key
from voltlib.forecast.train import ENTRY, archived_entry, cache_folder, check_variant, fit_or_load
from voltlib.store import announce, remove, verify

CACHE_ENTRY = ENTRY  # the files train.save_trained writes, info last

# the notebook that first trains (or loads) each phase of the ladder
LADDER_NOTEBOOK = {
    "phase1_lstm": "03_baseline_lstm",
    "phase2_large_lstm": "04_lstm_ladder",
    "phase3_lstm_res": "04_lstm_ladder",
    "phase4_cnn_lstm": "05_cnn_lstm",
}
SHUFFLED = "phase4_cnn_lstm_shuffled_neurons"
NO_RESIDUAL = "phase4_cnn_lstm_no_residual"
# the trainings `make products` trains and archives (results/archive/<profile>/fits/): the build reads them
# there and never trains them. The shuffled-order control's seeds (notebook 07): about 7 minutes of a worker
# at quick that are no verdict of the ladder's, moved off the quick build to keep it within its 30 minutes.
ARCHIVED = (SHUFFLED,)


@dataclass(frozen=True)
class FitSpec:
    """One training: configs, the dataset it learns from, and what makes it a variant."""

    name: str  # the model's name in records and messages (a phase, or phase 4 with a suffix)
    model_cfg: ModelConfig
    train_cfg: TrainConfig  # its seed is this fit's training seed
    sim_cfg: SimConfig  # of the simulation the dataset is cut from
    data_cfg: DataConfig
    protocol: str
    horizon: int  # samples
    notebook: str  # the first notebook that needs it (the fan-out trains in this order)
    perm_seed: int | None = None  # neurons permuted by neuron_order(n, perm_seed) (the shuffled control)
    variant: tuple = ()  # ablation switches as (name, on) pairs, e.g. (("use_residual", False),)

    @property
    def seed(self) -> int:
        return self.train_cfg.seed

    @property
    def label(self) -> str:
        """How messages name it: 'phase4_cnn_lstm (clean, seed 1)'."""
        return f"{self.name} ({self.protocol}, seed {self.seed})"

    def dataset_key(self) -> str:
        key = dataset_key(self.sim_cfg, self.data_cfg, self.protocol, self.horizon)
        if self.perm_seed is not None:
            key = permuted_key(key, neuron_order(self.sim_cfg.network.n_neurons, self.perm_seed))
        return key

    def folder(self) -> Path:
        """The cache folder of this training (train.cache_folder's)."""
        return cache_folder(self.dataset_key(), self.model_cfg, self.train_cfg, dict(self.variant) or None)

    def is_cached(self) -> bool:
        """True if its cache entry is complete (info written last) and its files match their checksums."""
        return self.damage() is None and (self.folder() / "info.json").is_file()

    def archived(self) -> Path | None:
        """The committed archive's intact copy of this training (train.archived_entry), or None."""
        return archived_entry(self.folder())

    def damage(self) -> tuple[Path, str] | None:
        """(file, what is wrong) of the first damaged file of a complete cache entry; None if intact or absent."""
        folder = self.folder()
        if not (folder / "info.json").is_file():
            return None  # not trained yet (or its write was cut short before info, written last)
        for name in CACHE_ENTRY:
            problem = verify(folder / name)
            if problem is not None:
                return folder / name, problem
        return None

    def dataset(self, sim) -> Dataset:
        """Cuts this fit's dataset from a Simulation (what a worker does with the simulation it was sent)."""
        ds = make_dataset(sim, self.data_cfg, self.protocol, self.horizon)
        if self.perm_seed is not None:
            ds = permute_dataset(ds, neuron_order(ds.std_mv.shape[0], self.perm_seed))
        return ds

    def fit_or_load(self, dataset: Dataset, device=None, progress: bool = False):
        """train.fit_or_load for this spec on its dataset (checked to be the spec's)."""
        if dataset.key != self.dataset_key():
            raise ValueError(
                f"{self.label} learns from the dataset {self.dataset_key()}, but was given {dataset.key} "
                f"({dataset.protocol} protocol, horizon {dataset.train.horizon}). Pass "
                "spec.dataset(sim) (the protocol, horizon and neuron order of the spec)."
            )
        return fit_or_load(
            self.name, self.model_cfg, self.train_cfg, dataset, device, progress, dict(self.variant) or None
        )


def neuron_order(n: int, seed: int) -> np.ndarray:
    """The fixed permutation of the shuffled-neuron-order control: new neuron j is old neuron order[j]."""
    return np.random.default_rng(seed).permutation(n)


def specs(profile: Profile) -> list[FitSpec]:
    """Every training the profile's notebooks read, in the order they first need them."""
    out = []

    def add(name, phase, protocol="clean", horizon=None, notebook=None, seed=None, **kw):
        model_cfg, train_cfg = profile.phases[phase]
        if seed is not None:
            train_cfg = dataclasses.replace(train_cfg, seed=seed)
        variant = kw.pop("variant", {})
        check_variant(variant)
        out.append(
            FitSpec(
                name,
                model_cfg,
                train_cfg,
                profile.sim,
                profile.data,
                protocol,
                profile.data.horizon if horizon is None else horizon,
                notebook or LADDER_NOTEBOOK[phase],
                variant=tuple(sorted(variant.items())),
                **kw,
            )
        )

    for phase in PHASES:
        for protocol in PROTOCOLS:
            for seed in profile.train_seeds(phase):
                add(phase, phase, protocol, seed=seed)
    p4 = "phase4_cnn_lstm"
    for h_ms in profile.data.horizons_ms:
        h = ms_to_samples(h_ms, profile.sim.record_dt_ms)
        if h != profile.data.horizon:
            add(f"{p4}_h{h_ms:g}ms", p4, horizon=h, notebook="06_error_analysis")
    add(NO_RESIDUAL, p4, notebook="07_interpretability", variant={"use_residual": False})
    for seed in profile.train_seeds(p4):
        add(SHUFFLED, p4, notebook="07_interpretability", seed=seed, perm_seed=profile.analysis.order_seed)
    return out


def find(profile: Profile, name: str, protocol: str = "clean", seed: int | None = None) -> FitSpec:
    """The spec of one model of the profile: by name, protocol and seed (default: the phase's first)."""
    found = [s for s in specs(profile) if s.name == name and s.protocol == protocol]
    if not found:
        names = sorted({s.name for s in specs(profile)})
        raise KeyError(
            f"{name!r} on the {protocol} protocol is not a model of profile {profile.name!r}. Expected one of "
            f"{names}; a new model is added to voltlib.forecast.fits.specs, so that the fan-out trains it too."
        )
    if seed is None:
        return found[0]
    for s in found:
        if s.seed == seed:
            return s
    raise KeyError(
        f"{name} ({protocol}) has no seed {seed} in profile {profile.name!r}: its seeds are "
        f"{[s.seed for s in found]} (profile.seeds sets how many)."
    )


def seeds_of(profile: Profile, name: str, protocol: str = "clean") -> list[FitSpec]:
    """Every seed's spec of one model, in seed order."""
    return [s for s in specs(profile) if s.name == name and s.protocol == protocol]


def load(profile: Profile, name: str, dataset: Dataset, device=None, seed: int | None = None, progress=False):
    """(model, info) of one listed model on its dataset: from the cache, else trained here (fit_or_load)."""
    return find(profile, name, dataset.protocol, seed).fit_or_load(dataset, device, progress)


def archived_specs(profile: Profile) -> list[FitSpec]:
    """The specs of the profile that `make products` trains and archives (ARCHIVED)."""
    return [s for s in specs(profile) if s.name in ARCHIVED]


def missing(profile: Profile) -> list[FitSpec]:
    """The specs whose cache entry is not complete and intact, nor archived (what a fan-out has to train).

    A damaged entry is said in one line and removed here, so the fan-out retrains it where it trains
    every fit (on one thread, as train.FIT_THREADS), not the notebook that would have found it.
    """
    todo = []
    for spec in specs(profile):
        damaged = spec.damage()
        if damaged is not None:
            announce(*damaged, "retraining it on the fan-out")
            for name in CACHE_ENTRY:
                remove(spec.folder() / name)
        if not spec.is_cached() and spec.archived() is None:
            todo.append(spec)
    return todo

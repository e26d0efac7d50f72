"""The training loop against METHODS.md section 6: warm-up, plateau, early stopping, resume, determinism, cache."""

import shutil

import numpy as np
import pytest
import torch
from support import MODEL, WINDOW, N, StandInDataset

from voltlib import paths, store
from voltlib.config import ModelConfig, TrainConfig
from voltlib.forecast import train as tr
from voltlib.forecast.models import build_model

CFG = TrainConfig(lr=3e-3, batch_size=32, warmup_epochs=2, max_epochs=4, max_train_windows=120, seed=3)


@pytest.fixture(scope="module")
def ds():
    return StandInDataset()


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "MODELS", tmp_path / "models")
    return tmp_path / "models"


def _fresh(cfg=CFG):
    torch.manual_seed(cfg.seed)
    return build_model(MODEL, WINDOW, N)


def test_warmup_is_linear_then_hands_over():
    cfg = TrainConfig(lr=3e-3, warmup_start_lr=5e-6, warmup_epochs=5)
    assert tr.warmup_lr(cfg, 0) == pytest.approx(5e-6)
    assert tr.warmup_lr(cfg, 2) == pytest.approx(5e-6 + 2 / 5 * (3e-3 - 5e-6))  # 1.203e-3
    assert tr.warmup_lr(cfg, 4) == pytest.approx(2.401e-3)
    assert tr.warmup_lr(cfg, 5) == pytest.approx(3e-3)
    assert tr.warmup_lr(cfg, 6) is None
    assert tr.warmup_lr(TrainConfig(lr=1e-3, warmup_epochs=0), 0) == pytest.approx(1e-3)


def test_early_stopping_on_a_scripted_sequence():
    stop = tr.EarlyStopping(patience=3, min_delta=0.01)
    seq = [1.0, 0.9, 0.895, 0.85, 0.86, 0.845, 0.849, 0.5]
    for epoch, v in enumerate(seq):
        stop.step(v, epoch)
        if stop.stop:
            break
    # 0.895 and 0.845 improve by less than min_delta; three bad epochs after the best (0.85, epoch 3)
    assert (epoch, stop.best_epoch, stop.best) == (6, 3, 0.85)


def test_loop_follows_warmup_plateau_and_early_stop(ds, monkeypatch):
    seq = iter([1.0, 0.8, 0.7, 0.7, 0.7, 0.7, 0.65, 0.9, 0.9, 0.9, 0.9, 0.9])
    monkeypatch.setattr(tr, "mse", lambda *a, **k: next(seq))
    cfg = TrainConfig(
        lr=1e-2,
        warmup_start_lr=1e-3,
        warmup_epochs=2,
        plateau_factor=0.5,
        plateau_patience=1,
        min_lr=1e-5,
        early_stop=4,
        max_epochs=50,
        max_train_windows=32,
        batch_size=32,
    )
    res = tr.train(_fresh(), cfg, ds.train, ds.val, torch.device("cpu"))
    lrs = [h["lr"] for h in res["history"]]
    # warm-up 1e-3, 5.5e-3; then 1e-2 until two epochs without a new plateau best (0.7 at 3, 4), halve
    assert lrs[:6] == pytest.approx([1e-3, 5.5e-3, 1e-2, 1e-2, 1e-2, 5e-3])
    # best 0.65 at epoch 7 (1-based), then four bad epochs: stop after epoch 11
    assert (res["best_epoch"], res["epochs"]) == (7, 11)


def test_best_weights_are_restored(ds, monkeypatch):
    seq = iter([1.0, 0.5, 0.9, 0.9])
    monkeypatch.setattr(tr, "mse", lambda *a, **k: next(seq))
    snapshots = []
    real_step = tr.EarlyStopping.step

    def spy(self, v, epoch):
        snapshots.append({k: t.clone() for k, t in model.state_dict().items()})
        return real_step(self, v, epoch)

    monkeypatch.setattr(tr.EarlyStopping, "step", spy)
    model = _fresh()
    tr.train(model, CFG, ds.train, ds.val, torch.device("cpu"))
    final = model.state_dict()
    assert all(torch.equal(final[k], snapshots[1][k]) for k in final)
    assert not torch.equal(final["out.weight"], snapshots[3]["out.weight"])


def test_subsamples_are_seeded_per_epoch():
    cfg = TrainConfig(max_train_windows=50, max_eval_windows=40, seed=1)
    e0, e1 = tr.epoch_windows(cfg, 500, 0), tr.epoch_windows(cfg, 500, 1)
    assert len(e0) == 50 and len(set(e0)) == 50 and not np.array_equal(e0, e1)
    assert np.array_equal(e0, tr.epoch_windows(cfg, 500, 0))
    assert np.array_equal(tr.eval_windows(cfg, 300), tr.eval_windows(cfg, 300)) and len(tr.eval_windows(cfg, 300)) == 40
    assert len(tr.epoch_windows(TrainConfig(), 500, 0)) == 500


def test_deterministic_and_resume_ends_where_uninterrupted_ends(ds, tmp_path):
    cpu = torch.device("cpu")
    a, b, c = _fresh(), _fresh(), _fresh()
    ra = tr.train(a, CFG, ds.train, ds.val, cpu)
    tr.train(b, CFG, ds.train, ds.val, cpu)
    ck = tmp_path / "checkpoint.pt"
    first = tr.train(c, CFG, ds.train, ds.val, cpu, checkpoint=ck, stop_after=2)
    assert first["interrupted"] and first["epochs"] == 2
    torch.load(ck, weights_only=True)  # a checkpoint is data, never code
    c = _fresh()  # a new process would start from scratch
    rc = tr.train(c, CFG, ds.train, ds.val, cpu, checkpoint=ck)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
        assert torch.equal(v, c.state_dict()[k]), k
    assert [h["val_loss"] for h in rc["history"]] == [h["val_loss"] for h in ra["history"]]
    assert ra["history"][0]["val_loss"] > ra["history"][-1]["val_loss"]  # it learns


def test_fit_or_load_caches_and_a_changed_config_retrains(ds, cache):
    model, info = tr.fit_or_load("p4", MODEL, CFG, ds, device="cpu")
    assert not info["cached"] and info["epochs"] == 4 and info["params"] > 0 and info["device"].startswith("cpu")
    assert len(info["history"]) == 4 and {"train_loss", "val_loss", "lr", "seconds"} <= set(info["history"][0])
    folder = cache / tr.model_key(ds.key, MODEL, CFG)
    assert (folder / "model.safetensors").exists() and not (folder / "checkpoint.pt").exists()
    again, info2 = tr.fit_or_load("p4", MODEL, CFG, ds, device="cpu")
    assert info2["cached"] and info2["history"] == info["history"]
    assert np.array_equal(tr.predict(model, ds.test), tr.predict(again, ds.test))
    changed = TrainConfig(**{**CFG.__dict__, "lr": 2e-3})
    assert tr.model_key(ds.key, MODEL, changed) != tr.model_key(ds.key, MODEL, CFG)
    assert tr.model_key("other-data", MODEL, CFG) != tr.model_key(ds.key, MODEL, CFG)
    assert tr.model_key(ds.key, ModelConfig("cnn_lstm", hidden=9), CFG) != tr.model_key(ds.key, MODEL, CFG)
    _, info3 = tr.fit_or_load("p4", MODEL, TrainConfig(**{**CFG.__dict__, "max_epochs": 1}), ds, device="cpu")
    assert not info3["cached"] and info3["epochs"] == 1


def test_an_archived_training_is_loaded_not_trained_and_only_an_intact_one(ds, cache, tmp_path, monkeypatch):
    model, info = tr.fit_or_load("p4", MODEL, CFG, ds, device="cpu")
    folder = cache / tr.model_key(ds.key, MODEL, CFG)
    archive = tmp_path / "results" / "archive"
    monkeypatch.setattr(paths, "ARCHIVE", archive)
    copy = archive / "quick" / tr.ARCHIVED_FITS / folder.name
    shutil.copytree(folder, copy)  # what `make products` writes: the cache entry's files with their checksums
    shutil.rmtree(folder)
    assert tr.archived_entry(folder) == copy
    loaded, info2 = tr.fit_or_load("p4", MODEL, CFG, ds, device="cpu")
    assert info2["cached"] and info2["archived"] == "results/archive/quick/fits/" + folder.name
    assert np.array_equal(tr.predict(model, ds.test), tr.predict(loaded, ds.test))
    assert not folder.exists()  # read where it is: nothing copied into the cache
    # damaged weights are not read: the training is done again and cached, the committed copy left as it is
    (copy / "model.safetensors").write_bytes(b"\0" + (copy / "model.safetensors").read_bytes()[1:])
    assert tr.archived_entry(folder) is None
    _, info3 = tr.fit_or_load("p4", MODEL, CFG, ds, device="cpu")
    assert not info3["cached"] and (copy / "model.safetensors").exists() and (folder / "info.json").exists()


def test_fit_or_load_rejects_an_unknown_ablation_switch(ds):
    with pytest.raises(ValueError, match=r"unknown switches \['use_lstm'\].*use_cnn"):
        tr.fit_or_load("p4", MODEL, CFG, ds, device="cpu", variant={"use_lstm": False})


def test_predict_shape_and_values(ds):
    model = _fresh().eval()
    pred = tr.predict(model, ds.test, batch_size=7)
    x, _ = ds.test.get_batch(np.arange(len(ds.test)))
    assert pred.shape == (len(ds.test), N) and pred.dtype == np.float32
    with torch.no_grad():
        assert np.allclose(pred, model(x).numpy(), atol=1e-5)


def test_a_given_loss_is_trained_and_validated_on_and_the_mse_is_its_default(ds):
    from torch.nn import functional as F

    model = _fresh().eval()
    idx = np.arange(len(ds.val))
    cpu = torch.device("cpu")
    assert tr.mean_loss(model, ds.val, idx, cpu, F.mse_loss, batch_size=7) == pytest.approx(
        tr.mse(model, ds.val, idx, cpu, batch_size=7), rel=1e-6
    )
    short = TrainConfig(**{**CFG.__dict__, "max_epochs": 2, "warmup_epochs": 0})
    by_default, given_mse, l1 = _fresh(short), _fresh(short), _fresh(short)
    a = tr.train(by_default, short, ds.train, ds.val, cpu)
    b = tr.train(given_mse, short, ds.train, ds.val, cpu, loss=F.mse_loss)
    c = tr.train(l1, short, ds.train, ds.val, cpu, loss=F.l1_loss)
    assert [e["val_loss"] for e in a["history"]] == pytest.approx([e["val_loss"] for e in b["history"]], rel=1e-6)
    # an L1 training reports L1 losses: the validation L1 of the weights it ends with
    assert c["best_val_loss"] == pytest.approx(tr.mean_loss(l1, ds.val, idx, cpu, F.l1_loss), rel=1e-5)
    assert c["best_val_loss"] != pytest.approx(tr.mse(l1, ds.val, idx, cpu), rel=1e-3)


# ---------------------------------------------------------------- damaged cache entries

SHORT = TrainConfig(**{**CFG.__dict__, "max_epochs": 2})  # each damage below costs one retraining


@pytest.fixture(scope="module")
def trained(ds, tmp_path_factory):
    """One training's cache folder (weights, info and their checksums), made once for the damage tests."""
    models = tmp_path_factory.mktemp("trained") / "models"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(paths, "MODELS", models)
        _, info = tr.fit_or_load("p4", MODEL, SHORT, ds, device="cpu")
    return models / tr.model_key(ds.key, MODEL, SHORT), info


def _garbage_weights(path, value=None):
    """Rewrites a safetensors file with same-shaped weights: random finite ones, or all `value`."""
    from safetensors.torch import load_file, save_file

    gen = torch.Generator().manual_seed(0)
    state = {
        k: v
        if not v.is_floating_point()
        else torch.randn(v.shape, generator=gen)
        if value is None
        else torch.full_like(v, value)
        for k, v in load_file(path).items()
    }
    save_file(state, str(path))


def _nan_weights_with_a_good_checksum(path):
    _garbage_weights(path, float("nan"))
    store.record_checksum(path)  # as if it had been cached like that


DAMAGE = {  # name: (file, how it is damaged, the problem the line must name)
    "truncated model": ("model.safetensors", lambda p: p.write_bytes(p.read_bytes()[:1000]), store.MISMATCH),
    "garbage bytes": (
        "model.safetensors",
        lambda p: p.write_bytes(np.random.default_rng(0).bytes(p.stat().st_size)),
        store.MISMATCH,
    ),
    "finite garbage behind a valid header": ("model.safetensors", _garbage_weights, store.MISMATCH),
    "NaN weights, checksum intact": (
        "model.safetensors",
        _nan_weights_with_a_good_checksum,
        "holds NaN or infinite weights (",
    ),
    "damaged info": ("info.json", lambda p: p.write_text(p.read_text()[:50]), store.MISMATCH),
    "entry from before checksums": (
        "info.json",
        lambda p: [store.checksum_path(p.with_name(n)).unlink() for n in ("info.json", "model.safetensors")],
        store.NO_CHECKSUM,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_cached_model_is_said_in_one_line_and_retrained_bit_identically(ds, cache, trained, capsys, kind):
    from safetensors.torch import load_file

    source, first_info = trained
    folder = cache / source.name
    shutil.copytree(source, folder)
    name, damage, problem = DAMAGE[kind]
    damage(folder / name)
    model, info = tr.fit_or_load("p4", MODEL, SHORT, ds, device="cpu")
    out = capsys.readouterr().out
    assert out.startswith(f"cache: {folder / name} {problem}") and out.endswith("; retraining\n"), out
    assert out.count("\n") == 1  # one line
    assert not info["cached"]
    assert [h["val_loss"] for h in info["history"]] == [h["val_loss"] for h in first_info["history"]]
    original, rebuilt = load_file(source / "model.safetensors"), load_file(folder / "model.safetensors")
    assert all(torch.equal(original[k], rebuilt[k]) for k in original)  # the same training, bit for bit
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in original.items())
    assert (folder / "model.safetensors").read_bytes() == (source / "model.safetensors").read_bytes()
    again, info2 = tr.fit_or_load("p4", MODEL, SHORT, ds, device="cpu")
    assert info2["cached"] and capsys.readouterr().out == ""  # repaired: silent


@pytest.mark.slow
def test_a_damaged_checkpoint_is_said_in_one_line_and_training_starts_over(ds, cache, trained, capsys):
    from safetensors.torch import load_file

    source, _ = trained
    folder = cache / source.name
    checkpoint = folder / "checkpoint.pt"
    tr.train(_fresh(SHORT), SHORT, ds.train, ds.val, torch.device("cpu"), checkpoint=checkpoint, stop_after=1)
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # a zeroed block inside
    checkpoint.write_bytes(bytes(data))
    _, info = tr.fit_or_load("p4", MODEL, SHORT, ds, device="cpu")
    assert capsys.readouterr().out == f"cache: {checkpoint} {store.MISMATCH}; training from the first epoch\n"
    assert info["epochs"] == SHORT.max_epochs and not checkpoint.exists()
    assert not store.checksum_path(checkpoint).exists()
    original, rebuilt = load_file(source / "model.safetensors"), load_file(folder / "model.safetensors")
    assert all(torch.equal(original[k], rebuilt[k]) for k in original)


def test_a_training_that_ends_without_finite_losses_is_not_cached(cache):
    broken = StandInDataset(seed=1)
    broken.train.series[5:40, 0] = float("nan")  # the train split is a view of the series
    broken.key = "ar1-with-nan"
    with pytest.raises(
        tr.TrainingDiverged,
        match=r"no epoch reached a finite validation loss \(validation "
        r"losses: nan, nan\)\. Nothing was cached",
    ):
        tr.fit_or_load("p4", MODEL, SHORT, broken, device="cpu")
    folder = cache / tr.model_key(broken.key, MODEL, SHORT)
    assert not folder.exists() or not any(folder.iterdir())


def test_flushed_denormals_turns_subnormal_floats_to_zero_inside_and_restores_them_after():
    tiny = torch.tensor([1e-39], dtype=torch.float32)  # subnormal: below float32's 1.18e-38
    with tr.flushed_denormals() as on:
        inside = (tiny * 1.0).item()
    after = (tiny * 1.0).item()
    assert after == pytest.approx(1e-39, rel=1e-3)  # restored: subnormals computed again
    if on:  # x86 with SSE3 (every machine this project runs on); elsewhere torch cannot flush and says so
        assert inside == 0.0
    else:
        assert inside == after

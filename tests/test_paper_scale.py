"""The paper profile runs the same code at the source's sizes: every phase, full width, a few real steps."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from voltlib.config import get_profile
from voltlib.forecast import train as tr
from voltlib.forecast.models import build_model, count_params

WINDOW, N = 150, 100  # the protocol's window and network size


class RandomWalkSplit:
    """The Split interface over a smooth random series of the paper's shape (windows are start indices)."""

    def __init__(self, seed: int, n_samples: int = 400):
        rng = np.random.default_rng(seed)
        v = np.cumsum(rng.normal(size=(n_samples, N)), axis=0).astype(np.float32)
        self.series = torch.from_numpy((v - v.mean(0)) / v.std(0))
        self.starts = np.arange(0, n_samples - WINDOW - 1, 10)

    def __len__(self):
        return len(self.starts)

    def get_batch(self, idx):
        s = torch.as_tensor(self.starts[np.asarray(idx)])
        return self.series[s[:, None] + torch.arange(WINDOW)], self.series[s + WINDOW]


@pytest.mark.parametrize("phase", list(get_profile("paper").phases))
def test_paper_phase_trains_at_full_size(phase):
    model_cfg, train_cfg = get_profile("paper").phases[phase]
    short = replace(
        train_cfg,
        max_epochs=2,
        warmup_epochs=min(train_cfg.warmup_epochs, 1),
        batch_size=4,
        max_train_windows=8,
        max_eval_windows=4,
    )
    torch.manual_seed(0)
    model = build_model(model_cfg, window=WINDOW, n_neurons=N)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = tr.train(model, short, RandomWalkSplit(1), RandomWalkSplit(2), torch.device("cpu"))
    assert out["epochs"] == 2 and not out["interrupted"]
    assert all(np.isfinite([h["train_loss"], h["val_loss"]]).all() for h in out["history"])
    changed = sum(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert changed > len(before) // 2, f"only {changed} of {len(before)} tensors moved in training"
    assert model(torch.zeros(2, WINDOW, N)).shape == (2, N)
    assert count_params(model) > 900_000  # full width, not a quick-sized stand-in

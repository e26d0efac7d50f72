"""The source's four-phase ladder (METHODS.md section 5), one forecaster with optional parts.

Every model maps a window x[batch, window, n] of z-scored voltages to y[batch, n], the voltages
`horizon` samples after the window's end.

    phase 1  LSTM -> last step -> Linear(hidden, n)
    phase 2  LSTM -> residual + LayerNorm head            (3 layers, hidden 512)
    phase 3  LSTM -> residual + LayerNorm head            (2 layers, hidden 384)
    phase 4  x + ConvBlock(x) -> phase 3's LSTM and head  (2,188,168 parameters at paper size)

Residual + LayerNorm head: h = LayerNorm(LSTM output at the last step); h = h + Linear(n, hidden)(x at
the last step); dropout; Linear(hidden, n).

Initial weights: the source's (`Forecaster.init_weights`): Xavier and orthogonal LSTM weights, a
forget-gate bias of 1, a Xavier output layer.

Ablations: `use_cnn` and `use_residual` are plain attributes read by forward(), so a trained model's
CNN branch or residual path can be switched off without retraining (see `ablated`).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from voltlib.config import ModelConfig


class ConvBlock(nn.Module):
    """The source's "CNN": two Conv1d in sequence over the neuron axis, time steps as channels."""

    def __init__(self, window: int = 150, dropout: float = 0.1):
        super().__init__()
        # x is [batch, window, n]: Conv1d reads dim 1 (the window's time steps) as channels and
        # slides along dim 2 (the neuron index), exactly as the source's code did.
        self.conv1 = nn.Conv1d(window, window, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm1d(window)
        self.conv2 = nn.Conv1d(window, window, kernel_size=5, padding=2)
        self.bn2 = nn.BatchNorm1d(window)
        self.drop = nn.Dropout1d(dropout)  # drops whole time steps (channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the block's output [batch, window, n] (same shape as x)."""
        h = self.drop(self.bn1(torch.relu(self.conv1(x))))
        return self.drop(self.bn2(torch.relu(self.conv2(h))))


class Forecaster(nn.Module):
    """LSTM forecaster with an optional ConvBlock in front and a plain or residual+LayerNorm head."""

    def __init__(
        self,
        n_neurons: int = 100,
        window: int = 150,
        hidden: int = 384,
        layers: int = 2,
        dropout: float = 0.25,
        cnn: bool = False,
        cnn_dropout: float = 0.1,
        residual_head: bool = True,
    ):
        super().__init__()
        self.n_neurons, self.window = n_neurons, window
        self.cnn = ConvBlock(window, cnn_dropout) if cnn else None
        # PyTorch applies LSTM dropout between layers only, so a 1-layer LSTM gets none
        self.lstm = nn.LSTM(
            n_neurons, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.residual_head = residual_head
        if residual_head:
            self.norm = nn.LayerNorm(hidden)
            self.skip = nn.Linear(n_neurons, hidden)  # the input's last step, into the LSTM's space
            self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_neurons)
        # ablation switches, read at every forward pass
        self.use_cnn = cnn
        self.use_residual = residual_head
        self.init_weights()

    def init_weights(self) -> None:
        """The source's initialisation (METHODS.md section 5); every other part keeps PyTorch's default.

        LSTM: input-to-hidden weights Xavier-uniform, hidden-to-hidden weights orthogonal, every bias
        zero except the input-to-hidden forget-gate bias, 1 (PyTorch orders the gates i, f, g, o).
        Output layer: Xavier-uniform weights, zero bias.
        """
        hidden = self.lstm.hidden_size
        with torch.no_grad():
            for name, p in self.lstm.named_parameters():
                if name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(p)
                elif name.startswith("weight_hh"):
                    nn.init.orthogonal_(p)
                elif name.startswith("bias"):
                    p.zero_()
                    if name.startswith("bias_ih"):
                        p[hidden : 2 * hidden] = 1.0
            nn.init.xavier_uniform_(self.out.weight)
            self.out.bias.zero_()

    def lstm_input(self, x: torch.Tensor) -> torch.Tensor:
        """Returns what the LSTM reads: the window x[batch, window, n], plus the CNN branch when it is on."""
        if self.cnn is not None and self.use_cnn:
            x = x + self.cnn(x)  # added, not concatenated
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the forecast y[batch, n] (z units) from the window x[batch, window, n]."""
        x = self.lstm_input(x)
        h = self.lstm(x)[0][:, -1]  # LSTM output at the last time step
        if not self.residual_head:
            return self.out(h)
        h = self.norm(h)
        if self.use_residual:
            h = h + self.skip(x[:, -1])
        return self.out(self.drop(h))


def build_model(cfg: ModelConfig, window: int = 150, n_neurons: int = 100) -> Forecaster:
    """Returns the (untrained) forecaster that a ModelConfig describes."""
    return Forecaster(
        n_neurons=n_neurons,
        window=window,
        hidden=cfg.hidden,
        layers=cfg.layers,
        dropout=cfg.dropout,
        cnn=cfg.kind == "cnn_lstm",
        cnn_dropout=cfg.cnn_dropout,
        residual_head=cfg.kind != "lstm",
    )


def count_params(model: nn.Module) -> int:
    """Returns the number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@contextmanager
def ablated(model: Forecaster, cnn: bool = False, residual: bool = False):
    """Within the block, the model runs without its CNN branch (cnn=True) and/or residual path."""
    saved = model.use_cnn, model.use_residual
    model.use_cnn = saved[0] and not cnn
    model.use_residual = saved[1] and not residual
    try:
        yield model
    finally:
        model.use_cnn, model.use_residual = saved


@contextmanager
def evaluating(model: nn.Module, device: torch.device | str | None = None):
    """Within the block the model is in eval mode (on `device` if given) and autograd is off; its mode is restored."""
    was_training = model.training
    model.eval()
    if device is not None:
        model.to(device)
    try:
        with torch.inference_mode():
            yield model
    finally:
        model.train(was_training)


def in_batches(fn, n: int, batch_size: int) -> torch.Tensor:
    """Returns torch.cat of fn(s) over consecutive slices s of range(n), batch_size long: batched inference, once."""
    if n <= 0:
        raise ValueError(f"in_batches got n={n} items: expected at least one. Check that the split is not empty.")
    return torch.cat([fn(slice(b, b + batch_size)) for b in range(0, n, batch_size)])

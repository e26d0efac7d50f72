"""The ladder's architectures: parameter counts at paper and quick sizes, shapes, the CNN's axes, ablations."""

import pytest
import torch

from voltlib.config import ModelConfig, get_profile, paper_phases
from voltlib.forecast.models import ablated, build_model, count_params

# Hand count at paper size (hidden 384, 2 layers, n 100, window 150):
#   conv1 150*150*3+150 = 67,650; conv2 150*150*5+150 = 112,650; two BatchNorm1d(150) 600
#   LSTM layer 1 4*384*(100+384)+2*4*384 = 746,496; layer 2 4*384*(384+384)+3,072 = 1,182,720
#   LayerNorm 768; Linear(100, 384) 38,784; Linear(384, 100) 38,500        -> 2,188,168
PAPER_PARAMS = {
    "phase1_lstm": 918_628,
    "phase2_large_lstm": 5_564_004,
    "phase3_lstm_res": 2_007_268,
    "phase4_cnn_lstm": 2_188_168,
}
QUICK_PARAMS = {
    "phase1_lstm": 192_700,
    "phase2_large_lstm": 1_041_031,
    "phase3_lstm_res": 406_340,
    "phase4_cnn_lstm": 587_240,
}


@pytest.mark.parametrize("phase", list(PAPER_PARAMS))
def test_paper_parameter_counts(phase):
    assert count_params(build_model(paper_phases()[phase][0])) == PAPER_PARAMS[phase]


@pytest.mark.parametrize("phase", list(QUICK_PARAMS))
def test_quick_parameter_counts(phase):
    assert count_params(build_model(get_profile("quick").phases[phase][0])) == QUICK_PARAMS[phase]


@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_every_width_can_carry_all_neurons(profile):
    # the forecast leaves through Linear(hidden, n): a width below n cannot represent persistence
    for phase, (model_cfg, _) in get_profile(profile).phases.items():
        assert model_cfg.hidden >= 100, (profile, phase, model_cfg.hidden)


def test_cnn_block_is_the_difference_between_phase_3_and_4():
    assert PAPER_PARAMS["phase4_cnn_lstm"] - PAPER_PARAMS["phase3_lstm_res"] == 67_650 + 112_650 + 600


@pytest.mark.parametrize("kind", ["lstm", "lstm_res", "cnn_lstm"])
def test_forward_shape_for_other_window_and_neuron_count(kind):
    model = build_model(ModelConfig(kind, hidden=8, layers=1), window=20, n_neurons=7).eval()
    assert model(torch.randn(3, 20, 7)).shape == (3, 7)


def test_convolution_has_time_steps_as_channels_and_slides_along_neurons():
    model = build_model(ModelConfig("cnn_lstm", hidden=8), window=150, n_neurons=100)
    conv = model.cnn.conv1
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.padding) == (150, 150, (3,), (1,))
    assert model.cnn.conv2.kernel_size == (5,)
    # a change at one neuron reaches the CNN output only within the two kernels' reach (1 + 2 = 3 neurons)
    cnn = model.cnn.eval()
    x = torch.randn(2, 150, 100)
    x2 = x.clone()
    x2[:, :, 50] += 1.0
    changed = (cnn(x2) - cnn(x)).abs().amax(dim=(0, 1)) > 0
    assert changed.nonzero().flatten().tolist() == list(range(47, 54))


def test_ablations_change_the_output_and_are_restored():
    torch.manual_seed(0)
    model = build_model(ModelConfig("cnn_lstm", hidden=16), window=30, n_neurons=10).eval()
    x = torch.randn(4, 30, 10)
    full = model(x)
    with ablated(model, cnn=True):
        no_cnn = model(x)
        # without its CNN, phase 4 is exactly phase 3's LSTM and head on the raw input
        h = model.norm(model.lstm(x)[0][:, -1]) + model.skip(x[:, -1])
        assert torch.allclose(no_cnn, model.out(h))
    with ablated(model, residual=True):
        no_res = model(x)
    assert not torch.allclose(full, no_cnn) and not torch.allclose(full, no_res)
    assert torch.equal(model(x), full) and model.use_cnn and model.use_residual


def test_basic_lstm_has_no_residual_head():
    model = build_model(ModelConfig("lstm", hidden=8, layers=2))
    assert model.cnn is None and not model.residual_head and not hasattr(model, "skip")


def test_in_batches_covers_every_item_once_in_order_and_evaluating_restores_the_mode():
    from voltlib.forecast.models import evaluating, in_batches

    x = torch.arange(10.0)[:, None]
    assert torch.equal(in_batches(lambda s: x[s] * 2, 10, batch_size=3), x * 2)  # 3 + 3 + 3 + 1
    with pytest.raises(ValueError, match="n=0"):
        in_batches(lambda s: x[s], 0, 3)
    model = build_model(ModelConfig("lstm_res", hidden=8, layers=1), window=5, n_neurons=3).train()
    with evaluating(model):
        assert not model.training and not torch.is_grad_enabled()
    assert model.training


@pytest.mark.parametrize("kind", ["lstm", "lstm_res", "cnn_lstm"])
def test_initial_weights_are_the_sources(kind):
    """Xavier-uniform input weights, orthogonal recurrent weights, zero biases but a forget-gate bias of 1,
    a Xavier-uniform output layer with zero bias; the rest keeps PyTorch's default (not re-drawn)."""
    torch.manual_seed(0)
    hidden = 24
    model = build_model(ModelConfig(kind, hidden=hidden, layers=2), window=30, n_neurons=12)
    for layer in range(2):
        w_ih = getattr(model.lstm, f"weight_ih_l{layer}")
        fan_in, fan_out = w_ih.shape[1], w_ih.shape[0]
        bound = (6 / (fan_in + fan_out)) ** 0.5  # Xavier-uniform's
        assert w_ih.abs().max() <= bound and w_ih.abs().max() > 0.9 * bound
        w_hh = getattr(model.lstm, f"weight_hh_l{layer}").detach()
        # orthogonal: the 4H x H matrix has orthonormal columns
        assert torch.allclose(w_hh.T @ w_hh, torch.eye(hidden), atol=1e-5)
        b_ih, b_hh = getattr(model.lstm, f"bias_ih_l{layer}"), getattr(model.lstm, f"bias_hh_l{layer}")
        forget = torch.zeros(4 * hidden)
        forget[hidden : 2 * hidden] = 1.0
        assert torch.equal(b_ih.detach(), forget) and torch.equal(b_hh.detach(), torch.zeros(4 * hidden))
    out_bound = (6 / (hidden + 12)) ** 0.5
    assert model.out.weight.abs().max() <= out_bound and torch.equal(model.out.bias.detach(), torch.zeros(12))
    if kind != "lstm":  # the residual head's input projection keeps PyTorch's default: U(+-1/sqrt(fan_in))
        assert model.skip.weight.abs().max() <= 12**-0.5 and model.skip.bias.abs().max() > 0
    # the same seed gives the same initial model; another seed another
    torch.manual_seed(0)
    again = build_model(ModelConfig(kind, hidden=hidden, layers=2), window=30, n_neurons=12)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))

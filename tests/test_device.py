"""Device choice: override order, errors that name the allowed values, CUDA > MPS > CPU with availability mocked."""

import pytest
import torch

from voltlib import device as dev


@pytest.fixture
def avail(monkeypatch):
    """Sets which accelerators look available: avail(cuda=..., mps=...)."""
    monkeypatch.delenv("VOLTLIB_DEVICE", raising=False)

    def set_(cuda=False, mps=False):
        monkeypatch.setattr(dev, "cuda_available", lambda: cuda)
        monkeypatch.setattr(dev, "mps_available", lambda: mps)

    set_()
    # describe() asks CUDA for the device name; keep the mocked choice from touching a real GPU
    monkeypatch.setattr(dev, "describe", lambda d: str(d))
    return set_


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_automatic_order(avail, cuda, mps, expected):
    avail(cuda=cuda, mps=mps)
    assert dev.pick_device().type == expected


def test_env_overrides_automatic_and_argument_overrides_env(avail, monkeypatch):
    avail(cuda=True, mps=True)
    monkeypatch.setenv("VOLTLIB_DEVICE", "cpu")
    assert dev.pick_device().type == "cpu"
    monkeypatch.setenv("VOLTLIB_DEVICE", "CPU ")
    assert dev.pick_device().type == "cpu"
    assert dev.pick_device("mps").type == "mps"


def test_unknown_device_names_the_allowed_ones(avail):
    with pytest.raises(dev.DeviceError, match=r"unknown device 'tpu'.*\('cpu', 'cuda', 'mps'\)"):
        dev.pick_device("tpu")


def test_unavailable_device_is_a_clear_error(avail, monkeypatch):
    monkeypatch.setenv("VOLTLIB_DEVICE", "cuda")
    with pytest.raises(dev.DeviceError, match=r"'cuda' was requested but is not available"):
        dev.pick_device()


def test_cpu_uses_one_thread_per_available_core(avail, monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setattr(dev, "cpu_threads", lambda: 1)
    try:
        dev.pick_device("cpu")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_choice_is_printed_once(avail, capsys, monkeypatch):
    monkeypatch.setattr(dev, "_printed", set())
    dev.pick_device("cpu")
    dev.pick_device("cpu")
    assert capsys.readouterr().out.count("device: cpu") == 1


def test_mps_fallback_is_enabled():
    import os

    assert os.environ["PYTORCH_ENABLE_MPS_FALLBACK"] == "1"


def test_cpu_threads_honour_omp_num_threads(monkeypatch):
    monkeypatch.setattr(dev.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert dev.cpu_threads() == 4
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert dev.cpu_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "16")  # never more threads than cores
    assert dev.cpu_threads() == 4
    monkeypatch.setenv("OMP_NUM_THREADS", "two")
    with pytest.raises(dev.DeviceError, match="OMP_NUM_THREADS='two' is invalid"):
        dev.cpu_threads()

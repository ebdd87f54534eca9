"""Every trainer runs through the device-aware code path that a GPU run takes, here on the CPU."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from benchmarks.device_check import main  # noqa: E402


def test_device_check_times_every_trainer_on_the_cpu(capsys):
    assert main(["--device", "cpu", "--quick"]) == 0
    table = capsys.readouterr().out
    for trainer in ("predictor", "MPC", "PPO", "Dreamer rssm", "Dreamer vsg", "Dreamer svsg"):
        assert f"| {trainer}" in table


def test_device_check_without_cuda_is_one_line(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert main(["--device", "cuda", "--quick"]) == 2
    assert "no CUDA device" in capsys.readouterr().err

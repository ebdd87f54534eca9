"""Predictors without learning, the paper's gate statistics and the sheep-reappearance error."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines.predictors import metrics  # noqa: E402
from baselines.predictors.extrapolation import copy_last_mse, reflecting_extrapolation, reflecting_mse  # noqa: E402
from baselines.predictors.splits import load_split  # noqa: E402


def test_reflecting_extrapolation_mirrors_at_the_cushions():
    positions = np.array([[[0.2, 0.0], [0.5, 0.1]]])  # velocity (0.3, 0.1) per step
    rolled = reflecting_extrapolation(positions, 4, limit=np.array([1.0, 0.5]))
    np.testing.assert_allclose(rolled[0, :, 0], [0.8, 0.9, 0.6, 0.3])  # 1.1 -> 0.9, 1.4 -> 0.6
    np.testing.assert_allclose(rolled[0, :, 1], [0.2, 0.3, 0.4, 0.5])
    np.testing.assert_allclose(reflecting_extrapolation(-positions, 4, np.array([1.0, 0.5])), -rolled)


def test_yardsticks_on_billiard_ball_data():
    sequences = load_split("billiard", "test", 64, 0)
    reflecting, copy_last = reflecting_mse(sequences, 2), copy_last_mse(sequences, 2)
    assert 0 < reflecting < copy_last  # the ball keeps rolling: the roll-out beats standing still
    still = sequences.select(slice(0, 4))
    still.observations[:] = still.observations[:, :1]
    assert copy_last_mse(still, 2) == 0.0
    with pytest.raises(ValueError, match="two real observations"):
        reflecting_mse(sequences, 1)


def test_gate_statistics_follow_the_papers_definitions():
    gates = np.zeros((2, 5, 3), dtype=bool)
    gates[0, 2, 0] = True  # sequence 0 opens dimension 0 once
    gates[1, 1:, 1] = True  # sequence 1 opens dimension 1 on every step after the start
    stats = metrics.gate_statistics(gates, start_steps=1)
    assert stats["gate_rate"] == pytest.approx(5 / (2 * 4 * 3))
    assert stats["dims_used"] == pytest.approx(2 / 6)
    assert stats["active_dims"] == 2.0
    assert stats["gate_rate_per_dim"] == "0.125 0.500 0.000"


class _Oracle(torch.nn.Module):
    """Predicts observation t + 1 exactly where it reads real inputs up to t, else zeros;
    records the input choice it was given."""

    def forward(self, observations, actions, start_steps=1, use_real=None, **_):
        self.use_real = use_real
        real_so_far = torch.cumprod(use_real.float(), dim=1)[..., None]
        return {"predictions": observations[:, 1:] * real_so_far}


def test_sheep_reappearance_error_scores_the_step_the_sheep_comes_back():
    sequences = load_split("shepherd", "test", 64, 0)
    oracle = _Oracle()
    assert metrics.sheep_reappearance_error(oracle, sequences, 2) == 0.0
    gate_open = sequences.hidden["gate_open"].astype(bool)
    opened = np.flatnonzero(gate_open.any(axis=1))
    first = gate_open[opened].argmax(axis=1)
    # Real inputs up to the first observation with the gate open, own predictions after.
    expected = np.arange(sequences.num_steps)[None, :] <= first[:, None]
    np.testing.assert_array_equal(oracle.use_real.numpy(), expected)

    class Blind(_Oracle):
        def forward(self, observations, actions, start_steps=1, use_real=None, **_):
            return {"predictions": torch.zeros_like(observations[:, 1:])}

    reappeared_x = sequences.observations[opened, first + 1, metrics.SHEEP_X_OBS_INDEX]
    assert np.all(sequences.observations[opened, first, metrics.SHEEP_X_OBS_INDEX] == 0)  # still hidden
    assert metrics.sheep_reappearance_error(Blind(), sequences, 2) == pytest.approx(float(np.mean(reappeared_x**2)))

"""Predictors without learning, the yardsticks of a learned predictor's error: repeat the
last real observation, and for Billiard Ball roll the ball on at its last observed
velocity, reflected at the cushions.

Both are scored like the learned predictors (``metrics.autoregressive_mse``): after
``start_steps`` real observations every later observation is predicted without seeing it.
"""

from __future__ import annotations

import numpy as np

from pomdp_envs.datasets import Sequences
from pomdp_envs.dynamics.billiard_ball import BilliardBallConfig


def _closed_loop_mse(predicted: np.ndarray, sequences: Sequences, start_steps: int) -> float:
    """MSE of predictions (N, T + 1 - start_steps, O) of observations start_steps..T."""
    return float(np.mean((predicted - sequences.observations[:, start_steps:]) ** 2))


def copy_last_mse(sequences: Sequences, start_steps: int) -> float:
    """Error of predicting every later observation as the last real one."""
    last = sequences.observations[:, start_steps - 1 : start_steps]
    predicted = np.broadcast_to(last, (len(sequences), sequences.num_steps + 1 - start_steps, last.shape[-1]))
    return _closed_loop_mse(predicted, sequences, start_steps)


def reflecting_extrapolation(positions: np.ndarray, num_steps: int, limit: np.ndarray) -> np.ndarray:
    """``num_steps`` positions after the last of ``positions`` (N, K >= 2, 2): constant
    velocity from the last two, mirrored at +-``limit`` (2,) without loss, no friction,
    no pockets."""
    velocity = positions[:, -1] - positions[:, -2]
    # Unfold the reflections: position on the line of period 4 * limit, folded back.
    unfolded = positions[:, -1, None, :] + velocity[:, None, :] * np.arange(1, num_steps + 1)[None, :, None]
    period = 4.0 * limit
    phase = np.mod(unfolded + limit, period)
    return np.where(phase <= 2.0 * limit, phase, period - phase) - limit


def reflecting_mse(sequences: Sequences, start_steps: int, config: BilliardBallConfig | None = None) -> float:
    """Error of the reflecting constant-velocity extrapolation on Billiard Ball
    sequences (observations are the ball's position in table units)."""
    if start_steps < 2:
        raise ValueError("a velocity needs two real observations: start_steps >= 2")
    limit = (config or BilliardBallConfig()).position_limit
    known = sequences.observations[:, :start_steps].astype(np.float64)
    predicted = reflecting_extrapolation(known, sequences.num_steps + 1 - start_steps, limit)
    return _closed_loop_mse(predicted, sequences, start_steps)

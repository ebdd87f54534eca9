"""Billiard Ball: infer a ball's velocity from its positions."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from pomdp_envs.core.single import BatchedCoreEnv, EnvSpaces
from pomdp_envs.core.vector import BatchedCoreVectorEnv
from pomdp_envs.dynamics.billiard_ball import (
    BilliardBallConfig,
    BilliardBallDynamics,
    BilliardBallState,
)
from pomdp_envs.rendering.billiard_ball import render_billiard_ball


class BilliardBallEnv(BatchedCoreEnv):
    """A ball shot across a low-friction table; only its position is observed.

    The ball starts at a random point, moving in a random direction at a random speed.
    It slows down under constant rolling friction and bounces off the four cushions,
    losing part of its normal speed. Its velocity is the hidden factor: constant apart
    from the slow friction decay, it changes sharply only at cushion collisions, so a
    model must infer it from a few positions and update it at each bounce.
    There is no action and no reward: the env produces time series for prediction.

    Table: a square, interior [-1, 1]^2 in table units; the ball's radius is 0.05, so
    its centre stays in [-0.95, 0.95]^2. One step is ``dt = 0.05`` s (20 Hz).

    ## Observation space

    ``Box(-1, 1, (2,), float32)``: the ball's centre, already in table units.

    | index | name | unit | min | max |
    |-------|------|------|-----|-----|
    | 0 | ball x | table units | -0.95 | 0.95 |
    | 1 | ball y | table units | -0.95 | 0.95 |

    ## Action space

    ``Discrete(1)``: the single no-op action ``0``. A one-element space (rather than an
    empty Box) keeps ``check_env``, ``action_space.sample()`` and the vector spaces
    working unchanged. Any other value raises ``ValueError``.

    ## Reward, termination, truncation

    Reward is always 0. Episodes never terminate; ``gymnasium.make`` truncates them
    after 200 steps (10 s), during which a ball crosses the table several times.

    ## Start state

    Position uniform in [-0.95, 0.95]^2; direction uniform on the circle; speed uniform
    in [0.6, 1.6] units/s. All drawn from ``np_random`` (four uniforms per reset).
    ``reset(options={"position": (x, y), "velocity": (vx, vy)})`` overrides either part.

    ## Dynamics

    Each step the speed falls by ``friction_deceleration * dt`` (0.04 units/s^2; never
    below 0), then the ball moves by ``velocity * dt``. A ball that passes a cushion is
    reflected within the step: its overshoot is mirrored and scaled by the restitution
    (0.9), and the velocity component normal to that cushion flips and is scaled by 0.9.
    Kinetic energy therefore never increases and the ball never leaves the table.

    ## Hidden factors (``info["hidden"]``, ``hidden_space``)

    | name | shape | unit | changed (``info["hidden_changed"]``) when |
    |------|-------|------|-------------------------------------------|
    | ``velocity`` | (2,) float32, each in [-1.6, 1.6] | units/s | the ball hits a cushion, or comes to rest |

    The smooth friction decay between events is not flagged as a change.

    ## Arguments

    ``gymnasium.make("pomdp_envs/BilliardBall-v0", render_mode="rgb_array", **fields)``
    where ``fields`` override ``BilliardBallConfig`` (``dt``, ``restitution``,
    ``friction_deceleration``, ``min_speed``, ``max_speed``, ``ball_radius``,
    ``table_half_size``), or ``config=BilliardBallConfig(...)``.
    ``render_mode="rgb_array"`` returns 400x400 frames of the table.

    ## Version history

    * v0: initial release.
    """

    dynamics_cls = BilliardBallDynamics
    config_cls = BilliardBallConfig
    default_max_episode_steps = 200
    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    @classmethod
    def build_spaces(cls, config: BilliardBallConfig) -> EnvSpaces:
        limit = config.table_half_size
        vmax = config.max_speed
        return EnvSpaces(
            observation=spaces.Box(-limit, limit, shape=(2,), dtype=np.float32),
            action=spaces.Discrete(1),
            hidden=spaces.Dict(
                {"velocity": spaces.Box(-vmax, vmax, shape=(2,), dtype=np.float32)}
            ),
        )

    @classmethod
    def render_state(cls, config: BilliardBallConfig, state: BilliardBallState) -> np.ndarray:
        return render_billiard_ball(config, state)


class BilliardBallVectorEnv(BatchedCoreVectorEnv):
    """Native vector version of :class:`BilliardBallEnv` (same dynamics, batched)."""

    single_env_cls = BilliardBallEnv

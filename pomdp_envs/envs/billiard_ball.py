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
    """A ball shot across a low-friction pool table; only its position is observed.

    The GateL0RD paper's Billiard Ball task (its simulator was not published; the
    values below are this package's, chosen to match what its data show: a pool table
    with six pockets, a decelerating ball that bounces off the cushions). The ball
    starts at a random point, moving in a random direction at a random speed. It slows
    down under constant rolling friction and bounces off the four cushions, losing part
    of its normal speed. Its velocity is the hidden factor: constant apart from the slow
    friction decay, it changes sharply only at cushion collisions and when the ball drops
    into a pocket, so a model must infer it from a few positions and update it at each
    event. There is no action and no reward: the env produces time series for prediction.

    Table: interior [-1, 1] x [-0.5, 0.5] in table units (2:1, like a pool table); the
    ball's radius is 0.03, so its centre stays in [-0.97, 0.97] x [-0.47, 0.47] while on
    the table. Six pockets sit on the cushion lines at the four corners and the middles
    of the long sides; a ball whose centre passes within 0.08 of a pocket's centre during
    a step drops into it and stays there, at the pocket's centre, with velocity 0. One
    step is ``dt = 0.05`` s (20 Hz).

    ## Observation space

    ``Box((2,), float32)``: the ball's centre, in table units.

    | index | name | unit | min | max |
    |-------|------|------|-----|-----|
    | 0 | ball x | table units | -1 | 1 |
    | 1 | ball y | table units | -0.5 | 0.5 |

    On the table the centre stays within the ball's radius of the cushions; the bounds
    include the pockets' centres, where a pocketed ball is observed.

    ## Action space

    ``Discrete(1)``: the single no-op action ``0``. A one-element space (rather than an
    empty Box) keeps ``check_env``, ``action_space.sample()`` and the vector spaces
    working unchanged. Any other value raises ``ValueError``.

    ## Reward, termination, truncation

    Reward is always 0. Episodes do not terminate (``terminate_on_pocket=True`` ends
    them when the ball drops); ``gymnasium.make`` truncates them after 200 steps (10 s),
    during which a ball crosses the table several times.

    ## Start state

    Position uniform over the ball's free area on the table; direction uniform on the
    circle; speed uniform in [0.6, 1.6] units/s. All drawn from ``np_random`` (four
    uniforms per reset). ``reset(options={"position": (x, y), "velocity": (vx, vy)})``
    overrides either part.

    ## Dynamics

    Each step the speed falls by ``friction_deceleration * dt`` (0.04 units/s^2; never
    below 0), then the ball moves by ``velocity * dt``. A ball that passes a cushion is
    reflected within the step: its overshoot is mirrored and scaled by the restitution
    (0.9), and the velocity component normal to that cushion flips and is scaled by 0.9.
    Kinetic energy therefore never increases and the ball never leaves the table except
    into a pocket. The pocket test uses the step's straight path before reflection.

    ## Hidden factors (``info["hidden"]``, ``hidden_space``)

    | name | space | unit | changed (``info["hidden_changed"]``) when |
    |------|-------|------|-------------------------------------------|
    | ``velocity`` | ``Box((2,), float32)``, each in [-1.6, 1.6] | units/s | the ball hits a cushion, comes to rest or drops into a pocket |
    | ``pocketed`` | ``Discrete(2)`` | - | the ball drops into a pocket |

    The smooth friction decay between events is not flagged as a change.

    ``pomdp_envs.wrappers.FullyObservable(env)`` appends them to the observation:
    ``Box((6,), float32)``, the position, then ``pocketed`` one-hot (-1 for no, 1 for yes)
    and ``velocity`` scaled from [-1.6, 1.6] to [-1, 1].

    ## Datasets

    :func:`pomdp_envs.datasets.collect_billiard_kind` draws the paper's six kinds of
    201-step sequences by rejection sampling (``pocket_drop_50/100/150``: the ball drops
    within steps (X - 50, X]; ``no_pocket_drop_1/2/3``: it never drops);
    :mod:`baselines.predictors.data` has the paper's 16-way balanced loader over them.

    ## Arguments

    ``gymnasium.make("pomdp_envs/BilliardBall-v0", render_mode="rgb_array", **fields)``
    where ``fields`` override ``BilliardBallConfig`` (``dt``, ``restitution``,
    ``friction_deceleration``, ``min_speed``, ``max_speed``, ``ball_radius``,
    ``pocket_radius``, ``terminate_on_pocket``, ``table_half_length``,
    ``table_half_width``), or ``config=BilliardBallConfig(...)``.
    ``render_mode="rgb_array"`` returns 600x324 frames of the table.

    ## Version history

    * v0: initial release (a 2:1 table with six pockets, as in the paper's data).
    """

    dynamics_cls = BilliardBallDynamics
    config_cls = BilliardBallConfig
    default_max_episode_steps = 200
    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    @classmethod
    def build_spaces(cls, config: BilliardBallConfig) -> EnvSpaces:
        half = np.array([config.table_half_length, config.table_half_width], dtype=np.float32)
        vmax = config.max_speed
        return EnvSpaces(
            observation=spaces.Box(-half, half, dtype=np.float32),
            action=spaces.Discrete(1),
            hidden=spaces.Dict(
                {
                    "velocity": spaces.Box(-vmax, vmax, shape=(2,), dtype=np.float32),
                    "pocketed": spaces.Discrete(2),
                }
            ),
        )

    @classmethod
    def render_state(cls, config: BilliardBallConfig, state: BilliardBallState) -> np.ndarray:
        return render_billiard_ball(config, state)


class BilliardBallVectorEnv(BatchedCoreVectorEnv):
    """Native vector version of :class:`BilliardBallEnv` (same dynamics, batched)."""

    single_env_cls = BilliardBallEnv

"""Billiard Ball dynamics: one ball rolling on a square table, batched over envs.

Units: lengths in table units (the table interior is [-1, 1]^2), time in seconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from pomdp_envs.core.dynamics import Dynamics, Transition, as_point


@dataclasses.dataclass(frozen=True)
class BilliardBallConfig:
    """Physical constants of the table and the shot."""

    table_half_size: float = 1.0  # interior is [-table_half_size, table_half_size]^2
    ball_radius: float = 0.05
    dt: float = 0.05  # seconds per step (20 Hz)
    friction_deceleration: float = 0.04  # units/s^2, constant rolling friction
    restitution: float = 0.9  # fraction of normal speed kept at a cushion
    min_speed: float = 0.6  # units/s, initial speed range
    max_speed: float = 1.6

    def __post_init__(self) -> None:
        if not 0 < self.ball_radius < self.table_half_size:
            raise ValueError("ball_radius must lie in (0, table_half_size)")
        if self.dt <= 0 or self.friction_deceleration < 0:
            raise ValueError("dt must be > 0 and friction_deceleration >= 0")
        if not 0 <= self.restitution <= 1:
            raise ValueError("restitution must lie in [0, 1]")
        if not 0 <= self.min_speed <= self.max_speed:
            raise ValueError("need 0 <= min_speed <= max_speed")
        # One reflection per axis and step is exact only if a step cannot cross the table.
        if self.max_speed * self.dt >= 2 * self.position_limit:
            raise ValueError("max_speed * dt must be smaller than the table's free width")

    @property
    def position_limit(self) -> float:
        """Largest |x| or |y| the ball's centre can reach."""
        return self.table_half_size - self.ball_radius


class BilliardBallState(NamedTuple):
    position: np.ndarray  # (n, 2) units
    velocity: np.ndarray  # (n, 2) units/s


class BilliardBallDynamics(Dynamics[BilliardBallState, BilliardBallConfig]):
    """Constant-deceleration rolling with exact, lossy cushion reflections."""

    num_reset_uniforms = 4
    reset_option_keys = ("position", "velocity")

    def initial_state(self, uniforms: np.ndarray) -> BilliardBallState:
        cfg = self.config
        limit = cfg.position_limit
        position = (2.0 * uniforms[:, 0:2] - 1.0) * limit
        angle = 2.0 * np.pi * uniforms[:, 2]
        speed = cfg.min_speed + (cfg.max_speed - cfg.min_speed) * uniforms[:, 3]
        velocity = np.stack([np.cos(angle), np.sin(angle)], axis=1) * speed[:, None]
        return BilliardBallState(position, velocity)

    def apply_reset_options(
        self, state: BilliardBallState, options: Mapping[str, Any]
    ) -> BilliardBallState:
        limit, vmax = self.config.position_limit, self.config.max_speed
        position, velocity = state.position.copy(), state.velocity.copy()
        if "position" in options:
            position[:] = as_point(options["position"], "position", -limit, limit)
        if "velocity" in options:
            velocity[:] = as_point(options["velocity"], "velocity", -vmax, vmax)
        return BilliardBallState(position, velocity)

    def step(self, state: BilliardBallState, action: np.ndarray) -> Transition[BilliardBallState]:
        cfg = self.config
        velocity = state.velocity
        speed = np.sqrt(velocity[:, 0] ** 2 + velocity[:, 1] ** 2)
        slowed_speed = np.maximum(speed - cfg.friction_deceleration * cfg.dt, 0.0)
        # A ball at rest has slowed_speed 0, so the guarded division gives scale 0.
        scale = slowed_speed / np.maximum(speed, np.finfo(np.float64).tiny)
        velocity = velocity * scale[:, None]
        position = velocity * cfg.dt
        position += state.position

        # A ball past a cushion bounces back by its overshoot shortened by restitution:
        # the distance it still travels after impact at the reduced normal speed.
        # At most one cushion per axis is crossed (see BilliardBallConfig's check).
        limit, e = cfg.position_limit, cfg.restitution
        overshoot = np.maximum(position - limit, 0.0)
        overshoot -= np.maximum(-limit - position, 0.0)
        position -= (1.0 + e) * overshoot
        bounced = overshoot != 0.0
        velocity *= np.where(bounced, -e, 1.0)

        collided = bounced[:, 0] | bounced[:, 1]
        came_to_rest = (slowed_speed == 0.0) & (speed > 0.0)
        n = position.shape[0]
        return Transition(
            BilliardBallState(position, velocity),
            reward=np.zeros(n),
            terminated=np.zeros(n, dtype=bool),
            hidden_changed={"velocity": collided | came_to_rest},
        )

    def observe(self, state: BilliardBallState) -> np.ndarray:
        return state.position.astype(np.float32)

    def hidden(self, state: BilliardBallState) -> dict[str, np.ndarray]:
        return {"velocity": state.velocity.astype(np.float32)}

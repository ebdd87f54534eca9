"""Billiard Ball dynamics: one ball rolling on a pool table with six pockets, batched.

Units: lengths in table units (the interior is [-1, 1] x [-0.5, 0.5] by default, a 2:1
pool table), time in seconds.
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

    table_half_length: float = 1.0  # interior x in [-half_length, half_length]
    table_half_width: float = 0.5  # interior y in [-half_width, half_width]
    ball_radius: float = 0.03
    #: A ball whose centre comes closer than this to a pocket's centre drops into it.
    #: Pockets sit on the cushion lines: the four corners and the middles of the long
    #: sides. 0 removes the pockets.
    pocket_radius: float = 0.08
    terminate_on_pocket: bool = False
    dt: float = 0.05  # seconds per step (20 Hz)
    friction_deceleration: float = 0.04  # units/s^2, constant rolling friction
    restitution: float = 0.9  # fraction of normal speed kept at a cushion
    min_speed: float = 0.6  # units/s, initial speed range
    max_speed: float = 1.6

    def __post_init__(self) -> None:
        if not 0 < self.ball_radius < min(self.table_half_length, self.table_half_width):
            raise ValueError("ball_radius must lie in (0, table_half_width)")
        if self.pocket_radius < 0:
            raise ValueError("pocket_radius must be >= 0")
        if self.dt <= 0 or self.friction_deceleration < 0:
            raise ValueError("dt must be > 0 and friction_deceleration >= 0")
        if not 0 <= self.restitution <= 1:
            raise ValueError("restitution must lie in [0, 1]")
        if not 0 <= self.min_speed <= self.max_speed:
            raise ValueError("need 0 <= min_speed <= max_speed")
        # One reflection per axis and step is exact only if a step cannot cross the table.
        if self.max_speed * self.dt >= 2 * float(np.min(self.position_limit)):
            raise ValueError("max_speed * dt must be smaller than the table's free width")

    @property
    def position_limit(self) -> np.ndarray:
        """(2,): largest |x| and |y| the ball's centre can reach on the table."""
        return np.array([self.table_half_length, self.table_half_width]) - self.ball_radius

    @property
    def pockets(self) -> np.ndarray:
        """(6, 2) pocket centres: four corners, then the middles of the long sides."""
        length, width = self.table_half_length, self.table_half_width
        return np.array(
            [(-length, -width), (length, -width), (-length, width), (length, width), (0.0, -width), (0.0, width)]
        )


class BilliardBallState(NamedTuple):
    position: np.ndarray  # (n, 2) units; a pocketed ball sits at its pocket's centre
    velocity: np.ndarray  # (n, 2) units/s
    pocketed: np.ndarray  # (n,) bool


class BilliardBallDynamics(Dynamics[BilliardBallState, BilliardBallConfig]):
    """Constant-deceleration rolling with exact, lossy cushion reflections and pockets."""

    num_reset_uniforms = 4
    reset_option_keys = ("position", "velocity")

    def __init__(self, config: BilliardBallConfig) -> None:
        super().__init__(config)
        # Per-step constants, computed once.
        self._limit = config.position_limit.tolist()
        self._pockets, self._pocket_radius = config.pockets, config.pocket_radius

    def initial_state(self, uniforms: np.ndarray) -> BilliardBallState:
        cfg = self.config
        position = (2.0 * uniforms[:, 0:2] - 1.0) * cfg.position_limit
        angle = 2.0 * np.pi * uniforms[:, 2]
        speed = cfg.min_speed + (cfg.max_speed - cfg.min_speed) * uniforms[:, 3]
        velocity = np.stack([np.cos(angle), np.sin(angle)], axis=1) * speed[:, None]
        # A start within a pocket's radius is on the table; it drops in the first step.
        return BilliardBallState(position, velocity, np.zeros(len(uniforms), dtype=bool))

    def apply_reset_options(self, state: BilliardBallState, options: Mapping[str, Any]) -> BilliardBallState:
        limit, vmax = self.config.position_limit, self.config.max_speed
        position, velocity = state.position.copy(), state.velocity.copy()
        if "position" in options:
            position[:] = as_point(options["position"], "position", -limit, limit)
        if "velocity" in options:
            velocity[:] = as_point(options["velocity"], "velocity", -vmax, vmax)
        return BilliardBallState(position, velocity, state.pocketed.copy())

    def step(self, state: BilliardBallState, action: np.ndarray) -> Transition[BilliardBallState]:
        cfg = self.config
        # Per axis on contiguous columns: numpy is much slower broadcasting over a
        # trailing axis of length 2.
        vx, vy = state.velocity[:, 0], state.velocity[:, 1]
        speed = np.sqrt(vx**2 + vy**2)
        slowed_speed = np.maximum(speed - cfg.friction_deceleration * cfg.dt, 0.0)
        # A ball at rest has slowed_speed 0, so the guarded division gives scale 0.
        scale = slowed_speed / np.maximum(speed, np.finfo(np.float64).tiny)
        travel_x, travel_y = vx * scale * cfg.dt, vy * scale * cfg.dt

        # A ball past a cushion bounces back by its overshoot shortened by restitution:
        # the distance it still travels after impact at the reduced normal speed.
        # At most one cushion per axis is crossed (see BilliardBallConfig's check).
        e = cfg.restitution
        start_x, start_y = state.position[:, 0], state.position[:, 1]
        x, bounced_x = _reflect(start_x + travel_x, self._limit[0], e)
        y, bounced_y = _reflect(start_y + travel_y, self._limit[1], e)
        new_vx = np.where(bounced_x, -e, 1.0) * (vx * scale)
        new_vy = np.where(bounced_y, -e, 1.0) * (vy * scale)
        collided = bounced_x | bounced_y

        # Pockets lie beyond the reflection lines, so the straight path before any
        # reflection is the part of the step that comes closest to them.
        pocketed = state.pocketed.copy()
        drops = np.zeros_like(pocketed)
        if self._pocket_radius > 0:
            if pocketed.any():  # a pocketed ball stays where it is (beyond the cushion lines)
                x, y = np.where(pocketed, start_x, x), np.where(pocketed, start_y, y)
                collided &= ~pocketed
            dropping, pocket = _pocket_hits(
                start_y, travel_y, state.position, travel_x, pocketed, self._pockets, self._pocket_radius
            )
            if dropping.size:
                drops[dropping] = pocketed[dropping] = True
                x[dropping], y[dropping] = self._pockets[pocket, 0], self._pockets[pocket, 1]
                new_vx[dropping] = new_vy[dropping] = 0.0
                collided[dropping] = False
        position = np.stack([x, y], axis=1)
        velocity = np.stack([new_vx, new_vy], axis=1)

        came_to_rest = (slowed_speed == 0.0) & (speed > 0.0) & ~state.pocketed
        n = position.shape[0]
        return Transition(
            BilliardBallState(position, velocity, pocketed),
            reward=np.zeros(n),
            terminated=pocketed if cfg.terminate_on_pocket else np.zeros(n, dtype=bool),
            hidden_changed={"velocity": collided | came_to_rest | drops, "pocketed": drops},
        )

    def observe(self, state: BilliardBallState) -> np.ndarray:
        return state.position.astype(np.float32)

    def hidden(self, state: BilliardBallState) -> dict[str, np.ndarray]:
        return {"velocity": state.velocity.astype(np.float32), "pocketed": state.pocketed.astype(np.int64)}


def _reflect(coordinate: np.ndarray, limit: float, restitution: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates past +-limit mirrored back by their overshoot times ``restitution``,
    and which ones bounced."""
    overshoot = np.maximum(coordinate - limit, 0.0) - np.maximum(-limit - coordinate, 0.0)
    return coordinate - (1.0 + restitution) * overshoot, overshoot != 0.0


def _pocket_hits(
    start_y: np.ndarray,
    travel_y: np.ndarray,
    start: np.ndarray,
    travel_x: np.ndarray,
    pocketed: np.ndarray,
    pockets: np.ndarray,
    radius: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose segment from ``start`` (n, 2) by (travel_x, travel_y) passes within
    ``radius`` of a pocket's centre (balls not yet pocketed), and the index of the first
    such pocket per row."""
    # Every pocket lies on a long cushion line (|y| = half width), so only segments that
    # come within the radius of those lines can reach one: test those alone.
    edge = abs(pockets[0, 1]) - radius
    near = np.flatnonzero(((np.abs(start_y) > edge) | (np.abs(start_y + travel_y) > edge)) & ~pocketed)
    if near.size == 0:
        return near, near
    # (m, 6) for the m candidates: closest approach of each segment to each pocket.
    offset_x = pockets[:, 0] - start[near, 0:1]
    offset_y = pockets[:, 1] - start[near, 1:2]
    step_x, step_y = travel_x[near, None], travel_y[near, None]
    length_sq = np.maximum(step_x**2 + step_y**2, np.finfo(np.float64).tiny)
    along = np.minimum(np.maximum((offset_x * step_x + offset_y * step_y) / length_sq, 0.0), 1.0)
    inside = (offset_x - along * step_x) ** 2 + (offset_y - along * step_y) ** 2 < radius**2
    hit = inside.any(axis=1)
    return near[hit], np.argmax(inside[hit], axis=1)

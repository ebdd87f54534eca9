"""Shepherd dynamics: a sheep walks down behind a wall while an agent with a cage waits
below; pulling a lever opens the gate in the wall and lets the sheep walk out.

Units: world coordinates. The wall runs along y = 0; the field below it,
x in [-0.95, 2.95], y in [-0.95, -0.05], holds the agent and the cage; the stable
above it holds the sheep (x in [1.05, 2.95], y up to 0.95).

The order of updates within one step is the GateL0RD paper's (its data depend on it):

1. agent and held cage move by ``step_size * (dx, dy)``, not yet clipped;
2. the sheep walks down (while at or above the wall, or once the gate is open); a sheep
   below the wall height with the gate closed is hidden and put back at y = 0, where it
   waits; a caught sheep is only kept at or below the (unclipped) cage;
3. agent and cage are clipped to the field, the sheep to the stable (or, with the gate
   open, down to y = -1.05);
4. the lever is checked: so on the step the gate opens the sheep is still hidden, and it
   reappears at the stable's mouth (y = -0.025) on the next step;
5. the cage is dropped (``grasp <= 0``) or picked up (``grasp > 0`` within reach);
6. a sheep within reach of a dropped cage below the open gate is caught, for good.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import numpy as np

from pomdp_envs.core.dynamics import Dynamics, Transition, as_point, as_scalar, distance

FIELD_LOW = np.array([-0.95, -0.95])
FIELD_HIGH = np.array([2.95, -0.05])
SHEEP_X_LIMITS = (1.05, 2.95)
SHEEP_TOP_Y = 0.95
SHEEP_BOTTOM_Y = -1.05  # a sheep that missed the cage walks down to here
SHEEP_START_Y_JITTER = 0.005  # start height 0.95 +- this
WALL_HEIGHT_LIMITS = (0.0, SHEEP_TOP_Y)
# Observation frame of the paper: agent and cage as ((x - 1) / 2, (y + 0.5) / 2),
# the sheep as (x - 2, y), (0, 0) while hidden.
FIELD_OBS_SHIFT = np.array([1.0, -0.5])
FIELD_OBS_SCALE = 2.0
SHEEP_OBS_SHIFT = np.array([2.0, 0.0])
# Start ranges before the first clip (see ShepherdDynamics.initial_state).
START_X_RANGES = {"left": (-5.0, 3.0), "right": (1.0, 3.0)}
START_Y_RANGE = (-2.0, 0.0)
CAGE_START_OFFSET = 0.05  # the cage starts within this of the agent, per axis
WallHeights = Literal["train", "generalisation", "fixed"]


@dataclasses.dataclass(frozen=True)
class ShepherdConfig:
    """Layout and task constants (defaults reproduce the GateL0RD paper's environment)."""

    step_size: float = 0.1  # world units moved per unit of action
    lever_xy: tuple[float, float] = (-0.85, 0.0)
    lever_reach: float = 0.2  # agent closer than this opens the gate
    grasp_reach: float = 0.1  # agent closer than this to the cage can pick it up
    catch_reach: float = 0.1  # sheep closer than this to the dropped cage is caught
    sheep_speed: float = 0.025  # world units per step, downwards
    sheep_x_range: tuple[float, float] = (1.5, 2.5)
    #: "left": agent x drawn in [-5, 3] (about half the starts lie beyond the left wall
    #: and are clipped to it, near the lever, by the first step); "right": in [1, 3].
    start_side: Literal["left", "right"] = "left"
    #: "train": h uniform in [0.35, 0.65]; "generalisation": 0.5 +- U(0.15, 0.30),
    #: outside the training range; "fixed": 0.5.
    wall_heights: WallHeights = "train"
    #: The paper does not clip start positions (first observations can lie outside the
    #: field, agent x' down to -3). True clips agent and cage into the field at reset.
    clip_start: bool = False
    terminate_on_catch: bool = True

    def __post_init__(self) -> None:
        if min(self.step_size, self.lever_reach, self.grasp_reach, self.catch_reach, self.sheep_speed) <= 0:
            raise ValueError("step_size, reaches and sheep_speed must be > 0")
        low, high = self.sheep_x_range
        if not SHEEP_X_LIMITS[0] <= low <= high <= SHEEP_X_LIMITS[1]:
            raise ValueError(f"sheep_x_range must lie within {SHEEP_X_LIMITS}")
        if self.start_side not in START_X_RANGES:
            raise ValueError(f"start_side must be one of {sorted(START_X_RANGES)}, got {self.start_side!r}")
        if self.wall_heights not in ("train", "generalisation", "fixed"):
            raise ValueError(f"wall_heights must be 'train', 'generalisation' or 'fixed', got {self.wall_heights!r}")


class ShepherdState(NamedTuple):
    # One (n,) array per coordinate: numpy is much slower broadcasting over a
    # trailing axis of length 2 than over contiguous 1-d arrays.
    agent_x: np.ndarray
    agent_y: np.ndarray
    cage_x: np.ndarray
    cage_y: np.ndarray
    cage_held: np.ndarray  # bool
    sheep_x: np.ndarray  # true position, also while hidden
    sheep_y: np.ndarray
    sheep_hidden: np.ndarray  # bool: masked in the observation
    wall_height: np.ndarray  # the sheep is hidden below this y while the gate is closed
    gate_open: np.ndarray  # bool
    sheep_caught: np.ndarray  # bool


def wall_heights(mode: WallHeights, magnitude_uniform: np.ndarray, sign_uniform: np.ndarray) -> np.ndarray:
    """Wall heights h of the paper's three reset modes from two U[0, 1) draws each."""
    if mode == "fixed":
        return np.full(len(magnitude_uniform), 0.5)
    if mode == "generalisation":
        return 0.5 + np.where(sign_uniform < 0.5, -1.0, 1.0) * (0.15 + 0.15 * magnitude_uniform)
    return 0.35 + 0.3 * magnitude_uniform


class ShepherdDynamics(Dynamics[ShepherdState, ShepherdConfig]):
    """Kinematic agent and cage, a latched gate, and a sheep that walks straight down."""

    num_reset_uniforms = 8
    reset_option_keys = ("agent_xy", "sheep_x", "wall_height")

    def initial_state(self, uniforms: np.ndarray) -> ShepherdState:
        cfg = self.config
        n = len(uniforms)
        x_low, x_high = START_X_RANGES[cfg.start_side]
        agent_x = x_low + uniforms[:, 0] * (x_high - x_low)
        agent_y = START_Y_RANGE[0] + uniforms[:, 1] * (START_Y_RANGE[1] - START_Y_RANGE[0])
        cage_x = agent_x + (2.0 * uniforms[:, 2] - 1.0) * CAGE_START_OFFSET
        cage_y = agent_y + (2.0 * uniforms[:, 3] - 1.0) * CAGE_START_OFFSET
        if cfg.clip_start:
            agent_x, agent_y, cage_x, cage_y = _clip_to_field(agent_x, agent_y, cage_x, cage_y)
        s_low, s_high = cfg.sheep_x_range
        sheep_x = s_low + uniforms[:, 6] * (s_high - s_low)
        sheep_y = SHEEP_TOP_Y + (2.0 * uniforms[:, 7] - 1.0) * SHEEP_START_Y_JITTER
        false = np.zeros(n, dtype=bool)
        return ShepherdState(
            agent_x,
            agent_y,
            cage_x,
            cage_y,
            ~false,
            sheep_x,
            sheep_y,
            false,
            wall_heights(cfg.wall_heights, uniforms[:, 4], uniforms[:, 5]),
            false.copy(),
            false.copy(),
        )

    def apply_reset_options(self, state: ShepherdState, options: Mapping[str, Any]) -> ShepherdState:
        fields = {name: value.copy() for name, value in state._asdict().items()}
        if "agent_xy" in options:
            x, y = as_point(options["agent_xy"], "agent_xy", FIELD_LOW, FIELD_HIGH)
            # The held cage keeps its offset from the agent.
            fields["cage_x"] = np.clip(fields["cage_x"] - fields["agent_x"] + x, FIELD_LOW[0], FIELD_HIGH[0])
            fields["cage_y"] = np.clip(fields["cage_y"] - fields["agent_y"] + y, FIELD_LOW[1], FIELD_HIGH[1])
            fields["agent_x"][:], fields["agent_y"][:] = x, y
        if "sheep_x" in options:
            fields["sheep_x"][:] = as_scalar(options["sheep_x"], "sheep_x", *SHEEP_X_LIMITS)
        if "wall_height" in options:
            fields["wall_height"][:] = as_scalar(options["wall_height"], "wall_height", *WALL_HEIGHT_LIMITS)
        return ShepherdState(**fields)

    def step(self, state: ShepherdState, action: np.ndarray) -> Transition[ShepherdState]:
        cfg = self.config
        dx, dy = cfg.step_size * action[:, 0], cfg.step_size * action[:, 1]
        held = state.cage_held
        agent_x, agent_y = state.agent_x + dx, state.agent_y + dy
        cage_x, cage_y = state.cage_x + dx * held, state.cage_y + dy * held

        free = ~state.sheep_caught
        walks = free & ((state.sheep_y >= 0.0) | state.gate_open)
        sheep_y = state.sheep_y - cfg.sheep_speed * walks
        hides = free & ~state.gate_open & (sheep_y < state.wall_height)
        sheep_y = np.where(hides, 0.0, sheep_y)
        sheep_hidden = np.where(free, hides, state.sheep_hidden)
        sheep_y = np.where(free, sheep_y, np.minimum(sheep_y, cage_y))

        agent_x, agent_y, cage_x, cage_y = _clip_to_field(agent_x, agent_y, cage_x, cage_y)
        sheep_y = np.clip(sheep_y, np.where(state.gate_open, SHEEP_BOTTOM_Y, 0.0), SHEEP_TOP_Y)

        gate_open = state.gate_open | (distance(agent_x, agent_y, *cfg.lever_xy) < cfg.lever_reach)

        wants_grasp = action[:, 2] > 0.0
        near_cage = distance(agent_x, agent_y, cage_x, cage_y) < cfg.grasp_reach
        cage_held = wants_grasp & (held | near_cage)

        caught = state.sheep_caught | (
            gate_open & ~cage_held & (distance(cage_x, cage_y, state.sheep_x, sheep_y) < cfg.catch_reach)
        )
        new_state = ShepherdState(
            agent_x,
            agent_y,
            cage_x,
            cage_y,
            cage_held,
            state.sheep_x,
            sheep_y,
            sheep_hidden,
            state.wall_height,
            gate_open,
            caught,
        )
        newly_caught = caught & ~state.sheep_caught
        reached_bottom = (sheep_y <= SHEEP_BOTTOM_Y) & (state.sheep_y > SHEEP_BOTTOM_Y)
        return Transition(
            new_state,
            # Reward 1 on every step the sheep is in the cage, as in the paper's env.
            reward=caught.astype(np.float64),
            terminated=caught if cfg.terminate_on_catch else np.zeros_like(caught),
            hidden_changed={
                # The sheep's position drifts every step it walks; what changes sparsely
                # is how it moves: it is put behind the wall and waits there, walks out
                # after the gate opened, stops at the bottom or in the cage.
                "sheep_xy": (sheep_hidden != state.sheep_hidden) | newly_caught | reached_bottom,
                "gate_open": gate_open != state.gate_open,
                "cage_held": cage_held != state.cage_held,
                "sheep_caught": newly_caught,
            },
        )

    def observe(self, state: ShepherdState) -> np.ndarray:
        obs = np.empty((len(state.agent_x), 7), dtype=np.float32)
        obs[:, 0] = (state.agent_x - FIELD_OBS_SHIFT[0]) / FIELD_OBS_SCALE
        obs[:, 1] = (state.agent_y - FIELD_OBS_SHIFT[1]) / FIELD_OBS_SCALE
        obs[:, 2] = (state.cage_x - FIELD_OBS_SHIFT[0]) / FIELD_OBS_SCALE
        obs[:, 3] = (state.cage_y - FIELD_OBS_SHIFT[1]) / FIELD_OBS_SCALE
        obs[:, 4] = np.where(state.sheep_hidden, 0.0, state.sheep_x - SHEEP_OBS_SHIFT[0])
        obs[:, 5] = np.where(state.sheep_hidden, 0.0, state.sheep_y - SHEEP_OBS_SHIFT[1])
        obs[:, 6] = state.wall_height
        return obs

    def hidden(self, state: ShepherdState) -> dict[str, np.ndarray]:
        sheep_xy = np.empty((len(state.sheep_x), 2), dtype=np.float32)
        sheep_xy[:, 0], sheep_xy[:, 1] = state.sheep_x, state.sheep_y
        return {
            "sheep_xy": sheep_xy,
            "gate_open": state.gate_open.astype(np.int64),
            "cage_held": state.cage_held.astype(np.int64),
            "sheep_caught": state.sheep_caught.astype(np.int64),
        }

    def task_info(self, state: ShepherdState) -> dict[str, np.ndarray]:
        return {"is_success": state.sheep_caught.copy()}


def _clip_to_field(*xy: np.ndarray) -> tuple[np.ndarray, ...]:
    """Alternating x, y arrays clipped to the field."""
    return tuple(np.clip(v, FIELD_LOW[i % 2], FIELD_HIGH[i % 2]) for i, v in enumerate(xy))


class ObservedPositions(NamedTuple):
    """World positions read back from observations (any leading shape)."""

    agent_xy: np.ndarray  # (..., 2)
    cage_xy: np.ndarray  # (..., 2)
    sheep_xy: np.ndarray  # (..., 2); meaningless where ``sheep_visible`` is False
    sheep_visible: np.ndarray  # (...) bool


def observed_positions(observations: Any) -> ObservedPositions:
    """Undo the paper's observation scaling: world coordinates of agent, cage and sheep.

    Works on numpy arrays and torch tensors alike (only arithmetic and indexing).
    """
    field_shift = FIELD_OBS_SHIFT.tolist()
    agent = observations[..., 0:2] * FIELD_OBS_SCALE
    cage = observations[..., 2:4] * FIELD_OBS_SCALE
    sheep = observations[..., 4:6]
    agent_xy = agent + _like(observations, field_shift)
    cage_xy = cage + _like(observations, field_shift)
    sheep_xy = sheep + _like(observations, SHEEP_OBS_SHIFT.tolist())
    # A visible sheep is not observed at (0, 0): that is (2, 0) in the world, the wall
    # line, where a free sheep is hidden while the gate is closed and which it walks
    # past in steps of 0.025 from the stable's roof once the gate is open.
    visible = (observations[..., 4] != 0) | (observations[..., 5] != 0)
    return ObservedPositions(agent_xy, cage_xy, sheep_xy, visible)


def _like(reference: Any, values: list[float]) -> Any:
    if isinstance(reference, np.ndarray):
        return np.asarray(values, dtype=reference.dtype)
    return reference.new_tensor(values)  # torch

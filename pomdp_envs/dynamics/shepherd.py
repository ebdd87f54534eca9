"""Shepherd dynamics: a sheep walks behind an occluding wall while an agent with a cage
waits below; pulling a lever opens a gate in the wall and lets the sheep walk out.

Units: world coordinates. The wall runs along y = 0; the field below it,
x in [-0.95, 2.95], y in [-0.95, -0.05], holds the agent and the cage; the stable
above it holds the sheep (x in [1.05, 2.95]).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from pomdp_envs.core.dynamics import Dynamics, Transition, as_point, as_scalar, distance

FIELD_LOW = np.array([-0.95, -0.95])
FIELD_HIGH = np.array([2.95, -0.05])
SHEEP_X_LIMITS = (1.05, 2.95)
SHEEP_TOP_Y = 0.95
SHEEP_BOTTOM_Y = -1.05  # a sheep that missed the cage walks down to here
MASKED_SHEEP = (0.0, 0.0)  # observed sheep position while it is hidden


@dataclasses.dataclass(frozen=True)
class ShepherdConfig:
    """Layout and task constants (defaults reproduce the GateL0RD paper)."""

    step_size: float = 0.1  # world units moved per unit of action
    lever_xy: tuple[float, float] = (-0.85, 0.0)
    lever_reach: float = 0.2  # agent closer than this opens the gate
    grasp_reach: float = 0.1  # agent closer than this to the cage can pick it up
    catch_reach: float = 0.1  # sheep closer than this to the dropped cage is caught
    sheep_speed: float = 0.025  # world units per step, downwards
    sheep_x_range: tuple[float, float] = (1.5, 2.5)
    occluder_height_range: tuple[float, float] = (0.35, 0.65)
    agent_start_x_range: tuple[float, float] = (-0.95, 2.95)
    terminate_on_catch: bool = True

    def __post_init__(self) -> None:
        if min(self.step_size, self.lever_reach, self.grasp_reach, self.catch_reach, self.sheep_speed) <= 0:
            raise ValueError("step_size, reaches and sheep_speed must be > 0")
        low, high = self.sheep_x_range
        if not SHEEP_X_LIMITS[0] <= low <= high <= SHEEP_X_LIMITS[1]:
            raise ValueError(f"sheep_x_range must lie within {SHEEP_X_LIMITS}")
        low, high = self.occluder_height_range
        if not 0.0 < low <= high < SHEEP_TOP_Y:
            raise ValueError(f"occluder_height_range must lie within (0, {SHEEP_TOP_Y})")
        low, high = self.agent_start_x_range
        if not FIELD_LOW[0] <= low <= high <= FIELD_HIGH[0]:
            raise ValueError(f"agent_start_x_range must lie within [{FIELD_LOW[0]}, {FIELD_HIGH[0]}]")


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
    occluder_height: np.ndarray  # the sheep is hidden below this y while the gate is closed
    gate_open: np.ndarray  # bool
    sheep_caught: np.ndarray  # bool


class ShepherdDynamics(Dynamics[ShepherdState, ShepherdConfig]):
    """Kinematic agent and cage, a latched gate, and a sheep that walks straight down."""

    num_reset_uniforms = 6
    reset_option_keys = ("agent_xy", "sheep_x", "occluder_height")

    def initial_state(self, uniforms: np.ndarray) -> ShepherdState:
        cfg = self.config
        n = len(uniforms)
        x_low, x_high = cfg.agent_start_x_range
        agent_x = x_low + uniforms[:, 0] * (x_high - x_low)
        agent_y = FIELD_LOW[1] + uniforms[:, 1] * (FIELD_HIGH[1] - FIELD_LOW[1])
        cage_x = np.clip(agent_x + (uniforms[:, 2] - 0.5) * 0.1, FIELD_LOW[0], FIELD_HIGH[0])
        cage_y = np.clip(agent_y + (uniforms[:, 3] - 0.5) * 0.1, FIELD_LOW[1], FIELD_HIGH[1])
        h_low, h_high = cfg.occluder_height_range
        occluder_height = h_low + uniforms[:, 4] * (h_high - h_low)
        s_low, s_high = cfg.sheep_x_range
        sheep_x = s_low + uniforms[:, 5] * (s_high - s_low)
        false = np.zeros(n, dtype=bool)
        return ShepherdState(
            agent_x, agent_y, cage_x, cage_y, ~false, sheep_x, np.full(n, SHEEP_TOP_Y),
            occluder_height, false, false.copy(),
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
        if "occluder_height" in options:
            fields["occluder_height"][:] = as_scalar(options["occluder_height"], "occluder_height", 0.0, SHEEP_TOP_Y)
        return ShepherdState(**fields)

    def step(self, state: ShepherdState, action: np.ndarray) -> Transition[ShepherdState]:
        cfg = self.config
        agent_x = np.clip(state.agent_x + cfg.step_size * action[:, 0], FIELD_LOW[0], FIELD_HIGH[0])
        agent_y = np.clip(state.agent_y + cfg.step_size * action[:, 1], FIELD_LOW[1], FIELD_HIGH[1])
        # A held cage moves as far as the agent actually moved (walls included); it also
        # moves on the step it is dropped, since grasping is resolved after moving.
        held = state.cage_held
        cage_x = np.clip(state.cage_x + (agent_x - state.agent_x) * held, FIELD_LOW[0], FIELD_HIGH[0])
        cage_y = np.clip(state.cage_y + (agent_y - state.agent_y) * held, FIELD_LOW[1], FIELD_HIGH[1])

        wants_grasp = action[:, 2] > 0.0
        near_cage = distance(agent_x, agent_y, cage_x, cage_y) < cfg.grasp_reach
        cage_held = wants_grasp & (held | near_cage)

        gate_open = state.gate_open | (distance(agent_x, agent_y, *cfg.lever_xy) < cfg.lever_reach)

        # The sheep walks down in the stable; at the closed gate (y = 0) it waits.
        walking = _sheep_walks(state.sheep_y, gate_open, state.sheep_caught)
        floor = np.where(gate_open, SHEEP_BOTTOM_Y, 0.0)
        sheep_y = np.maximum(state.sheep_y - cfg.sheep_speed * walking, floor)

        caught = state.sheep_caught | (
            gate_open & ~cage_held & (distance(cage_x, cage_y, state.sheep_x, sheep_y) < cfg.catch_reach)
        )
        # A caught sheep is inside the cage and goes where the cage goes.
        sheep_x = np.where(caught, cage_x, state.sheep_x)
        sheep_y = np.where(caught, cage_y, sheep_y)

        was_walking = _sheep_walks(state.sheep_y, state.gate_open, state.sheep_caught)
        now_walking = _sheep_walks(sheep_y, gate_open, caught)
        newly_caught = caught & ~state.sheep_caught
        new_state = ShepherdState(
            agent_x, agent_y, cage_x, cage_y, cage_held, sheep_x, sheep_y, state.occluder_height, gate_open, caught
        )
        return Transition(
            new_state,
            reward=newly_caught.astype(np.float64),
            terminated=caught if cfg.terminate_on_catch else np.zeros_like(caught),
            hidden_changed={
                # The sheep's position drifts every step it walks; what changes sparsely
                # is whether it walks (it stops at the closed gate, restarts when the
                # gate opens, stops at the bottom or in the cage).
                "sheep_xy": was_walking != now_walking,
                "gate_open": gate_open != state.gate_open,
                "cage_held": cage_held != state.cage_held,
                "sheep_caught": newly_caught,
            },
        )

    def observe(self, state: ShepherdState) -> np.ndarray:
        visible = self.sheep_visible(state)
        obs = np.empty((len(visible), 7), dtype=np.float32)
        obs[:, 0] = state.occluder_height
        obs[:, 1], obs[:, 2] = state.agent_x, state.agent_y
        obs[:, 3], obs[:, 4] = state.cage_x, state.cage_y
        obs[:, 5] = np.where(visible, state.sheep_x, MASKED_SHEEP[0])
        obs[:, 6] = np.where(visible, state.sheep_y, MASKED_SHEEP[1])
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

    @staticmethod
    def sheep_visible(state: ShepherdState) -> np.ndarray:
        """(n,) bool: the sheep is above the occluder, or the gate is open."""
        return state.gate_open | (state.sheep_y >= state.occluder_height)



def _sheep_walks(sheep_y: np.ndarray, gate_open: np.ndarray, caught: np.ndarray) -> np.ndarray:
    """(n,) bool: a sheep at height ``sheep_y`` moves down on the next step."""
    return ~caught & (sheep_y > SHEEP_BOTTOM_Y) & ((sheep_y > 0.0) | gate_open)

"""Robot Remote Control dynamics: an agent, a terminal and a robot in the next room.

Units: world coordinates; the agent's room is x, y in [-0.95, 0.95], the robot's room
x in [1.05, 2.95], y in [-0.95, 0.95] (a wall at x = 1 separates them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import numpy as np

from pomdp_envs.core.dynamics import Dynamics, Transition, as_point, distance

AGENT_ROOM_LOW = np.array([-0.95, -0.95])
AGENT_ROOM_HIGH = np.array([0.95, 0.95])
ROBOT_ROOM_LOW = np.array([1.05, -0.95])
ROBOT_ROOM_HIGH = np.array([2.95, 0.95])
ROBOT_FRAME_SHIFT = np.array([2.0, 0.0])  # subtracted from the robot for the observation
# Start positions are drawn in these squares and not clipped until the first step.
AGENT_START_LOW, AGENT_START_HIGH = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
ROBOT_START_LOW, ROBOT_START_HIGH = np.array([1.0, -1.0]), np.array([3.0, 1.0])


@dataclasses.dataclass(frozen=True)
class RobotRemoteControlConfig:
    """Layout and task constants (defaults reproduce the GateL0RD paper)."""

    step_size: float = 0.1  # world units moved per unit of action
    terminal_xy: tuple[float, float] = (0.5, 0.5)
    terminal_reach: float = 0.1  # agent closer than this takes control of the robot
    goal_xy: tuple[float, float] = (2.5, -0.5)
    goal_reach: float = 0.1  # robot closer than this counts as success
    #: "sparse": 1 on every step the robot is within goal_reach, else 0 (the paper's);
    #: "dense": minus the robot's distance to the goal.
    reward_type: Literal["sparse", "dense"] = "sparse"
    #: The paper draws starts in [-1, 1]^2 (agent) and [1, 3] x [-1, 1] (robot) and
    #: clips only in the first step; True clips them into the rooms at reset.
    clip_start: bool = False
    terminate_on_success: bool = True

    def __post_init__(self) -> None:
        if self.step_size <= 0 or self.terminal_reach <= 0 or self.goal_reach <= 0:
            raise ValueError("step_size, terminal_reach and goal_reach must be > 0")
        if self.reward_type not in ("sparse", "dense"):
            raise ValueError(f"reward_type must be 'sparse' or 'dense', got {self.reward_type!r}")
        if not (np.all(AGENT_ROOM_LOW <= self.terminal_xy) and np.all(self.terminal_xy <= AGENT_ROOM_HIGH)):
            raise ValueError("terminal_xy must lie in the agent's room")
        if not (np.all(ROBOT_ROOM_LOW <= self.goal_xy) and np.all(self.goal_xy <= ROBOT_ROOM_HIGH)):
            raise ValueError("goal_xy must lie in the robot's room")


class RobotRemoteControlState(NamedTuple):
    # One (n,) array per coordinate: numpy is much slower broadcasting over a
    # trailing axis of length 2 than over contiguous 1-d arrays.
    agent_x: np.ndarray
    agent_y: np.ndarray
    robot_x: np.ndarray
    robot_y: np.ndarray
    controlled: np.ndarray  # (n,) bool, the robot follows the agent's actions


class RobotRemoteControlDynamics(Dynamics[RobotRemoteControlState, RobotRemoteControlConfig]):
    """Kinematic moves clipped to each room, and a control latch at the terminal."""

    num_reset_uniforms = 4
    reset_option_keys = ("agent_xy", "robot_xy", "controlled")

    def initial_state(self, uniforms: np.ndarray) -> RobotRemoteControlState:
        agent = AGENT_START_LOW + uniforms[:, 0:2] * (AGENT_START_HIGH - AGENT_START_LOW)
        robot = ROBOT_START_LOW + uniforms[:, 2:4] * (ROBOT_START_HIGH - ROBOT_START_LOW)
        if self.config.clip_start:
            agent = np.clip(agent, AGENT_ROOM_LOW, AGENT_ROOM_HIGH)
            robot = np.clip(robot, ROBOT_ROOM_LOW, ROBOT_ROOM_HIGH)
        controlled = np.zeros(len(uniforms), dtype=bool)
        return RobotRemoteControlState(agent[:, 0], agent[:, 1], robot[:, 0], robot[:, 1], controlled)

    def apply_reset_options(
        self, state: RobotRemoteControlState, options: Mapping[str, Any]
    ) -> RobotRemoteControlState:
        fields = {name: value.copy() for name, value in state._asdict().items()}
        if "agent_xy" in options:
            x, y = as_point(options["agent_xy"], "agent_xy", AGENT_ROOM_LOW, AGENT_ROOM_HIGH)
            fields["agent_x"][:], fields["agent_y"][:] = x, y
        if "robot_xy" in options:
            x, y = as_point(options["robot_xy"], "robot_xy", ROBOT_ROOM_LOW, ROBOT_ROOM_HIGH)
            fields["robot_x"][:], fields["robot_y"][:] = x, y
        if "controlled" in options:
            if options["controlled"] not in (0, 1, True, False):
                raise ValueError(f"reset option 'controlled' must be 0 or 1, got {options['controlled']!r}")
            fields["controlled"][:] = bool(options["controlled"])
        return RobotRemoteControlState(**fields)

    def step(self, state: RobotRemoteControlState, action: np.ndarray) -> Transition[RobotRemoteControlState]:
        cfg = self.config
        move_x = cfg.step_size * action[:, 0]
        move_y = cfg.step_size * action[:, 1]
        agent_x = np.clip(state.agent_x + move_x, AGENT_ROOM_LOW[0], AGENT_ROOM_HIGH[0])
        agent_y = np.clip(state.agent_y + move_y, AGENT_ROOM_LOW[1], AGENT_ROOM_HIGH[1])
        # The robot moves with the same action once controlled (before this step's latch).
        robot_x = np.clip(state.robot_x + move_x * state.controlled, ROBOT_ROOM_LOW[0], ROBOT_ROOM_HIGH[0])
        robot_y = np.clip(state.robot_y + move_y * state.controlled, ROBOT_ROOM_LOW[1], ROBOT_ROOM_HIGH[1])
        at_terminal = distance(agent_x, agent_y, *cfg.terminal_xy) < cfg.terminal_reach
        controlled = state.controlled | at_terminal
        goal_distance = distance(robot_x, robot_y, *cfg.goal_xy)
        success = goal_distance < cfg.goal_reach
        return Transition(
            RobotRemoteControlState(agent_x, agent_y, robot_x, robot_y, controlled),
            reward=success.astype(np.float64) if cfg.reward_type == "sparse" else -goal_distance,
            terminated=success if cfg.terminate_on_success else np.zeros_like(success),
            hidden_changed={"robot_controlled": controlled & ~state.controlled},
        )

    def observe(self, state: RobotRemoteControlState) -> np.ndarray:
        obs = np.empty((len(state.agent_x), 4), dtype=np.float32)
        obs[:, 0], obs[:, 1] = state.agent_x, state.agent_y
        obs[:, 2] = state.robot_x - ROBOT_FRAME_SHIFT[0]
        obs[:, 3] = state.robot_y - ROBOT_FRAME_SHIFT[1]
        return obs

    def hidden(self, state: RobotRemoteControlState) -> dict[str, np.ndarray]:
        return {"robot_controlled": state.controlled.astype(np.int64)}

    def task_info(self, state: RobotRemoteControlState) -> dict[str, np.ndarray]:
        """``is_success``: the robot is within ``goal_reach`` of the goal."""
        cfg = self.config
        return {"is_success": distance(state.robot_x, state.robot_y, *cfg.goal_xy) < cfg.goal_reach}

"""Robot Remote Control dynamics: an agent, a terminal and a robot in the next room.

Units: world coordinates; the agent's room is x, y in [-0.95, 0.95], the robot's room
x in [1.05, 2.95], y in [-0.95, 0.95] (a wall at x = 1 separates them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from pomdp_envs.core.dynamics import Dynamics, Transition, as_point, planar_distance

AGENT_ROOM_LOW = np.array([-0.95, -0.95])
AGENT_ROOM_HIGH = np.array([0.95, 0.95])
ROBOT_ROOM_LOW = np.array([1.05, -0.95])
ROBOT_ROOM_HIGH = np.array([2.95, 0.95])
ROBOT_FRAME_SHIFT = np.array([2.0, 0.0])  # subtracted from the robot for the observation


@dataclasses.dataclass(frozen=True)
class RobotRemoteControlConfig:
    """Layout and task constants (defaults reproduce the GateL0RD paper)."""

    step_size: float = 0.1  # world units moved per unit of action
    terminal_xy: tuple[float, float] = (0.5, 0.5)
    terminal_reach: float = 0.1  # agent closer than this takes control of the robot
    goal_xy: tuple[float, float] = (2.5, -0.5)
    goal_reach: float = 0.15  # robot closer than this counts as success
    terminate_on_success: bool = True

    def __post_init__(self) -> None:
        if self.step_size <= 0 or self.terminal_reach <= 0 or self.goal_reach <= 0:
            raise ValueError("step_size, terminal_reach and goal_reach must be > 0")
        if not (np.all(AGENT_ROOM_LOW <= self.terminal_xy) and np.all(self.terminal_xy <= AGENT_ROOM_HIGH)):
            raise ValueError("terminal_xy must lie in the agent's room")
        if not (np.all(ROBOT_ROOM_LOW <= self.goal_xy) and np.all(self.goal_xy <= ROBOT_ROOM_HIGH)):
            raise ValueError("goal_xy must lie in the robot's room")


class RobotRemoteControlState(NamedTuple):
    agent: np.ndarray  # (n, 2) world position
    robot: np.ndarray  # (n, 2) world position
    controlled: np.ndarray  # (n,) bool, the robot follows the agent's actions


class RobotRemoteControlDynamics(Dynamics[RobotRemoteControlState, RobotRemoteControlConfig]):
    """Kinematic moves clipped to each room, and a control latch at the terminal."""

    num_reset_uniforms = 4
    reset_option_keys = ("agent_xy", "robot_xy", "controlled")

    def initial_state(self, uniforms: np.ndarray) -> RobotRemoteControlState:
        agent = AGENT_ROOM_LOW + uniforms[:, 0:2] * (AGENT_ROOM_HIGH - AGENT_ROOM_LOW)
        robot = ROBOT_ROOM_LOW + uniforms[:, 2:4] * (ROBOT_ROOM_HIGH - ROBOT_ROOM_LOW)
        return RobotRemoteControlState(agent, robot, np.zeros(len(uniforms), dtype=bool))

    def apply_reset_options(
        self, state: RobotRemoteControlState, options: Mapping[str, Any]
    ) -> RobotRemoteControlState:
        agent, robot, controlled = state.agent.copy(), state.robot.copy(), state.controlled.copy()
        if "agent_xy" in options:
            agent[:] = as_point(options["agent_xy"], "agent_xy", AGENT_ROOM_LOW, AGENT_ROOM_HIGH)
        if "robot_xy" in options:
            robot[:] = as_point(options["robot_xy"], "robot_xy", ROBOT_ROOM_LOW, ROBOT_ROOM_HIGH)
        if "controlled" in options:
            if options["controlled"] not in (0, 1, True, False):
                raise ValueError(f"reset option 'controlled' must be 0 or 1, got {options['controlled']!r}")
            controlled[:] = bool(options["controlled"])
        return RobotRemoteControlState(agent, robot, controlled)

    def step(self, state: RobotRemoteControlState, action: np.ndarray) -> Transition[RobotRemoteControlState]:
        cfg = self.config
        move = cfg.step_size * action
        agent = np.clip(state.agent + move, AGENT_ROOM_LOW, AGENT_ROOM_HIGH)
        # The robot moves with the same action once controlled (before this step's latch).
        robot_move = move * state.controlled[:, None]
        robot = np.clip(state.robot + robot_move, ROBOT_ROOM_LOW, ROBOT_ROOM_HIGH)
        at_terminal = planar_distance(agent, cfg.terminal_xy) < cfg.terminal_reach
        controlled = state.controlled | at_terminal
        new_state = RobotRemoteControlState(agent, robot, controlled)
        goal_distance = planar_distance(robot, cfg.goal_xy)
        success = goal_distance < cfg.goal_reach
        return Transition(
            new_state,
            reward=-goal_distance,
            terminated=success if cfg.terminate_on_success else np.zeros_like(success),
            hidden_changed={"robot_controlled": controlled & ~state.controlled},
        )

    def observe(self, state: RobotRemoteControlState) -> np.ndarray:
        return np.concatenate([state.agent, state.robot - ROBOT_FRAME_SHIFT], axis=1).astype(np.float32)

    def hidden(self, state: RobotRemoteControlState) -> dict[str, np.ndarray]:
        return {"robot_controlled": state.controlled.astype(np.int64)}

    def task_info(self, state: RobotRemoteControlState) -> dict[str, np.ndarray]:
        """``is_success``: the robot is within ``goal_reach`` of the goal."""
        return {"is_success": planar_distance(state.robot, self.config.goal_xy) < self.config.goal_reach}


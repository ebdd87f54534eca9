"""Frames of Robot Remote Control: both rooms, terminal, goal, agent and robot."""

from __future__ import annotations

import functools

import numpy as np

from pomdp_envs.dynamics.robot_remote_control import RobotRemoteControlConfig, RobotRemoteControlState
from pomdp_envs.rendering.canvas import Canvas

PX_PER_UNIT = 200
FLOOR, WALL = (235, 232, 224), (90, 90, 96)
AGENT, ROBOT, GOAL = (40, 90, 200), (120, 120, 130), (240, 140, 30)
TERMINAL_OFF, TERMINAL_ON, LINK = (150, 40, 40), (40, 170, 70), (40, 170, 70)


@functools.lru_cache(maxsize=8)
def _rooms(config: RobotRemoteControlConfig) -> Canvas:
    """The static layer: walls, floors and the goal."""
    canvas = Canvas(4 * PX_PER_UNIT, 2 * PX_PER_UNIT, (-1.0, 3.0), (-1.0, 1.0), background=WALL)
    canvas.rect(-0.95, -0.95, 0.95, 0.95, FLOOR)
    canvas.rect(1.05, -0.95, 2.95, 0.95, FLOOR)
    gx, gy = config.goal_xy
    canvas.circle(gx, gy, config.goal_reach, GOAL, alpha=0.35)
    canvas.rect(gx - 0.05, gy - 0.05, gx + 0.05, gy + 0.05, GOAL)
    return canvas


def render_robot_remote_control(config: RobotRemoteControlConfig, state: RobotRemoteControlState) -> np.ndarray:
    canvas = _rooms(config).copy()
    controlled = bool(state.controlled[0])
    agent = (float(state.agent_x[0]), float(state.agent_y[0]))
    robot = (float(state.robot_x[0]), float(state.robot_y[0]))

    tx, ty = config.terminal_xy
    canvas.circle(tx, ty, config.terminal_reach, TERMINAL_ON if controlled else TERMINAL_OFF, alpha=0.35)
    canvas.rect(tx - 0.04, ty - 0.04, tx + 0.04, ty + 0.04, TERMINAL_ON if controlled else TERMINAL_OFF)

    if controlled:  # show the hidden link between agent and robot
        canvas.line(*agent, *robot, LINK, width=2.0, alpha=0.5)
        canvas.ring(*robot, 0.085, LINK, thickness=3.0)
    canvas.circle(*robot, 0.06, ROBOT)
    canvas.circle(*agent, 0.05, AGENT)
    return canvas.frame()

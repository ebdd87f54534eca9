"""A scripted ShapeHerd oracle that reads the true object positions from ``info``."""

from __future__ import annotations

import numpy as np

from pomdp_envs.dynamics.shape_herd import AGENT_RADIUS, GOAL_WIDTH, ShapeHerdConfig
from pomdp_envs.policies.base import Policy

OBJECT_RADIUS = 30.0  # px, a bound on the objects' extent from their centroid
CRUISE_SPEED = 250.0  # px/s when moving into position
PUSH_SPEED = 200.0  # px/s while pushing
SPEED_GAIN = 4.0  # 1/s: desired speed per px of distance to the waypoint
FORCE_GAIN = 3.0  # force per px/s of speed error


class OraclePolicy(Policy):
    """Take the object nearest the agent, get behind it (seen from the goal), push it
    through the goal's mouth; repeat. Needs ``info`` (``act(obs, info)``)."""

    def __init__(self, config: ShapeHerdConfig | None = None, seed: int | None = None) -> None:
        super().__init__(seed)
        self.config = config or ShapeHerdConfig()
        top, bottom = self.config.goal_y_range
        self.goal = np.array([self.config.goal_x + GOAL_WIDTH / 2, (top + bottom) / 2])

    def _act(self, observations: np.ndarray) -> np.ndarray:
        if self.info is None:
            raise ValueError("the ShapeHerd oracle needs the env's info: call act(observations, info)")
        hidden = self.info["hidden"]
        return np.stack([self._one(hidden, i) for i in range(len(observations))])

    def _one(self, hidden: dict, i: int) -> np.ndarray:
        agent, agent_velocity = hidden["agent_xy"][i], hidden["agent_velocity"][i]
        remaining = np.flatnonzero(hidden["object_scored"][i] == 0)
        if remaining.size == 0:
            return np.zeros(2)
        objects = hidden["object_xy"][i][remaining]
        target_object = objects[np.argmin(np.linalg.norm(objects - agent, axis=1))]
        to_goal = self.goal - target_object
        push_direction = to_goal / max(np.linalg.norm(to_goal), 1e-6)
        behind = target_object - push_direction * (OBJECT_RADIUS + AGENT_RADIUS + 5.0)
        offset = agent - target_object
        ahead = offset @ push_direction > -(OBJECT_RADIUS + AGENT_RADIUS) * 0.5
        if np.linalg.norm(agent - behind) < 12.0:
            waypoint, speed = self.goal, PUSH_SPEED  # in position: push through the mouth
        elif ahead:
            # On the wrong side: swing round the object instead of pushing it away.
            side = np.array([-push_direction[1], push_direction[0]])
            side = side if offset @ side >= 0 else -side
            waypoint = target_object + side * 2.5 * OBJECT_RADIUS - push_direction * OBJECT_RADIUS
            speed = CRUISE_SPEED
        else:
            waypoint, speed = behind, CRUISE_SPEED
        delta = waypoint - agent
        wanted = delta * min(SPEED_GAIN, speed / max(np.linalg.norm(delta), 1e-6))
        force = FORCE_GAIN * (wanted - agent_velocity)
        angle = np.arctan2(force[1], force[0]) % (2 * np.pi)
        return np.array([angle, min(np.linalg.norm(force), self.config.max_force)])

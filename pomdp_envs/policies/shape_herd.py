"""A scripted ShapeHerd oracle that reads the true object positions from ``info``."""

from __future__ import annotations

from typing import Any

import numpy as np

from pomdp_envs.core.dynamics import make_config
from pomdp_envs.policies.base import Policy
from pomdp_envs.worlds.shape_herd import (
    AGENT_RADIUS,
    CENTROIDS,
    GOAL_WIDTH,
    OUTLINES,
    SHAPES,
    WALL,
    ShapeHerdConfig,
)

#: Distance from each shape's centroid to its farthest vertex (px), by shape index.
SHAPE_RADII = np.array([np.linalg.norm(OUTLINES[name] - CENTROIDS[name], axis=1).max() for name in SHAPES])
APPROACH_SPEED = 300.0  # px/s when moving into position
PUSH_SPEED = 220.0  # px/s while pushing
SPEED_GAIN = 5.0  # 1/s: desired speed per px of distance to a waypoint
FORCE_GAIN = 3.0  # force per px/s of velocity error
LATERAL_GAIN = 2.5  # steering towards the push line, per unit of lateral offset / standoff
CLEARANCE = 8.0  # px between the agent and an object's outline radius when circling it
PATIENCE = 90  # steps an object may go without getting closer to the goal before it is set aside
PROGRESS = 15.0  # px of progress that counts


class OraclePolicy(Policy):
    """Push the objects into the goal one by one, seeing the true state.

    Picks the remaining object that is cheapest to reach and push, gets behind it on the
    line from the goal's mouth through the object (circling round it when on the wrong
    side), then pushes it along that line, steering back onto the line as it drifts.
    Where a wall leaves no room behind an object, the agent stands as far behind it as
    the wall allows; an object that stops getting closer to the goal is set aside for a
    while and another one is taken. An agent held on the goal barrier (see
    ``ShapeHerdConfig.flip_velocity_at_goal``) pauses one step to get free. Needs
    ``info`` (``act(obs, info)``). On the Basic
    arena it scores more than 4 of the 5 objects per episode on average
    (``python -m benchmarks.shape_herd_scores``).
    """

    def __init__(self, config: ShapeHerdConfig | None = None, seed: int | None = None, **config_overrides: Any) -> None:
        super().__init__(seed)
        # The env's keyword arguments (``arena_scale``, ...) give the arena it plans in.
        self.config = cfg = make_config(ShapeHerdConfig, config, config_overrides)
        top, bottom = cfg.goal_y_range
        self.goal = np.array([cfg.goal_x + GOAL_WIDTH / 2, (top + bottom) / 2])
        margin = AGENT_RADIUS + 2.0
        self.low = np.array([WALL + margin, WALL + margin])
        self.high = np.array([cfg.goal_x - margin, cfg.height - WALL - margin])
        self.memory: list[dict] = []

    def reset(self, observations: np.ndarray) -> None:
        super().reset(observations)
        self.memory = [
            {"target": -1, "best": np.inf, "since": 0, "set_aside": {}, "paused": False} for _ in observations
        ]

    def _act(self, observations: np.ndarray, info: dict | None) -> np.ndarray:
        if info is None:
            raise ValueError("the ShapeHerd oracle needs the env's info: call act(observations, info)")
        hidden = info["hidden"]
        if len(self.memory) != len(observations):
            self.reset(observations)
        return np.stack([self._one(hidden, i) for i in range(len(observations))])

    def _one(self, hidden: dict, i: int) -> np.ndarray:
        agent, agent_velocity = hidden["agent_xy"][i], hidden["agent_velocity"][i]
        remaining = np.flatnonzero(hidden["object_scored"][i] == 0)
        if remaining.size == 0:
            return self._no_push()
        objects, radii = hidden["object_xy"][i], SHAPE_RADII[hidden["object_shape"][i]]
        memory = self.memory[i]
        on_barrier = agent[0] > self.config.goal_x - AGENT_RADIUS - 0.5
        memory["paused"] = on_barrier and not memory["paused"]
        if memory["paused"]:
            return self._no_push()
        target = self._choose(memory, agent, objects, radii, remaining)
        centre, radius = objects[target], radii[target]

        distance_to_goal = float(np.linalg.norm(self.goal - centre))
        if distance_to_goal < memory["best"] - PROGRESS:
            memory["best"], memory["since"] = distance_to_goal, self.step_index
        elif self.step_index - memory["since"] > PATIENCE:
            memory["set_aside"][target] = self.step_index
            memory["target"] = -1

        push_direction = _unit(self.goal - centre)
        normal = np.array([-push_direction[1], push_direction[0]])
        standoff = radius + AGENT_RADIUS
        offset = agent - centre
        along, across = offset @ push_direction, offset @ normal
        behind = np.clip(centre - push_direction * (standoff + 4.0), self.low, self.high)
        if along < -0.5 * standoff and abs(across) < 0.6 * standoff:
            # In contact or nearly: push along the line, steering back onto it.
            wanted = PUSH_SPEED * _unit(push_direction - LATERAL_GAIN * (across / standoff) * normal)
        elif along > -0.5 * standoff and abs(across) < standoff + CLEARANCE:
            # On the object's goal side: swing round it without touching it.
            side = normal if across >= 0 else -normal
            waypoint = centre + side * (standoff + CLEARANCE) - push_direction * 0.5 * standoff
            wanted = _towards(np.clip(waypoint, self.low, self.high) - agent, APPROACH_SPEED)
        else:
            wanted = _towards(behind - agent, APPROACH_SPEED)
        force = FORCE_GAIN * (wanted - agent_velocity)
        angle = np.arctan2(force[1], force[0]) % (2 * np.pi)
        magnitude = min(float(np.linalg.norm(force)), self.config.max_force)
        if self.config.normalized_actions:
            return np.array([angle / np.pi - 1.0, 2.0 * magnitude / self.config.max_force - 1.0])
        return np.array([angle, magnitude])

    def _no_push(self) -> np.ndarray:
        return np.array([-1.0, -1.0]) if self.config.normalized_actions else np.zeros(2)

    def _choose(
        self, memory: dict, agent: np.ndarray, objects: np.ndarray, radii: np.ndarray, remaining: np.ndarray
    ) -> int:
        if memory["target"] in remaining:
            return memory["target"]
        # Objects set aside come back after a while, and when nothing else is left.
        aside = memory["set_aside"]
        fresh = [j for j in remaining if self.step_index - aside.get(j, -(10**9)) > 3 * PATIENCE]
        candidates = np.array(fresh if fresh else remaining)
        directions = np.array([_unit(self.goal - objects[j]) for j in candidates])
        behind = objects[candidates] - directions * (radii[candidates, None] + AGENT_RADIUS + 4.0)
        # Room behind the object (not inside a wall) matters most, then the way there
        # and the push.
        blocked = np.linalg.norm(behind - np.clip(behind, self.low, self.high), axis=1)
        cost = (
            np.linalg.norm(behind - agent, axis=1)
            + np.linalg.norm(self.goal - objects[candidates], axis=1)
            + 20.0 * blocked
        )
        choice = int(candidates[np.argmin(cost)])
        memory.update(target=choice, best=float(np.linalg.norm(self.goal - objects[choice])), since=self.step_index)
        return choice


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-6)


def _towards(delta: np.ndarray, speed: float) -> np.ndarray:
    """Desired velocity towards a waypoint ``delta`` away, slowing down on arrival."""
    return delta * min(SPEED_GAIN, speed / max(float(np.linalg.norm(delta)), 1e-6))

"""Policies for RobotRemoteControl-v0."""

from __future__ import annotations

import numpy as np

from pomdp_envs.dynamics.robot_remote_control import ROBOT_FRAME_SHIFT, RobotRemoteControlConfig
from pomdp_envs.policies.base import Policy, toward


class BiasedPolicy(Policy):
    """The paper's training-set policy: a random direction each step, with a magnitude
    that rises linearly from ~0 to 1 over the episode.

    Large actions, and so most visits to the terminal, happen late in an episode: a
    spurious correlation between time and control that the uniform policy breaks.
    """

    def __init__(self, episode_length: int = 50, seed: int | None = None) -> None:
        super().__init__(seed)
        self.magnitudes = np.linspace(1e-4, 1.0, episode_length)

    def _act(self, observations: np.ndarray, info: dict | None) -> np.ndarray:
        angle = self.rng.uniform(0.0, 2.0 * np.pi, size=len(observations))
        magnitude = self.magnitudes[min(self.step_index, len(self.magnitudes) - 1)]
        return magnitude * np.stack([np.sin(angle), np.cos(angle)], axis=1)


class UniformPolicy(Policy):
    """The paper's generalisation-set policy: each action component uniform in [-1, 1]."""

    def _act(self, observations: np.ndarray, info: dict | None) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, size=(len(observations), 2))


class OraclePolicy(Policy):
    """Walk onto the terminal, then drive the robot straight to the goal.

    It remembers, per env, whether it has stood on the terminal: the control it takes
    there is not in the observation.
    """

    def __init__(self, config: RobotRemoteControlConfig | None = None, seed: int | None = None) -> None:
        super().__init__(seed)
        self.config = config or RobotRemoteControlConfig()
        self.visited_terminal = np.zeros(0, dtype=bool)

    def reset(self, observations: np.ndarray) -> None:
        super().reset(observations)
        self.visited_terminal = np.zeros(len(observations), dtype=bool)

    def _act(self, observations: np.ndarray, info: dict | None) -> np.ndarray:
        cfg = self.config
        agent = observations[:, 0:2]
        robot = observations[:, 2:4] + ROBOT_FRAME_SHIFT
        terminal = np.asarray(cfg.terminal_xy)
        # The walk lands exactly on the terminal, far inside its reach.
        on_terminal = np.linalg.norm(agent - terminal, axis=1) < 0.5 * cfg.terminal_reach
        self.visited_terminal |= on_terminal
        to_terminal = toward(agent, terminal, cfg.step_size)
        to_goal = toward(robot, np.asarray(cfg.goal_xy), cfg.step_size)
        return np.where(self.visited_terminal[:, None], to_goal, to_terminal)

"""The policy interface: batched over envs, seeded, with per-episode memory."""

from __future__ import annotations

import abc

import numpy as np


class Policy(abc.ABC):
    """Maps a batch of observations (n, obs_dim) to a batch of actions (n, act_dim).

    ``reset`` starts new episodes from their first observations; ``act`` is then called
    once per step with the env's latest info (batched like the observations), from which
    scripted oracles read the true hidden state. All randomness comes from ``self.rng``,
    seeded at construction. For a single env, use ``reset_one`` / ``act_one`` with
    unbatched arrays.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)
        self.step_index = 0

    def reset(self, observations: np.ndarray) -> None:
        """Begin a batch of episodes; subclasses extend this to clear their memory."""
        self.step_index = 0

    def act(self, observations: np.ndarray, info: dict | None = None) -> np.ndarray:
        actions = np.asarray(self._act(np.asarray(observations, dtype=np.float64), info))
        self.step_index += 1
        # Box spaces here are float32; integer actions (Discrete) pass through.
        return actions.astype(np.float32) if actions.dtype.kind == "f" else actions

    @abc.abstractmethod
    def _act(self, observations: np.ndarray, info: dict | None) -> np.ndarray:
        """Actions for the current ``step_index`` (``info`` is None when the caller has none)."""

    def reset_one(self, observation: np.ndarray) -> None:
        self.reset(np.asarray(observation)[None])

    def act_one(self, observation: np.ndarray, info: dict | None = None) -> np.ndarray:
        return self.act(np.asarray(observation)[None], None if info is None else batch_info(info))[0]


def batch_info(info: dict) -> dict:
    """A single env's info with a leading env axis of one on every value."""
    return {
        key: batch_info(value) if isinstance(value, dict) else np.asarray(value)[None] for key, value in info.items()
    }


def toward(position: np.ndarray, target: np.ndarray, step_size: float) -> np.ndarray:
    """Actions in [-1, 1] that move ``position`` onto ``target`` as fast as possible."""
    return np.clip((target - position) / step_size, -1.0, 1.0)


class NoOpPolicy(Policy):
    """Action 0 for every env: the only action of envs without control (Discrete(1))."""

    def _act(self, observations: np.ndarray, info: dict | None) -> np.ndarray:
        return np.zeros(len(observations), dtype=np.int64)


class SampleActionPolicy(Policy):
    """Uniform samples of a single-env action space, one per env (any space)."""

    def __init__(self, action_space, seed: int | None = None) -> None:
        super().__init__(seed)
        self.action_space = action_space
        self.action_space.seed(seed)

    def _act(self, observations: np.ndarray, info: dict | None) -> np.ndarray:
        return np.stack([self.action_space.sample() for _ in range(len(observations))])

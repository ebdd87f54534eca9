"""Rollout helpers for the env tests."""

from __future__ import annotations

import gymnasium as gym
from gymnasium.utils.env_checker import data_equivalence


def rollout(env: gym.Env, seed: int, steps: int) -> list:
    """Reset with ``seed``, then step with actions sampled from a space seeded alike."""
    env.action_space.seed(seed)
    records = [env.reset(seed=seed)]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        records.append((obs, reward, terminated, truncated, info))
        if terminated or truncated:
            records.append(env.reset())
    return records


def assert_same(a, b, context: str = "") -> None:
    assert data_equivalence(a, b, exact=True), f"outputs differ {context}:\n{a}\n!=\n{b}"

"""Seeded, batched policies: the papers' data-collection policies and scripted oracles.

``make_policy(env_id, name, seed)`` builds one by name; ``policy_names(env_id)`` lists
the names an env offers (every env has ``random``; the others are listed on the env's
registry entry, ``pomdp_envs.registration``).
"""

from __future__ import annotations

import gymnasium as gym

from pomdp_envs import registration
from pomdp_envs.policies.base import NoOpPolicy, Policy, SampleActionPolicy

__all__ = ["NoOpPolicy", "Policy", "SampleActionPolicy", "make_policy", "policy_names"]


def _named_policies(env_id: str) -> dict[str, registration.PolicyEntry]:
    entry = registration.find_entry(env_id)
    return {} if entry is None else entry.policies


def policy_names(env_id: str) -> list[str]:
    return ["random", *_named_policies(env_id)]


def make_policy(env_id: str, name: str, seed: int | None = None) -> Policy:
    """The policy ``name`` for ``env_id``; ``ValueError`` lists the choices."""
    if name == "random":
        env = gym.spec(env_id).make()  # built only to read its action space
        try:
            return SampleActionPolicy(env.action_space, seed)
        finally:
            env.close()
    named = _named_policies(env_id)
    if name not in named:
        raise ValueError(f"{env_id} has no policy {name!r}; choose from {policy_names(env_id)}")
    policy = named[name]
    return policy.load()(seed=seed, **policy.kwargs)

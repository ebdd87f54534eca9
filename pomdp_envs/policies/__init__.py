"""Seeded, batched policies: the papers' data-collection policies and scripted oracles.

``make_policy(env_id, name, seed)`` builds one by name; ``policy_names(env_id)`` lists
the names an env offers (every env has ``random``).
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym

from pomdp_envs.policies.base import NoOpPolicy, Policy, SampleActionPolicy

__all__ = ["NoOpPolicy", "Policy", "SampleActionPolicy", "make_policy", "policy_names"]


def _named_policies(env_id: str) -> dict[str, Callable[[int | None], Policy]]:
    from pomdp_envs.policies import robot_remote_control as rrc
    from pomdp_envs.policies import shepherd

    if env_id.startswith("pomdp_envs/ShapeHerd"):
        from pomdp_envs.dynamics.shape_herd import ShapeHerdConfig
        from pomdp_envs.policies.shape_herd import OraclePolicy

        config = ShapeHerdConfig(**gym.spec(env_id).kwargs)
        return {"oracle": lambda seed: OraclePolicy(config, seed=seed)}
    if env_id == "pomdp_envs/FetchPickAndPlacePO-v0":
        from pomdp_envs.policies.fetch_pick_and_place import ReachGraspTransportPolicy

        return {
            "oracle": lambda seed: ReachGraspTransportPolicy(seed=seed),
            "grasp-later": lambda seed: ReachGraspTransportPolicy(grasp_step=18, seed=seed),
        }

    named: dict[str, dict[str, Callable[[int | None], Policy]]] = {
        "pomdp_envs/RobotRemoteControl-v0": {
            "oracle": lambda seed: rrc.OraclePolicy(seed=seed),
            "biased": lambda seed: rrc.BiasedPolicy(seed=seed),
            "uniform": lambda seed: rrc.UniformPolicy(seed=seed),
        },
        "pomdp_envs/Shepherd-v0": {
            "oracle": lambda seed: shepherd.OraclePolicy(seed=seed),
            "paper": lambda seed: shepherd.RandomPolicy(seed=seed),
        },
    }
    return named.get(env_id, {})


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
    return named[name](seed)

"""Seeded, batched policies: the papers' data-collection policies and scripted oracles."""

from pomdp_envs.policies.base import Policy

__all__ = ["Policy"]

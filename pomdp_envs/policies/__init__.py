"""Seeded, batched policies: the papers' data-collection policies and scripted oracles."""

from pomdp_envs.policies.base import NoOpPolicy, Policy

__all__ = ["NoOpPolicy", "Policy"]

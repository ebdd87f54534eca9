"""Partially observable Gymnasium environments whose hidden factors change sparsely.

Importing the package registers every id under the ``pomdp_envs/`` namespace::

    import gymnasium as gym
    env = gym.make("pomdp_envs:pomdp_envs/BilliardBall-v0")  # imports pomdp_envs first

Each env reports its true hidden factors in ``info["hidden"]`` and their change events
in ``info["hidden_changed"]`` (see :mod:`pomdp_envs.core.hidden`).
"""

from pomdp_envs.registration import ENTRIES, env_ids, register_envs

__version__ = "0.1.0"
__all__ = ["ENTRIES", "env_ids", "register_envs", "__version__"]

register_envs()

"""Envs built on an upstream env (MiniGrid, Gymnasium-Robotics Fetch), one module each;
each class docstring is that environment's documentation. ``FullyObservable`` gives any
env's fully observable variant."""

from pomdp_envs.wrappers.fully_observable import FullyObservable, FullyObservableVector

__all__ = ["FullyObservable", "FullyObservableVector"]

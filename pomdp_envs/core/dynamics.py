"""The contract between batched numpy dynamics and the Gymnasium shells.

A dynamics object holds only its (frozen) config; every method is a pure function of
its arguments and returns new arrays. States are ``NamedTuple``s of arrays whose first
axis indexes environments, so one implementation serves a single env (batch of one)
and a native vector env (batch of N).

Randomness never happens inside the dynamics: ``initial_state`` maps a block of
U[0, 1) draws to start states. The shells draw that block from each sub-environment's
own generator, which is what makes a vector env step-for-step identical to N single
envs seeded ``seed, seed + 1, ...``.

This module imports neither gymnasium nor any renderer.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

import numpy as np

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

State = TypeVar("State", bound=tuple)
Config = TypeVar("Config", bound="DataclassInstance")


class Transition(NamedTuple, Generic[State]):
    """Result of one batched step (every array has a leading env axis of length n)."""

    state: State
    reward: np.ndarray  # (n,) float64
    terminated: np.ndarray  # (n,) bool
    hidden_changed: dict[str, np.ndarray]  # name -> (n,) bool


class Dynamics(abc.ABC, Generic[State, Config]):
    """Batched, side-effect-free dynamics of one environment family."""

    #: How many U[0, 1) numbers ``initial_state`` consumes per environment.
    num_reset_uniforms: int
    #: Keys accepted in ``reset(options=...)``.
    reset_option_keys: tuple[str, ...] = ()

    def __init__(self, config: Config) -> None:
        self.config = config

    @abc.abstractmethod
    def initial_state(self, uniforms: np.ndarray) -> State:
        """Start states from ``uniforms`` of shape (n, num_reset_uniforms)."""

    @abc.abstractmethod
    def step(self, state: State, action: np.ndarray) -> Transition[State]:
        """Advance every environment by one step under a batch of actions."""

    @abc.abstractmethod
    def observe(self, state: State) -> np.ndarray:
        """Observations, shape (n, *obs_shape)."""

    @abc.abstractmethod
    def hidden(self, state: State) -> dict[str, np.ndarray]:
        """True hidden factors, name -> array with leading axis n."""

    def task_info(self, state: State) -> dict[str, np.ndarray]:
        """Extra per-env info entries such as ``is_success`` (bool arrays of shape (n,))."""
        return {}

    def apply_reset_options(self, state: State, options: Mapping[str, Any]) -> State:
        """Override parts of the start state; keys were already checked by the shell."""
        return state


def take_state(state: State, index: int) -> State:
    """Environment ``index`` of a batched state, kept as a batch of one."""
    return type(state)(*(field[index : index + 1] for field in state))


def make_config(config_cls: type[Config], config: Config | None, overrides: Mapping[str, Any]) -> Config:
    """A config from an optional base instance plus keyword overrides.

    Unknown keyword names raise ``TypeError`` listing the accepted ones.
    """
    if config is not None and not isinstance(config, config_cls):
        raise TypeError(f"config must be a {config_cls.__name__}, got {type(config).__name__}")
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"unknown {config_cls.__name__} field(s) {unknown}; accepted: {sorted(names)}")
    return dataclasses.replace(config if config is not None else config_cls(), **overrides)


def as_point(value: Any, name: str, low: Any, high: Any) -> np.ndarray:
    """Validate a 2-d point given in a reset option; raise ``ValueError`` naming it.

    ``low`` and ``high`` are scalars or per-axis pairs (inclusive bounds).
    """
    point = np.asarray(value, dtype=np.float64)
    if point.shape != (2,):
        raise ValueError(f"reset option {name!r} must have shape (2,), got {point.shape}")
    low, high = np.broadcast_to(low, (2,)), np.broadcast_to(high, (2,))
    if not np.all(np.isfinite(point)) or np.any(point < low) or np.any(point > high):
        raise ValueError(
            f"reset option {name!r} must lie in x [{low[0]}, {high[0]}], y [{low[1]}, {high[1]}], got {point.tolist()}"
        )
    return point


def as_scalar(value: Any, name: str, low: float, high: float) -> float:
    """Validate a number given in a reset option; raise ``ValueError`` naming it."""
    number = float(value)
    if not low <= number <= high:
        raise ValueError(f"reset option {name!r} must lie in [{low}, {high}], got {number}")
    return number


def distance(x: np.ndarray, y: np.ndarray, to_x: Any, to_y: Any) -> np.ndarray:
    """Euclidean distance from points (x, y) to points or a point (to_x, to_y)."""
    # sqrt of squares: several times faster than np.hypot on large arrays.
    return np.sqrt((x - to_x) ** 2 + (y - to_y) ** 2)

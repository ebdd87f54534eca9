"""Input validation shared by the single and vector shells: clear errors, no asserts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import logger, spaces
from gymnasium.error import ResetNeeded


class ActionChecker:
    """Validates actions for one single-env action space, raising ``ValueError``.

    Built once per env so that the per-step check only compares against precomputed
    bounds (scalar when uniform: broadcasting scalars is far faster on (n, 2) arrays).
    """

    def __init__(self, space: spaces.Space) -> None:
        self.low: float | np.ndarray
        self.high: float | np.ndarray
        if isinstance(space, spaces.Discrete):
            self.low, self.high = int(space.start), int(space.start + space.n - 1)
            self.shape: tuple[int, ...] = ()
        elif isinstance(space, spaces.Box):
            self.low, self.high = _as_scalar_if_uniform(space.low), _as_scalar_if_uniform(space.high)
            self.shape = space.shape
        else:
            raise TypeError(f"unsupported action space {space}")
        self.space = space
        self.discrete = isinstance(space, spaces.Discrete)
        self.scalar_bounds = np.isscalar(self.low) and np.isscalar(self.high)
        # Small single-env Box actions are checked element by element in Python, which
        # beats numpy's per-call overhead on a handful of values.
        self._bounds_list = (
            list(zip(space.low.tolist(), space.high.tolist()))
            if isinstance(space, spaces.Box) and len(space.shape) == 1 and space.shape[0] <= 8
            else None
        )

    def __call__(self, action: Any, num_envs: int | None = None) -> np.ndarray:
        """``action`` with a leading env axis (of one when ``num_envs`` is None)."""
        if (
            self.discrete
            and num_envs is None
            and isinstance(action, (int, np.integer))
            and not isinstance(action, bool)
            and self.low <= action <= self.high
        ):
            return np.array([action], dtype=np.int64)  # the common single-env case, fast
        if (
            self._bounds_list is not None
            and num_envs is None
            and type(action) is np.ndarray
            and action.dtype == self.space.dtype
            and action.shape == self.shape
            and all(low <= value <= high for value, (low, high) in zip(action.tolist(), self._bounds_list))
        ):
            return action.reshape(1, -1)  # a valid action in the space's own dtype, fast
        where = "action" if num_envs is None else "actions"
        expected = self.shape if num_envs is None else (num_envs, *self.shape)
        array = np.asarray(action) if self.discrete else np.asarray(action, dtype=self.space.dtype)
        if array.shape != expected:
            raise ValueError(f"{where} must have shape {expected} for {self.space}, got {array.shape}")
        if self.discrete and array.dtype.kind not in "iu":
            raise ValueError(f"{where} must be integers, got dtype {array.dtype}")
        if not self._within_bounds(array):
            if not self.discrete and not np.all(np.isfinite(array)):
                raise ValueError(f"{where} must be finite, got {array.tolist()}")
            hint = "" if self.discrete else ": wrap the env in gymnasium.wrappers.ClipAction to clip instead"
            raise ValueError(f"{where} outside {self.space}{hint}")
        batch = (1,) if num_envs is None else (num_envs,)
        return array.reshape(batch + self.shape)

    def _within_bounds(self, array: np.ndarray) -> bool:
        # NaN fails every comparison, so this also rejects non-finite values.
        if self.scalar_bounds:  # two reductions beat two broadcast comparisons
            return bool(array.min() >= self.low and array.max() <= self.high)
        return bool(np.all(array >= self.low) and np.all(array <= self.high))


def check_reset_options(options: Mapping[str, Any] | None, allowed: tuple[str, ...]) -> dict[str, Any]:
    """Return the options as a dict, raising ``ValueError`` on unknown keys."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValueError(f"reset options must be a dict, got {type(options).__name__}")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        accepted = sorted(allowed) if allowed else "none"
        raise ValueError(f"unknown reset option(s) {unknown}; accepted: {accepted}")
    return dict(options)


def check_render_mode(render_mode: str | None, allowed: list[str]) -> None:
    if render_mode is not None and render_mode not in allowed:
        raise ValueError(f"render_mode must be None or one of {allowed}, got {render_mode!r}")


def can_render(render_mode: str | None, has_state: bool) -> bool:
    """Whether ``render()`` should draw: with no render mode it warns and returns False
    (as Gymnasium's envs do); before the first reset it raises ``ResetNeeded``."""
    if render_mode is None:
        logger.warn("render() called without a render_mode; pass render_mode='rgb_array'")
        return False
    if not has_state:
        raise ResetNeeded("call reset() before render()")
    return True


def _as_scalar_if_uniform(bound: np.ndarray) -> float | np.ndarray:
    first = bound.flat[0]
    return float(first) if np.all(bound == first) else bound

"""Input validation shared by the single and vector shells: clear errors, no asserts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces


def check_action(space: spaces.Space, action: Any, num_envs: int | None = None) -> np.ndarray:
    """Return ``action`` as an array with a leading env axis, or raise ``ValueError``.

    ``space`` is the single-env action space; ``num_envs`` is None for a single env
    (the result then has a leading axis of one).
    """
    batch_shape = (1,) if num_envs is None else (num_envs,)
    where = "action" if num_envs is None else "actions"
    if isinstance(space, spaces.Discrete):
        array = np.asarray(action)
        expected = () if num_envs is None else batch_shape
        if array.shape != expected:
            raise ValueError(f"{where} must have shape {expected} for {space}, got {array.shape}")
        if array.dtype.kind not in "iu":
            raise ValueError(f"{where} must be integers, got dtype {array.dtype}")
        low, high = space.start, space.start + space.n - 1
        if array.min() < low or array.max() > high:
            raise ValueError(f"{where} must lie in {{{low}..{high}}} for {space}, got {array.tolist()}")
        return array.astype(np.int64, copy=False).reshape(batch_shape)
    if isinstance(space, spaces.Box):
        array = np.asarray(action, dtype=np.float64)
        expected = space.shape if num_envs is None else batch_shape + space.shape
        if array.shape != expected:
            raise ValueError(f"{where} must have shape {expected} for {space}, got {array.shape}")
        # Scalar bounds broadcast far faster than per-component ones on (n, 2) arrays.
        low, high = _as_scalar_if_uniform(space.low), _as_scalar_if_uniform(space.high)
        # NaN fails both comparisons, so the bounds test also rejects non-finite values.
        if not (np.all(array >= low) and np.all(array <= high)):
            if not np.all(np.isfinite(array)):
                raise ValueError(f"{where} must be finite, got {array.tolist()}")
            raise ValueError(
                f"{where} outside {space}: wrap the env in gymnasium.wrappers.ClipAction"
                " to clip instead"
            )
        return array.reshape(batch_shape + space.shape)
    raise TypeError(f"unsupported action space {space}")


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


def _as_scalar_if_uniform(bound: np.ndarray) -> float | np.ndarray:
    first = bound.flat[0]
    return float(first) if np.all(bound == first) else bound

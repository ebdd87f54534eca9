"""The hidden-factor protocol shared by every environment.

Every env in this package reports, in each ``reset`` and ``step`` info dict:

* ``info["hidden"]``: the true hidden factors after the step, name -> value. Each
  value lies in the matching entry of the env's ``hidden_space`` (a ``spaces.Dict``).
* ``info["hidden_changed"]``: name -> ``bool``, True when that factor changed
  discontinuously in this step (a collision, a latch, a door opening). Slow drifts
  that an env documents as continuous are not flagged. Always False after reset.

Native vector envs report the same keys batched over envs, with the ``_key`` masks
that Gymnasium's ``SyncVectorEnv`` would add, so both vectorisation modes give
identical info dicts.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def single_info(
    hidden: dict[str, np.ndarray], changed: dict[str, np.ndarray], flags: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Info of a single env from batch-of-one hidden factors, change flags and task flags."""
    info: dict[str, Any] = {name: bool(flag[0]) for name, flag in flags.items()}
    info["hidden"] = {name: value[0] for name, value in hidden.items()}
    info["hidden_changed"] = {name: bool(flag[0]) for name, flag in changed.items()}
    return info


def vector_info(
    hidden: dict[str, np.ndarray], changed: dict[str, np.ndarray], flags: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Info of a vector env, laid out as ``SyncVectorEnv`` lays out single infos."""
    num_envs = next(iter(changed.values())).shape[0]
    present = np.ones(num_envs, dtype=bool)
    info: dict[str, Any] = _with_masks(flags, present)
    info["hidden"] = _with_masks(hidden, present)
    info["_hidden"] = present
    info["hidden_changed"] = _with_masks(changed, present)
    info["_hidden_changed"] = present
    return info


def without_masks(values: dict[str, Any]) -> dict[str, Any]:
    """A vector info group without its ``_name`` presence masks."""
    return {name: value for name, value in values.items() if not name.startswith("_")}


def no_changes(hidden: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """All-False change flags for every hidden factor (used after reset)."""
    return {name: np.zeros(value.shape[0], dtype=bool) for name, value in hidden.items()}


def _with_masks(values: dict[str, np.ndarray], present: np.ndarray) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, value in values.items():
        out[name] = value
        out[f"_{name}"] = present
    return out

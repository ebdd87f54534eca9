"""Shared fixtures: headless rendering and the registered ids as test parameters."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("MUJOCO_GL", "egl")

import pytest  # noqa: E402

import pomdp_envs  # noqa: E402  (registers the ids)
from pomdp_envs.registration import ENTRIES  # noqa: E402

# Every id; those whose optional extra is missing are skipped, not failed.
ALL_IDS = [
    pytest.param(
        entry.id,
        marks=pytest.mark.skipif(not entry.available, reason=f'needs pip install "pomdp-envs[{entry.extra}]"'),
    )
    for entry in ENTRIES
]
AVAILABLE_IDS = pomdp_envs.env_ids(available_only=True)
# Ids with a native vector env (the batched 2D environments).
NATIVE_VECTOR_IDS = [entry.id for entry in ENTRIES if entry.vector_entry_point is not None]

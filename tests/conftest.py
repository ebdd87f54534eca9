"""Shared fixtures: headless rendering and the list of every registered id."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("MUJOCO_GL", "egl")

import pomdp_envs  # noqa: E402  (registers the ids)

ALL_IDS = pomdp_envs.env_ids()

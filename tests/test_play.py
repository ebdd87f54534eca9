"""`pomdp-envs play`: keys map to each env's actions, a session runs in a window (SDL's
dummy driver here), and without a display the command says what to do."""

from __future__ import annotations

import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("pygame")

from pomdp_envs.play import MINIGRID_KEYS, key_action, play  # noqa: E402


def test_keys_map_to_each_family_of_actions():
    box = gym.spaces.Box(-1.0, 1.0, (2,))
    np.testing.assert_array_equal(key_action("pomdp_envs/RobotRemoteControl-v0", {"right", "up"}, box), [1.0, 1.0])
    assert key_action("pomdp_envs/RobotRemoteControl-v0", set(), box) is None
    shepherd = key_action("pomdp_envs/Shepherd-v0", {"left", "space"}, gym.spaces.Box(-1.0, 1.0, (3,)))
    np.testing.assert_array_equal(shepherd, [-1.0, 0.0, 1.0])  # Space holds the grasp
    fetch = key_action("pomdp_envs/FetchPickAndPlacePO-v0", {"w", "space"}, gym.spaces.Box(-1.0, 1.0, (4,)))
    np.testing.assert_array_equal(fetch, [0.0, 0.0, 1.0, -1.0])  # up, fingers closing
    herd_space = gym.spaces.Box(np.zeros(2, np.float32), np.array([2 * np.pi, 400.0], np.float32))
    angle, force = key_action("pomdp_envs/ShapeHerd-v1", {"down"}, herd_space)
    assert angle == pytest.approx(np.pi / 2) and force == 400.0  # screen y grows downwards
    assert key_action("pomdp_envs/MiniGrid-DoorKey-5x5-v0", {"up"}, gym.spaces.Discrete(7)) == MINIGRID_KEYS["up"] == 2
    assert key_action("pomdp_envs/BilliardBall-v0", {"x"}, gym.spaces.Discrete(1)) == 0


@pytest.mark.parametrize(
    "env_id, keys",
    [
        ("pomdp_envs/MiniGrid-DoorKey-5x5-v0", ["left", "up", "right"]),
        ("pomdp_envs/RobotRemoteControl-v0", ["right", "up"]),
        ("pomdp_envs/Shepherd-v0", ["left", "space"]),
        ("pomdp_envs/BilliardBall-v0", ["space", "space"]),
        ("pomdp_envs/ShapeHerd-v1", ["up", "right"]),
    ],
)
def test_a_scripted_session_steps_once_per_key_and_shows_the_hidden_factors(env_id, keys, monkeypatch):
    if env_id not in gym.registry:
        pytest.skip(f"{env_id} needs an extra")
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    frames = []
    events = [[key] for key in keys] + [[]] + [["backspace"]]  # a frame without keys takes no step
    assert play(env_id, events=events, on_frame=frames.append) == len(keys)
    assert len(frames) == len(keys) + 3
    assert frames[0].ndim == 3 and frames[0].shape[0] > 0


def test_play_without_a_display_says_what_to_do():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    result = subprocess.run(
        [sys.executable, "-m", "pomdp_envs.cli", "play", "RobotRemoteControl-v0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "no display" in result.stderr and "xvfb-run" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

"""MiniGrid memory tasks (skipped without the minigrid extra)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("minigrid")

from minigrid.core.world_object import Key  # noqa: E402

from pomdp_envs.wrappers.minigrid_memory import ABSENT, GOAL_OBJECT, LOCKED, TASKS  # noqa: E402


@pytest.mark.parametrize("task", sorted(TASKS))
def test_observation_is_the_upstream_view(task):
    upstream = gym.make(TASKS[task])
    env = gym.make(f"pomdp_envs/MiniGrid-{task}-v0")
    up_obs, _ = upstream.reset(seed=3)
    obs, info = env.reset(seed=3)
    np.testing.assert_array_equal(obs, up_obs["image"])
    assert obs.shape == (7, 7, 3) and env.action_space == gym.spaces.Discrete(7)
    for action in (2, 1, 2, 0, 2):
        up_obs, up_reward, *_ = upstream.step(action)
        obs, reward, *_ = env.step(action)
        np.testing.assert_array_equal(obs, up_obs["image"])
        assert reward == up_reward


def test_doorkey_door_is_locked_and_carrying_is_tracked():
    env = gym.make("pomdp_envs/MiniGrid-DoorKey-5x5-v0")
    _, info = env.reset(seed=0)
    assert info["hidden"]["door_states"][0] == LOCKED
    assert np.all(info["hidden"]["door_states"][1:] == ABSENT)
    np.testing.assert_array_equal(info["hidden"]["carrying"], [0, 0])
    env.unwrapped.upstream.carrying = Key("yellow")  # as if picked up
    _, _, _, _, info = env.step(0)  # turn left
    assert info["hidden_changed"]["carrying"] and info["hidden_changed"]["agent_dir"]
    assert not info["hidden_changed"]["agent_pos"]
    assert info["hidden"]["carrying"][0] > 0


def test_memory_goal_object_is_the_cue():
    env = gym.make("pomdp_envs/MiniGrid-MemoryS7-v0")
    seen = set()
    for seed in range(10):
        _, info = env.reset(seed=seed)
        upstream = env.unwrapped.upstream
        cue = upstream.grid.get(1, upstream.height // 2 - 1).type
        assert info["hidden"]["goal_object"] == GOAL_OBJECT[cue]
        seen.add(cue)
    assert seen == {"ball", "key"}


def test_success_flag_on_rewarded_termination():
    env = gym.make("pomdp_envs/MiniGrid-LavaGapS7-v0")
    env.reset(seed=0)
    upstream = env.unwrapped.upstream
    goal = next(i for i, cell in enumerate(upstream.grid.grid) if cell is not None and cell.type == "goal")
    upstream.agent_pos = (goal % upstream.width - 1, goal // upstream.width)
    upstream.agent_dir = 0  # facing right, the goal in front
    _, reward, terminated, _, info = env.step(2)
    assert terminated and reward > 0 and info["is_success"]


def test_unknown_task_is_an_error():
    from pomdp_envs.wrappers.minigrid_memory import MiniGridMemoryEnv

    with pytest.raises(ValueError, match="DoorKey-5x5"):
        MiniGridMemoryEnv(task="Maze")

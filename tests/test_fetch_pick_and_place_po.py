"""Partially observable Fetch Pick&Place (skipped without the fetch extra)."""

from __future__ import annotations

import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("gymnasium_robotics")
pytest.importorskip("mujoco")

from pomdp_envs.policies.fetch_pick_and_place import ReachGraspTransportPolicy  # noqa: E402

ENV_ID = "pomdp_envs/FetchPickAndPlacePO-v0"


def test_observation_is_upstream_positions_and_fingers_plus_goal():
    import gymnasium_robotics

    gym.register_envs(gymnasium_robotics)
    upstream = gym.make("FetchPickAndPlace-v4")
    env = gym.make(ENV_ID)
    up_obs, _ = upstream.reset(seed=4)
    obs, info = env.reset(seed=4)
    np.testing.assert_array_equal(obs[:11], up_obs["observation"][:11])
    np.testing.assert_array_equal(obs[11:], up_obs["desired_goal"])
    np.testing.assert_allclose(info["hidden"]["object_rotation"], up_obs["observation"][11:14])
    action = np.array([0.3, -0.2, 0.5, 1.0], dtype=np.float32)
    up_obs, up_reward, *_ = upstream.step(action)
    obs, reward, *_ = env.step(action)
    np.testing.assert_array_equal(obs[:11], up_obs["observation"][:11])
    assert reward == up_reward


def test_dict_observation_keeps_goal_env_interface():
    env = gym.make(ENV_ID, flat_observation=False)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"observation", "achieved_goal", "desired_goal"} and obs["observation"].shape == (11,)
    np.testing.assert_array_equal(obs["achieved_goal"], obs["observation"][3:6])
    reward = env.unwrapped.compute_reward(obs["achieved_goal"], obs["achieved_goal"], {})
    assert reward == 0.0


def test_scripted_policy_grasps_lifts_and_places_in_most_seeds():
    env = gym.make(ENV_ID)
    successes, lifted, airborne_goals, grasp_steps = 0, 0, 0, []
    for seed in range(12):
        obs, _ = env.reset(seed=seed)
        policy = ReachGraspTransportPolicy()
        policy.reset_one(obs)
        table_z, goal_z, top_z, first_grasp = obs[5], obs[13], obs[5], None
        for step in range(50):
            obs, _, _, _, info = env.step(policy.act_one(obs))
            top_z = max(top_z, obs[5])
            if info["hidden_changed"]["object_grasped"] and first_grasp is None:
                assert info["hidden"]["object_grasped"] == 1
                first_grasp = step
        successes += info["is_success"]
        if goal_z > table_z + 0.05:
            airborne_goals += 1
            lifted += top_z > table_z + 0.05
        grasp_steps.append(first_grasp)
    assert successes >= 10
    assert airborne_goals > 0 and lifted >= airborne_goals - 1
    # The paper's training data grasp at step 5: the fingers close at action 5 (or 6
    # for objects too far to reach in time) and hold the object two steps later.
    assert all(step in (6, 7) for step in grasp_steps), grasp_steps
    assert sum(step == 6 for step in grasp_steps) >= 6


def test_later_grasp_policy_grasps_later():
    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=1)
    policy = ReachGraspTransportPolicy(grasp_step=30)
    policy.reset_one(obs)
    grasped_at = None
    for step in range(50):
        obs, *_, info = env.step(policy.act_one(obs))
        if info["hidden"]["object_grasped"] and grasped_at is None:
            grasped_at = step
    assert grasped_at is not None and grasped_at >= 30


def test_small_frames():
    env = gym.make(ENV_ID, render_mode="rgb_array", width=96, height=64)
    env.reset(seed=0)
    assert env.render().shape == (64, 96, 3)


def test_an_env_left_open_after_rendering_exits_cleanly():
    environment = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    environment["MUJOCO_GL"] = "egl"
    code = (
        "import gymnasium as gym\n"
        "env = gym.make('pomdp_envs:pomdp_envs/FetchPickAndPlacePO-v0', render_mode='rgb_array', width=32, height=32)\n"
        "env.reset(seed=0)\n"
        "assert env.render().shape == (32, 32, 3)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Exception ignored" not in done.stderr and "EGL" not in done.stderr, done.stderr


def test_a_pickled_env_that_has_rendered_draws_the_same_frame():
    import pickle

    env = gym.make(ENV_ID, render_mode="rgb_array", width=64, height=48)
    env.reset(seed=3)
    for _ in range(3):
        env.step(env.action_space.sample())
    env.render()
    clone = pickle.loads(pickle.dumps(env))
    np.testing.assert_array_equal(clone.render(), env.render())


def test_only_the_dict_variant_is_a_goal_env():
    assert not hasattr(gym.make(ENV_ID).unwrapped, "compute_reward")
    assert callable(gym.make(ENV_ID, flat_observation=False).unwrapped.compute_reward)


def test_sb3_checks_both_variants_and_her_trains_on_the_dict_one():
    sb3 = pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_checker import check_env

    check_env(gym.make(ENV_ID), warn=False)  # the flat variant is a plain Box env
    env = gym.make(ENV_ID, flat_observation=False)
    check_env(env.unwrapped, warn=False)  # the README's recipe
    model = sb3.SAC(
        "MultiInputPolicy",
        env,
        replay_buffer_class=sb3.HerReplayBuffer,
        replay_buffer_kwargs=dict(n_sampled_goal=4, goal_selection_strategy="future"),
        learning_starts=100,
        batch_size=32,
        buffer_size=1000,
        seed=0,
    )
    model.learn(total_timesteps=130)
    assert model.num_timesteps == 130 and model.replay_buffer.size() > 0


def test_rendering_without_a_display_or_gl_backend_says_what_to_set(monkeypatch):
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(gym.error.DependencyNotInstalled, match="MUJOCO_GL=egl"):
        gym.make("pomdp_envs/FetchPickAndPlacePO-v0", render_mode="rgb_array")
    gym.make("pomdp_envs/FetchPickAndPlacePO-v0").close()  # no frames asked for: no backend needed


def test_making_the_env_prints_no_notice_about_other_envs():
    code = "import gymnasium as gym, pomdp_envs; gym.make('pomdp_envs/FetchPickAndPlacePO-v0').reset(seed=0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Adroit" not in result.stderr and "Adroit" not in result.stdout


def test_the_object_starts_as_the_docstring_says():
    """0.10-0.21 m from the gripper: +-0.15 m per axis, drawn again while closer than 0.10 m."""
    env = gym.make(ENV_ID)
    upstream = env.unwrapped.upstream
    distances = []
    for seed in range(100):
        env.reset(seed=seed)
        offset = upstream._utils.get_site_xpos(upstream.model, upstream.data, "object0")[:2]
        distances.append(np.linalg.norm(offset - upstream.initial_gripper_xpos[:2]))
    assert 0.10 <= min(distances) and max(distances) <= 0.15 * np.sqrt(2)
    assert max(distances) > 0.15  # not within 0.15 m, as the text once said
    assert "0.10-0.21 m" in type(env.unwrapped).__doc__

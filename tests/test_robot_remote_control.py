"""Robot Remote Control: the control latch, rooms, reward, and its policies."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from pomdp_envs.datasets import collect_sequences
from pomdp_envs.policies.robot_remote_control import BiasedPolicy, OraclePolicy, UniformPolicy

ENV_ID = "pomdp_envs/RobotRemoteControl-v0"


def step(env, dx, dy):
    return env.step(np.array([dx, dy], dtype=np.float32))


def test_robot_moves_only_after_the_terminal_is_reached():
    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=0, options={"agent_xy": (0.5, 0.25), "robot_xy": (2.0, 0.0)})
    obs, *_, info = step(env, 0.0, 1.0)  # agent to (0.5, 0.35): still 0.15 away
    np.testing.assert_allclose(obs, [0.5, 0.35, 0.0, 0.0], atol=1e-6)
    assert info["hidden"]["robot_controlled"] == 0
    obs, *_, info = step(env, 0.0, 1.0)  # onto the terminal: control latches, robot still
    np.testing.assert_allclose(obs, [0.5, 0.45, 0.0, 0.0], atol=1e-6)
    assert info["hidden"]["robot_controlled"] == 1 and info["hidden_changed"]["robot_controlled"]
    obs, *_, info = step(env, -1.0, -0.5)  # now both move
    np.testing.assert_allclose(obs, [0.4, 0.4, -0.1, -0.05], atol=1e-6)
    assert not info["hidden_changed"]["robot_controlled"]
    for _ in range(20):  # leaving the terminal keeps control
        obs, *_, info = step(env, -1.0, 0.0)
    assert info["hidden"]["robot_controlled"] == 1


def test_entities_stay_in_their_rooms():
    env = gym.make(ENV_ID)
    env.reset(seed=0, options={"controlled": 1, "agent_xy": (0.9, 0.9), "robot_xy": (1.1, 0.9)})
    for _ in range(20):
        obs, *_ = step(env, 1.0, 1.0)
    np.testing.assert_allclose(obs, [0.95, 0.95, 0.95, 0.95], atol=1e-6)
    for _ in range(30):
        obs, *_ = step(env, -1.0, -1.0)
    np.testing.assert_allclose(obs, [-0.95, -0.95, -0.95, -0.95], atol=1e-6)


def test_sparse_reward_while_at_the_goal_and_success_terminates():
    env = gym.make(ENV_ID, terminate_on_success=False)
    env.reset(seed=0, options={"controlled": 1, "agent_xy": (0.0, 0.0), "robot_xy": (2.5, -0.25)})
    _, reward, terminated, _, info = step(env, 0.0, -1.0)  # robot to (2.5, -0.35): 0.15 away
    assert reward == 0.0 and not terminated and not info["is_success"]
    _, reward, _, _, info = step(env, 0.0, -1.0)  # (2.5, -0.45): within 0.1
    assert reward == 1.0 and info["is_success"]
    _, reward, _, _, info = step(env, 0.0, 0.0)
    assert reward == 1.0  # on every step at the goal
    env = gym.make(ENV_ID)
    env.reset(seed=0, options={"controlled": 1, "robot_xy": (2.5, -0.42)})
    assert step(env, 0.0, -1.0)[2] is True


def test_dense_reward_is_minus_goal_distance():
    env = gym.make(ENV_ID, reward_type="dense")
    env.reset(seed=0, options={"controlled": 1, "agent_xy": (0.0, 0.0), "robot_xy": (2.5, -0.2)})
    _, reward, terminated, _, _ = step(env, 0.0, -1.0)  # robot to (2.5, -0.3)
    assert np.isclose(reward, -0.2) and not terminated
    with pytest.raises(ValueError, match="reward_type"):
        gym.make(ENV_ID, reward_type="shaped")


def test_starts_are_drawn_as_in_the_paper_and_clipped_by_the_first_step():
    envs = gym.make_vec(ENV_ID, num_envs=4000, vectorization_mode="vector_entry_point")
    obs, _ = envs.reset(seed=0)
    assert np.abs(obs).max() > 0.99 and np.abs(obs).max() <= 1.0
    assert np.mean(np.abs(obs[:, 0]) > 0.95) > 0.03
    obs, *_ = envs.step(np.zeros((4000, 2), dtype=np.float32))
    assert np.abs(obs).max() <= 0.95 + 1e-6
    clipped = gym.make_vec(ENV_ID, num_envs=1000, vectorization_mode="vector_entry_point", clip_start=True)
    assert np.abs(clipped.reset(seed=0)[0]).max() <= 0.95 + 1e-6


def test_oracle_reaches_the_goal_in_most_seeds():
    sequences = collect_sequences(ENV_ID, OraclePolicy(), 200, 50, num_envs=200)
    robot_xy = sequences.observations[:, :, 2:4] + [2.0, 0.0]
    closest = np.linalg.norm(robot_xy - [2.5, -0.5], axis=2).min(axis=1)
    assert (closest < 0.1).mean() >= 0.95


def test_oracle_succeeds_in_the_single_env_with_termination():
    env, policy = gym.make(ENV_ID), OraclePolicy()
    successes = 0
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        policy.reset_one(obs)
        terminated = truncated = False
        while not (terminated or truncated):
            obs, _, terminated, truncated, info = env.step(policy.act_one(obs))
        successes += info["is_success"]
    assert successes >= 19


def test_biased_policy_magnitude_rises_linearly():
    policy = BiasedPolicy(episode_length=50, seed=0)
    policy.reset(np.zeros((64, 4)))
    norms = [np.linalg.norm(policy.act(np.zeros((64, 4))), axis=1) for _ in range(50)]
    np.testing.assert_allclose(norms[0], 1e-4, rtol=1e-3)
    np.testing.assert_allclose(norms[-1], 1.0, rtol=1e-5)
    assert np.all(np.diff(np.mean(norms, axis=1)) > 0)


def test_biased_data_takes_control_later_than_uniform_data():
    def first_control_steps(policy):
        seqs = collect_sequences(ENV_ID, policy, 8192, 50, num_envs=2048)
        flags = seqs.hidden["robot_controlled"]
        controlled = flags[:, -1] == 1
        return controlled.mean(), np.argmax(flags == 1, axis=1)[controlled]

    biased_rate, biased_steps = first_control_steps(BiasedPolicy(seed=0))
    uniform_rate, uniform_steps = first_control_steps(UniformPolicy(seed=0))
    assert 0.02 < biased_rate < uniform_rate < 0.2
    assert biased_steps.mean() > uniform_steps.mean() + 4  # the spurious time correlation

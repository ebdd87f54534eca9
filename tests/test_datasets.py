"""Sequence collection through the vector envs, and .npz round trips."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from conftest import NATIVE_VECTOR_IDS

from pomdp_envs.datasets import Sequences, collect_sequences
from pomdp_envs.policies import make_policy


@pytest.mark.parametrize("env_id", NATIVE_VECTOR_IDS)
def test_collect_shapes_determinism_and_round_trip(env_id, tmp_path):
    first = collect_sequences(env_id, make_policy(env_id, "random", 1), 10, 12, seed=3, num_envs=4)
    second = collect_sequences(env_id, make_policy(env_id, "random", 1), 10, 12, seed=3, num_envs=4)
    assert len(first) == 10 and first.num_steps == 12
    assert first.observations.shape[:2] == (10, 13)
    for name, values in first.hidden.items():
        assert values.shape[:2] == (10, 13)
        assert first.hidden_changed[name].shape == (10, 13)
        assert not first.hidden_changed[name][:, 0].any()
    assert first.rewards.shape == (10, 12)
    np.testing.assert_array_equal(first.observations, second.observations)

    loaded = Sequences.load(first.save(tmp_path / "data.npz"))
    assert loaded.env_id == env_id
    np.testing.assert_array_equal(loaded.observations, first.observations)
    np.testing.assert_array_equal(loaded.actions, first.actions)
    np.testing.assert_array_equal(loaded.rewards, first.rewards)
    for name in first.hidden:
        np.testing.assert_array_equal(loaded.hidden[name], first.hidden[name])
        np.testing.assert_array_equal(loaded.hidden_changed[name], first.hidden_changed[name])


def test_sequences_match_single_env_rollouts():
    env_id = "pomdp_envs/Shepherd-v0"
    seqs = collect_sequences(env_id, make_policy(env_id, "random", 0), 3, 20, seed=5, num_envs=3)
    for i in range(3):
        env = gym.make(env_id, terminate_on_catch=False)
        obs, _ = env.reset(seed=5 + i)
        np.testing.assert_array_equal(obs, seqs.observations[i, 0])
        for t in range(20):
            obs, *_ = env.step(seqs.actions[i, t])
            np.testing.assert_array_equal(obs, seqs.observations[i, t + 1])


def test_impossible_acceptance_reports_what_was_collected():
    env_id = "pomdp_envs/BilliardBall-v0"
    with pytest.raises(RuntimeError, match="0 of 5"):
        collect_sequences(
            env_id,
            make_policy(env_id, "random", 0),
            5,
            3,
            num_envs=2,
            max_batches=2,
            accept=lambda hidden: np.zeros(len(hidden["velocity"]), dtype=bool),
        )


def test_episodes_that_end_early_raise_or_are_left_out():
    pytest.importorskip("minigrid")
    from pomdp_envs.datasets import collect_sequences
    from pomdp_envs.policies import make_policy

    env_id = "pomdp_envs/MiniGrid-MemoryS7-v0"  # a random agent soon touches an object: the episode ends
    ends = {"end_on_result": True}  # the registry's setting keeps episodes going: ask for the ends back
    with pytest.raises(RuntimeError, match="terminated"):
        collect_sequences(env_id, make_policy(env_id, "random", seed=0), 64, 30, num_envs=64, **ends)
    kept = collect_sequences(
        env_id, make_policy(env_id, "random", seed=0), 64, 30, num_envs=64, drop_early_ends=True, **ends
    )
    assert len(kept) == 64 and kept.observations.shape[1] == 31
    # Kept episodes never ended: no reward (MiniGrid rewards only at a successful end).
    assert not kept.rewards.any()
    # With the registry's setting every episode runs the whole sequence, results included.
    full = collect_sequences(env_id, make_policy(env_id, "random", seed=0), 64, 30, num_envs=64)
    assert len(full) == 64 and full.rewards.any()

"""Shepherd: hiding and reappearing sheep, gate, cage, catching, and its policies."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from pomdp_envs.datasets import collect_sequences, collect_shepherd_kind
from pomdp_envs.policies.shepherd import KINDS, OraclePolicy, RandomPolicy

ENV_ID = "pomdp_envs/Shepherd-v0"
STAY_HOLD = np.array([0.0, 0.0, 1.0], dtype=np.float32)
STAY_DROP = np.array([0.0, 0.0, -1.0], dtype=np.float32)


def test_sheep_hides_behind_the_occluder_and_reappears_at_the_same_x():
    env = gym.make(ENV_ID, terminate_on_catch=False)
    options = {"agent_xy": (-0.2, -0.5), "sheep_x": 2.0, "occluder_height": 0.51}
    obs, _ = env.reset(seed=0, options=options)
    assert obs[0] == pytest.approx(0.51) and obs[5:] == pytest.approx([2.0, 0.95])
    seen = [obs[5:]]
    for _ in range(60):  # walks down, hides below 0.5 and waits at y = 0
        obs, *_, info = env.step(STAY_DROP)
        seen.append(obs[5:])
    visible_steps = sum(1 for s in seen if s[0] != 0.0)
    assert visible_steps == 18  # 0.95, 0.925, ..., 0.525
    assert obs[5:] == pytest.approx([0.0, 0.0])
    np.testing.assert_allclose(info["hidden"]["sheep_xy"], [2.0, 0.0], atol=1e-6)

    changed_gate = False
    for _ in range(10):  # walk to the lever at (-0.85, 0): the gate opens
        obs, *_, info = env.step(np.array([-1.0, 1.0, -1.0], dtype=np.float32))
        changed_gate |= info["hidden_changed"]["gate_open"]
    assert info["hidden"]["gate_open"] == 1 and changed_gate
    assert obs[5] == pytest.approx(2.0) and obs[6] < 0.0  # back in view, same x


def test_waiting_sheep_stops_and_restarts_are_flagged():
    env = gym.make(ENV_ID)
    env.reset(seed=0, options={"agent_xy": (1.0, -0.9), "sheep_x": 2.0, "occluder_height": 0.5})
    flags = []
    for _ in range(45):
        *_, info = env.step(STAY_HOLD)
        flags.append(info["hidden_changed"]["sheep_xy"])
    assert flags.index(True) == 37 and sum(flags) == 1  # arrives at y = 0 on step 38


def test_cage_pick_up_and_drop():
    env = gym.make(ENV_ID)
    env.reset(seed=0, options={"agent_xy": (1.0, -0.5)})
    obs, *_, info = env.step(STAY_DROP)
    assert info["hidden"]["cage_held"] == 0 and info["hidden_changed"]["cage_held"]
    cage = obs[3:5].copy()
    obs, *_, info = env.step(np.array([1.0, 0.0, -1.0], dtype=np.float32))
    np.testing.assert_allclose(obs[3:5], cage)  # dropped cage stays
    obs, *_, info = env.step(np.array([1.0, 0.0, 1.0], dtype=np.float32))  # too far to grasp
    assert info["hidden"]["cage_held"] == 0
    for _ in range(2):
        obs, *_, info = env.step(np.array([-1.0, 0.0, 1.0], dtype=np.float32))
    assert info["hidden"]["cage_held"] == 1  # back near it with grasp > 0


def test_sheep_is_caught_in_a_dropped_cage_below_the_open_gate():
    env = gym.make(ENV_ID)
    env.reset(seed=0, options={"agent_xy": (2.0, -0.3), "sheep_x": 2.0, "occluder_height": 0.5})
    env.step(STAY_DROP)  # cage near (2.0, -0.3)
    total, terminated = 0.0, False
    for _ in range(100):  # to the lever, then wait
        obs, reward, terminated, truncated, info = env.step(np.array([-1.0, 1.0, -1.0], dtype=np.float32))
        total += reward
        if terminated:
            break
    assert terminated and total == 1.0 and info["is_success"]
    assert info["hidden"]["sheep_caught"] == 1 and info["hidden_changed"]["sheep_caught"]


def test_oracle_catches_the_sheep_in_most_seeds():
    sequences = collect_sequences(ENV_ID, OraclePolicy(), 200, 100, num_envs=200)
    assert (sequences.hidden["sheep_caught"][:, -1] == 1).mean() >= 0.95


def test_random_policy_rarely_catches_the_sheep():
    sequences = collect_sequences(ENV_ID, RandomPolicy(seed=0), 500, 100, num_envs=500)
    assert (sequences.hidden["sheep_caught"][:, -1] == 1).mean() < 0.02
    assert 0.01 < (sequences.hidden["gate_open"][:, -1] == 1).mean() < 0.3


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_yields_sequences_of_that_kind(kind):
    sequences = collect_shepherd_kind(kind, 64, num_envs=128)
    assert sequences.observations.shape == (64, 101, 7) and sequences.actions.shape == (64, 100, 3)
    gate, caught = sequences.hidden["gate_open"], sequences.hidden["sheep_caught"]
    start_x = sequences.observations[:, 0, 1]
    if kind == "gate_closed":
        assert np.all(gate[:, -1] == 0)
    else:
        assert np.all(gate[:, -1] == 1)
        assert np.all(caught[:, -1] == (1 if kind == "sheep_caught" else 0))
    if kind.endswith("left") or kind == "gate_closed":
        assert np.all(start_x <= 1.0)
    else:
        assert np.all(start_x >= 1.0)


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="gate_closed"):
        collect_shepherd_kind("sheep_asleep", 1)

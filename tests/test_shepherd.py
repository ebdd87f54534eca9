"""Shepherd: hiding and reappearing sheep, gate, cage, catching, and its policies."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from pomdp_envs.datasets import collect_sequences, collect_shepherd_kind
from pomdp_envs.dynamics.shepherd import observed_positions
from pomdp_envs.policies.shepherd import KINDS, OraclePolicy, RandomPolicy

ENV_ID = "pomdp_envs/Shepherd-v0"
STAY_HOLD = np.array([0.0, 0.0, 1.0], dtype=np.float32)
STAY_DROP = np.array([0.0, 0.0, -1.0], dtype=np.float32)
TO_LEVER = np.array([-1.0, 1.0, -1.0], dtype=np.float32)


def world(obs: np.ndarray):
    return observed_positions(obs[None])


def test_observation_layout_and_scaling_are_the_papers():
    env = gym.make(ENV_ID)
    obs, info = env.reset(seed=0, options={"agent_xy": (1.0, -0.5), "sheep_x": 2.2, "wall_height": 0.5})
    state = env.unwrapped.state
    assert obs[0] == pytest.approx(0.0) and obs[1] == pytest.approx(0.0)  # ((x - 1) / 2, (y + 0.5) / 2)
    np.testing.assert_allclose(obs[2:4], [(state.cage_x[0] - 1) / 2, (state.cage_y[0] + 0.5) / 2], rtol=1e-6)
    assert obs[4] == pytest.approx(0.2) and obs[5] == pytest.approx(state.sheep_y[0]) and obs[6] == 0.5
    assert abs(obs[5] - 0.95) <= 0.005 + 1e-7  # start-height jitter


def test_sheep_hides_at_the_wall_and_reappears_one_step_after_the_gate_opens():
    env = gym.make(ENV_ID, terminate_on_catch=False)
    obs, _ = env.reset(seed=0, options={"agent_xy": (-0.2, -0.5), "sheep_x": 2.0, "wall_height": 0.51})
    start_y = float(obs[5])
    visible = [True]
    for _ in range(40):  # walks down, hides below 0.51 and waits at y = 0
        obs, *_, info = env.step(STAY_DROP)
        visible.append(bool(world(obs).sheep_visible[0]))
    # Visible while above the wall height: ceil((y0 - h) / 0.025) steps including the start.
    assert sum(visible) == int(np.ceil((start_y - 0.51) / 0.025)) and not any(visible[sum(visible) :])
    assert obs[4:6] == pytest.approx([0.0, 0.0])
    np.testing.assert_allclose(info["hidden"]["sheep_xy"], [2.0, 0.0], atol=1e-6)  # waits at y = 0

    opened_at = None
    for step in range(20):  # walk to the lever at (-0.85, 0): the gate opens
        obs, *_, info = env.step(TO_LEVER)
        if info["hidden_changed"]["gate_open"]:
            opened_at = step
            assert obs[4:6] == pytest.approx([0.0, 0.0])  # still masked on that step
            assert not info["hidden_changed"]["sheep_xy"]
            obs, *_, info = env.step(TO_LEVER)
            break
    assert opened_at is not None
    # Back in view on the next step, at the stable's mouth, same x.
    assert obs[4] == pytest.approx(0.0) and obs[5] == pytest.approx(-0.025)
    assert info["hidden_changed"]["sheep_xy"]


def test_the_lever_is_checked_after_the_sheep_moves():
    # The agent reaches the lever on the very step the sheep would drop below the wall:
    # the sheep still hides that step (the gate was closed when it moved).
    env = gym.make(ENV_ID, terminate_on_catch=False)
    env.reset(seed=1, options={"agent_xy": (-0.85, -0.25), "sheep_x": 2.0, "wall_height": 0.93})
    env.unwrapped.state = env.unwrapped.state._replace(sheep_y=np.array([0.95]))
    obs, *_, info = env.step(np.array([0.0, 1.0, 1.0], dtype=np.float32))  # up to y = -0.15: lever reached
    assert info["hidden"]["gate_open"] == 1
    assert obs[4:6] == pytest.approx([0.0, 0.0]) and info["hidden"]["sheep_xy"][1] == 0.0


def test_start_positions_are_not_clipped_and_half_start_beyond_the_left_wall():
    envs = gym.make_vec(ENV_ID, num_envs=4000, vectorization_mode="vector_entry_point")
    obs, _ = envs.reset(seed=0)
    agent = observed_positions(obs).agent_xy
    assert agent[:, 0].min() < -4.5 and agent[:, 0].max() > 2.95 and agent[:, 1].min() < -1.5
    assert 0.45 < np.mean(agent[:, 0] < -0.95) < 0.56
    assert envs.single_observation_space.contains(obs[0]) and all(map(envs.single_observation_space.contains, obs))
    obs, *_ = envs.step(np.zeros((4000, 3), dtype=np.float32))
    agent = observed_positions(obs).agent_xy
    assert agent[:, 0].min() == pytest.approx(-0.95) and agent[:, 1].max() == pytest.approx(-0.05)

    right = gym.make_vec(ENV_ID, num_envs=1000, vectorization_mode="vector_entry_point", start_side="right")
    agent = observed_positions(right.reset(seed=0)[0]).agent_xy
    assert agent[:, 0].min() >= 1.0 - 1e-6 and agent[:, 0].max() <= 3.0 + 1e-6
    clipped = gym.make_vec(ENV_ID, num_envs=1000, vectorization_mode="vector_entry_point", clip_start=True)
    agent = observed_positions(clipped.reset(seed=0)[0]).agent_xy
    assert agent[:, 0].min() >= -0.95 - 1e-6 and agent[:, 1].max() <= -0.05 + 1e-6


def test_wall_height_modes():
    def heights(**kwargs):
        envs = gym.make_vec(ENV_ID, num_envs=2000, vectorization_mode="vector_entry_point", **kwargs)
        return envs.reset(seed=0)[0][:, 6]

    train = heights()
    assert train.min() >= 0.35 and train.max() <= 0.65
    gen = heights(wall_heights="generalisation")
    assert np.all((gen >= 0.2 - 1e-6) & (gen <= 0.8 + 1e-6) & ((gen <= 0.35 + 1e-6) | (gen >= 0.65 - 1e-6)))
    assert 0.4 < np.mean(gen < 0.5) < 0.6
    assert np.all(heights(wall_heights="fixed") == 0.5)
    with pytest.raises(ValueError, match="wall_heights"):
        gym.make(ENV_ID, wall_heights="tall")


def test_cage_pick_up_and_drop():
    env = gym.make(ENV_ID)
    env.reset(seed=0, options={"agent_xy": (1.0, -0.5)})
    obs, *_, info = env.step(STAY_DROP)
    assert info["hidden"]["cage_held"] == 0 and info["hidden_changed"]["cage_held"]
    cage = obs[2:4].copy()
    obs, *_, info = env.step(np.array([1.0, 0.0, -1.0], dtype=np.float32))
    np.testing.assert_allclose(obs[2:4], cage)  # dropped cage stays
    obs, *_, info = env.step(np.array([1.0, 0.0, 1.0], dtype=np.float32))  # too far to grasp
    assert info["hidden"]["cage_held"] == 0
    for _ in range(2):
        obs, *_, info = env.step(np.array([-1.0, 0.0, 1.0], dtype=np.float32))
    assert info["hidden"]["cage_held"] == 1  # back near it with grasp > 0


def test_a_carried_cage_is_clipped_on_its_own():
    env = gym.make(ENV_ID)
    env.reset(seed=0, options={"agent_xy": (2.9, -0.5)})
    state = env.unwrapped.state
    env.unwrapped.state = state._replace(cage_x=np.array([2.93]), agent_x=np.array([2.88]))
    obs, *_ = env.step(np.array([1.0, 0.0, 1.0], dtype=np.float32))
    positions = world(obs)
    assert positions.agent_xy[0, 0] == pytest.approx(2.95) and positions.cage_xy[0, 0] == pytest.approx(2.95)


def test_sheep_is_caught_in_a_dropped_cage_below_the_open_gate_and_rewarded_every_step():
    env = gym.make(ENV_ID, terminate_on_catch=False)
    env.reset(seed=0, options={"agent_xy": (2.0, -0.3), "sheep_x": 2.0, "wall_height": 0.5})
    env.step(STAY_DROP)  # cage near (2.0, -0.3)
    rewards, caught_at = [], None
    for step in range(60):  # to the lever, then wait
        obs, reward, terminated, truncated, info = env.step(TO_LEVER)
        rewards.append(reward)
        if caught_at is None and info["hidden"]["sheep_caught"]:
            caught_at = step
            assert info["hidden_changed"]["sheep_caught"] and info["is_success"]
    assert caught_at is not None and not terminated
    assert all(r == 0.0 for r in rewards[:caught_at]) and all(r == 1.0 for r in rewards[caught_at:])

    env = gym.make(ENV_ID)
    env.reset(seed=0, options={"agent_xy": (2.0, -0.3), "sheep_x": 2.0, "wall_height": 0.5})
    env.step(STAY_DROP)
    for _ in range(60):
        obs, reward, terminated, *_ = env.step(TO_LEVER)
        if terminated:
            break
    assert terminated and reward == 1.0


def test_oracle_catches_the_sheep_in_most_seeds():
    sequences = collect_sequences(ENV_ID, OraclePolicy(), 200, 100, num_envs=200)
    assert (sequences.hidden["sheep_caught"][:, -1] == 1).mean() >= 0.95


def test_walk_bias_moves_up_and_left_until_the_gate_opens():
    envs = gym.make_vec(
        ENV_ID, num_envs=2000, vectorization_mode="vector_entry_point", start_side="right", terminate_on_catch=False
    )
    obs, info = envs.reset(seed=0)
    plain, biased = RandomPolicy(seed=0), RandomPolicy(walk_bias=True, seed=0)
    plain.reset(obs)
    biased.reset(obs)
    plain_moves, biased_moves = [], []
    for _ in range(60):
        plain_moves.append(plain.act(obs, info)[:, :2])
        action = biased.act(obs, info)
        biased_moves.append(np.where(info["hidden"]["gate_open"][:, None] == 0, action[:, :2], np.nan))
        obs, _, _, _, info = envs.step(action)
    assert abs(np.mean(plain_moves)) < 0.02
    late = np.array(biased_moves[40:])  # most switches are on by then
    assert np.nanmean(late[..., 0]) < -0.2 and np.nanmean(late[..., 1]) > 0.2
    needs_info = RandomPolicy(walk_bias=True)
    needs_info.reset(obs)
    with pytest.raises(ValueError, match="info"):
        needs_info.act(obs)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_yields_sequences_of_that_kind(kind):
    sequences = collect_shepherd_kind(kind, 64, num_envs=1000)
    assert sequences.observations.shape == (64, 101, 7) and sequences.actions.shape == (64, 100, 3)
    gate, caught = sequences.hidden["gate_open"], sequences.hidden["sheep_caught"]
    start_x = observed_positions(sequences.observations[:, 0]).agent_xy[:, 0]
    if kind == "gate_closed":
        assert np.all(gate[:, 100] == 0)
    else:
        assert np.all(caught[:, 100] == (1 if kind == "sheep_caught" else 0))
    if kind.startswith("gate_opened"):
        assert np.all((gate[:, 30] == 0) & (gate[:, 70] == 1))
    if kind in ("gate_opened_left", "gate_closed"):
        assert np.all(start_x <= 3.0 + 1e-6) and start_x.min() < 1.0
    else:
        assert np.all(start_x >= 1.0 - 1e-6)


def test_kinds_need_100_steps_and_a_known_name():
    with pytest.raises(ValueError, match="gate_closed"):
        collect_shepherd_kind("sheep_asleep", 1)
    with pytest.raises(ValueError, match="100"):
        collect_shepherd_kind("gate_closed", 1, num_steps=50)

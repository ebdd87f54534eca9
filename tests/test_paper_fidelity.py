"""The environments against the statistics of the papers' original code.

Reference values: ``shared/specs/reference_statistics.md`` (the original GateL0RD-paper
environments and data generators, and the published ShapeHerd code), held in
``benchmarks.paper_fidelity``. Each measured statistic must lie within 3 combined
standard errors of its reference; ``python -m benchmarks.paper_fidelity --runs 20000``
prints the same comparison at a larger sample.
"""

from __future__ import annotations

import importlib.util

import gymnasium as gym
import numpy as np
import pytest

from benchmarks.paper_fidelity import (
    RATES,
    RRC_REFERENCE,
    SHEPHERD_REFERENCE,
    rrc_statistics,
    shepherd_statistics,
    z_score,
)
from pomdp_envs.datasets import collect_shepherd_kind
from pomdp_envs.dynamics.shepherd import observed_positions

RUNS = 10_000
needs_pymunk = pytest.mark.skipif(importlib.util.find_spec("pymunk") is None, reason="needs the shapeherd extra")


@pytest.mark.parametrize("policy", sorted(RRC_REFERENCE))
def test_rrc_data_policies_match_the_original(policy):
    measured = rrc_statistics(policy, RUNS, seed=1)
    for name, reference in RRC_REFERENCE[policy].items():
        z = z_score(measured[name], reference, name in RATES)
        assert abs(z) <= 3, f"{policy} {name}: {measured[name]} vs {reference.value} (z = {z:.2f})"


@pytest.mark.parametrize("kind", sorted(SHEPHERD_REFERENCE))
def test_shepherd_acceptance_rates_and_gate_open_steps_match_the_original(kind):
    runs = 20_000 if kind == "sheep_caught" else RUNS  # the rarest kind, 2.75 %
    measured = shepherd_statistics(kind, runs, seed=1)
    for name, reference in SHEPHERD_REFERENCE[kind].items():
        z = z_score(measured[name], reference, name in RATES)
        assert abs(z) <= 3, f"{kind} {name}: {measured[name]} vs {reference.value} (z = {z:.2f})"


def test_sheep_is_masked_on_the_gate_opening_step_and_reappears_at_the_mouth():
    sequences = collect_shepherd_kind("gate_opened_left", 300, num_envs=2000, seed=3)
    gate = sequences.hidden["gate_open"]
    opened = np.argmax(gate == 1, axis=1)  # observation index of the opening step
    rows = np.arange(len(sequences))
    seen = observed_positions(sequences.observations)
    # The original: masked on 100 % of opening steps, back at y about 0 on the next.
    assert not seen.sheep_visible[rows, opened].any()
    assert seen.sheep_visible[rows, opened + 1].all()
    np.testing.assert_allclose(seen.sheep_xy[rows, opened + 1, 1], -0.025, atol=1e-6)
    np.testing.assert_allclose(seen.sheep_xy[rows, opened + 1, 0], sequences.hidden["sheep_xy"][rows, 0, 0], atol=1e-6)


def test_sheep_visible_window_and_first_hidden_step():
    # Starts on the right, standing still: the gate stays closed.
    envs = gym.make_vec(
        "pomdp_envs/Shepherd-v0", num_envs=4000, vectorization_mode="vector_entry_point", start_side="right"
    )
    obs, _ = envs.reset(seed=0)
    start_y, height = obs[:, 5].astype(float), obs[:, 6].astype(float)
    first_hidden = np.full(len(obs), -1)
    for step in range(30):
        obs, *_ = envs.step(np.zeros((len(obs), 3), dtype=np.float32))
        hidden = ~observed_positions(obs).sheep_visible & (first_hidden < 0)
        first_hidden[hidden] = step
    # Visible for ceil((y0 - h) / 0.025) observations, the start included.
    np.testing.assert_array_equal(first_hidden + 1, np.ceil((start_y - height) / 0.025 - 1e-9))
    assert first_hidden.mean() == pytest.approx(17.5, abs=0.3)  # the original: about 17.5


@needs_pymunk
def test_shapeherd_full_force_speeds_match_the_published_code():
    env = gym.make("pomdp_envs/ShapeHerd-v1", num_objects=1)
    env.reset(seed=3)
    speeds = []
    for _ in range(10):
        *_, info = env.step(np.array([0.0, 400.0], dtype=np.float32))
        speeds.append(np.linalg.norm(info["hidden"]["agent_velocity"]))
    np.testing.assert_allclose(speeds, [37, 74, 110, 144, 178, 212, 244, 276, 307, 337], atol=1.0)


@needs_pymunk
def test_shapeherd_start_ranges_are_the_published_ones():
    env = gym.make("pomdp_envs/ShapeHerd-v1")
    agent, origins = [], []
    for seed in range(200):
        env.reset(seed=seed)
        world = env.unwrapped.world
        agent.append(tuple(world.agent.position))
        origins.extend(tuple(obj.body.position) for obj in world.objects)
    agent, origins = np.array(agent), np.array(origins)
    # The goal column (x > 560) included; the first frame puts such starts on the barrier.
    assert agent[:, 0].min() >= 140 and agent[:, 0].max() <= 660 and np.mean(agent[:, 0] > 560) > 0.1
    assert agent[:, 1].min() >= 140 and agent[:, 1].max() <= 560
    assert origins[:, 0].min() >= 125 - 20 and origins[:, 0].max() <= 510 + 20  # pushed out of walls a little
    assert np.mean(origins[:, 0] < 130) > 0.001 and origins[:, 1].min() < 135 and origins[:, 1].max() > 565


def _scores(policy_name: str, episodes: int) -> np.ndarray:
    from pomdp_envs.policies import make_policy

    env = gym.make("pomdp_envs/ShapeHerd-v1")
    scores = []
    for seed in range(episodes):
        obs, info = env.reset(seed=seed)
        policy = make_policy("pomdp_envs/ShapeHerd-v1", policy_name, seed)
        policy.reset_one(obs)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy.act_one(obs, info))
            total, done = total + reward, terminated or truncated
        scores.append(total)
    return np.array(scores)


@needs_pymunk
def test_shapeherd_random_and_oracle_bracket_the_score():
    # The published code: about 0.1-0.3 objects per episode for a random policy.
    assert _scores("random", 20).mean() <= 0.6
    # The oracle is the upper reference: at least 4 of 5 on average over 30 episodes.
    assert _scores("oracle", 30).mean() >= 4.0

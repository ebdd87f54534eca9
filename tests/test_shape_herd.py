"""ShapeHerd: arena geometry, scoring, observation, oracle (skipped without pymunk or pygame-ce)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("pymunk")
pytest.importorskip("pygame")

from pomdp_envs.policies import make_policy  # noqa: E402
from pomdp_envs.worlds.shape_herd import AGENT_RADIUS, COLOUR_RGB, COLOURS, ShapeHerdConfig  # noqa: E402

ENV_ID = "pomdp_envs/ShapeHerd-v1"


def test_basic_arena_geometry_and_sizes():
    basic = ShapeHerdConfig()
    assert (basic.width, basic.height, basic.goal_x) == (800, 700, 575)
    assert basic.goal_y_range == (237.5, 462.5)
    large = ShapeHerdConfig(arena_scale=1.6)
    assert (large.width, large.height) == (1280, 1120)
    assert large.goal_x == 1280 - 125 - 100  # walls and goal width do not scale
    for name, scale in (("ShapeHerd-Small-v1", 1.2), ("ShapeHerd-Medium-v1", 1.4), ("ShapeHerd-Large-v1", 1.6)):
        assert gym.make(f"pomdp_envs/{name}").unwrapped.config.arena_scale == scale


def test_observation_is_a_64x64_view_centred_on_the_agent():
    env = gym.make(ENV_ID)
    obs, info = env.reset(seed=0)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    centre = obs[30:34, 30:34].reshape(-1, 3).mean(axis=0)
    veiled = np.array([70, 130, 180]) * 155 / 255 + 128 * 100 / 255  # the agent's steel blue
    np.testing.assert_allclose(centre, veiled, atol=2)


def test_the_view_is_veiled_as_published():
    plain = gym.make(ENV_ID, veil=False).reset(seed=1)[0].astype(float)
    veiled = gym.make(ENV_ID).reset(seed=1)[0].astype(float)
    np.testing.assert_allclose(veiled, plain * 155 / 255 + 128 * 100 / 255, atol=1.5)
    assert np.all(veiled[plain.sum(axis=2) == 0] == 50)  # the black floor reads (50, 50, 50)


def test_view_shows_each_object_in_view_at_its_position_and_colour():
    env = gym.make(ENV_ID, veil=False)
    obs, info = env.reset(seed=3)
    checked = 0
    for _ in range(200):
        hidden = info["hidden"]
        # Window pixel of each centroid; objects reach >= 2 pixels around it.
        pixel = np.floor((hidden["object_xy"] - hidden["agent_xy"] + 125.0) * 64 / 250).astype(int)
        for index in np.flatnonzero(hidden["object_in_view"]):
            column, row = pixel[index]
            if 2 <= row < 62 and 2 <= column < 62:
                colour = COLOUR_RGB[COLOURS[hidden["object_colour"][index]]]
                assert obs[row - 1 : row + 2, column - 1 : column + 2].reshape(-1, 3).tolist().count(list(colour)) >= 6
                checked += 1
        obs, _, _, _, info = env.step(np.array([np.pi, 300.0], dtype=np.float32))  # sweep left
    assert checked > 10


def test_agent_cannot_enter_the_goal():
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    for _ in range(150):  # full force to the right
        *_, info = env.step(np.array([0.0, 400.0], dtype=np.float32))
        assert info["hidden"]["agent_xy"][0] <= 575 - AGENT_RADIUS + 1e-6


def test_an_object_pushed_into_the_goal_scores_and_leaves():
    env = gym.make(ENV_ID, num_objects=1)
    env.reset(seed=0)
    world = env.unwrapped.world
    body = world.objects[0].body
    body.position = (560.0, 350.0)
    body.velocity = (400.0, 0.0)
    total, terminated = 0.0, False
    for _ in range(10):
        _, reward, terminated, _, info = env.step(np.array([np.pi, 0.0], dtype=np.float32))
        total += reward
        if terminated:
            break
    assert terminated and total == 1.0 and info["is_success"]
    assert info["hidden"]["object_scored"].tolist() == [1] and info["hidden_changed"]["object_scored"]
    assert body not in world.space.bodies


def test_dense_reward_adds_the_time_bonus():
    env = gym.make(ENV_ID, num_objects=1, dense_reward=True)
    env.reset(seed=0)
    body = env.unwrapped.world.objects[0].body
    body.position, body.velocity = (560.0, 350.0), (400.0, 0.0)
    reward = 0.0
    while reward == 0.0:
        _, reward, *_ = env.step(np.array([np.pi, 0.0], dtype=np.float32))
    frames = env.unwrapped.world.frames
    assert reward == pytest.approx(1.0 + max(0.0, 1.5 - frames / 1000))


def test_objects_entering_the_view_are_flagged():
    env = gym.make(ENV_ID)
    _, info = env.reset(seed=3)
    flags = []
    for _ in range(200):
        *_, info = env.step(np.array([np.pi, 300.0], dtype=np.float32))  # sweep left
        flags.append(info["hidden_changed"]["object_in_view"])
    assert any(flags)


def test_object_slots_are_in_the_canonical_order_of_colour_shape_and_start_x():
    env = gym.make(ENV_ID)
    duplicates = 0
    for seed in range(30):
        _, info = env.reset(seed=seed)
        hidden, world = info["hidden"], env.unwrapped.world
        keys = list(zip(hidden["object_colour"], hidden["object_shape"], hidden["object_xy"][:, 0]))
        order = [(colour, shape) for colour, shape, _ in keys]
        assert order == sorted(order)
        drawn = [(o.colour_index, o.shape_index, o.body.position[0]) for o in world.objects]
        starts = sorted(drawn)
        assert [(c, s) for c, s, _ in starts] == order  # the same objects, sorted
        for k in range(len(keys) - 1):
            if order[k] == order[k + 1]:  # same colour and shape: the one that started further left first
                duplicates += 1
                assert starts[k][2] < starts[k + 1][2]
        # Slot k reads the k-th object of that order, at every step.
        slot_of = {id(world.objects[i]): k for k, i in enumerate(env.unwrapped._slots)}
        *_, info = env.step(np.array([0.0, 400.0], dtype=np.float32))
        for obj in world.objects:
            k = slot_of[id(obj)]
            assert info["hidden"]["object_colour"][k] == obj.colour_index
            assert info["hidden"]["object_shape"][k] == obj.shape_index
    assert duplicates > 0  # the tie-break was exercised


def test_object_cells_mark_the_cells_of_objects_in_play():
    from pomdp_envs.envs.shape_herd import object_cells

    # Basic arena: interior x 125-675, y 125-575, cells 183.3 x 150 px.
    xy = np.array([[130.0, 130.0], [670.0, 570.0], [400.0, 350.0], [130.0, 560.0], [40.0, 400.0]])
    cells = object_cells(xy, np.array([0, 0, 0, 1, 0]), 800, 700)
    # top-left, bottom-right, centre; the scored one (bottom-left) is not marked; one left
    # of the interior counts in its edge cell.
    np.testing.assert_array_equal(cells, [1, 0, 0, 1, 1, 0, 0, 0, 1])
    both = object_cells(np.stack([xy, xy[::-1]]), np.zeros((2, 5)), 800, 700)
    np.testing.assert_array_equal(both[0], both[1])


def test_validation_reads_object_cells_instead_of_slots():
    from baselines.validation.protocol import with_factors
    from pomdp_envs.datasets import collect_sequences
    from pomdp_envs.registration import find_entry, load_entry_point

    env = gym.make(ENV_ID)
    to_factors = load_entry_point(find_entry(ENV_ID).validation_factors)
    sequences = collect_sequences(ENV_ID, make_policy(ENV_ID, "oracle", seed=0), 4, 40, seed=0)
    factors, space = with_factors(sequences, to_factors, env)
    assert sorted(space.spaces) == ["agent_velocity", "agent_xy", "object_cells"]
    cells = factors.hidden["object_cells"]
    assert cells.shape == (4, 41, 9) and space["object_cells"] == gym.spaces.MultiBinary(9)
    assert (cells.sum(-1) >= 1).all()  # five objects are somewhere until all are scored
    moved = np.any(cells[:, 1:] != cells[:, :-1], axis=-1)
    np.testing.assert_array_equal(factors.hidden_changed["object_cells"][:, 1:], moved)
    assert not factors.hidden_changed["object_cells"][:, 0].any()
    np.testing.assert_array_equal(factors.hidden_changed["agent_xy"], sequences.hidden_changed["agent_xy"])


def test_version_0_ids_point_to_version_1():
    with pytest.raises(gym.error.DeprecatedEnv, match="v1"):
        gym.make("pomdp_envs/ShapeHerd-v0")


def test_oracle_scores_in_most_seeds():
    env = gym.make(ENV_ID)
    scored_any = 0
    for seed in range(8):
        obs, info = env.reset(seed=seed)
        policy = make_policy(ENV_ID, "oracle", seed)
        policy.reset_one(obs)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy.act_one(obs, info))
            total += reward
            done = terminated or truncated or total >= 1
        scored_any += total >= 1
    assert scored_any >= 6


def test_oracle_without_info_is_a_clear_error():
    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=0)
    policy = make_policy(ENV_ID, "oracle", 0)
    policy.reset_one(obs)
    with pytest.raises(ValueError, match="info"):
        policy.act_one(obs)


def test_normalized_actions_map_linearly_onto_the_published_box():
    raw = gym.make(ENV_ID, num_objects=1)
    normal = gym.make(ENV_ID, num_objects=1, normalized_actions=True)
    assert normal.action_space == gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    raw.reset(seed=2)
    normal.reset(seed=2)
    for _ in range(5):
        *_, raw_info = raw.step(np.array([np.pi / 2, 300.0], dtype=np.float32))  # down at 3/4 force
        *_, normal_info = normal.step(np.array([-0.5, 0.5], dtype=np.float32))
    np.testing.assert_allclose(normal_info["hidden"]["agent_xy"], raw_info["hidden"]["agent_xy"], rtol=1e-5)
    with pytest.raises(ValueError):
        normal.step(np.array([0.0, 2.0], dtype=np.float32))

"""The fully observable variant of every id: the contract tests, and that what it adds is
exactly what the partial view hides."""

from __future__ import annotations

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from conftest import ALL_IDS, NATIVE_VECTOR_IDS
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from helpers import assert_same, rollout

from pomdp_envs.wrappers import FullyObservable, FullyObservableVector
from pomdp_envs.wrappers.fully_observable import HiddenEncoder

ALLOWED_WARNINGS = (
    "we recommend using a symmetric and normalized space",  # ShapeHerd's action space, as for the plain env
    "is different from the unwrapped version",  # the checker's note that it checks a wrapper
)
# Fetch's velocities come back unbounded, as upstream declares them.
UNBOUNDED_WARNINGS = ("minimum value is -infinity", "maximum value is infinity")


def full(env_id: str, **kwargs) -> gym.Env:
    return FullyObservable(gym.make(env_id, **kwargs))


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_env_checker_passes(env_id):
    env = FullyObservable(gym.make(env_id, render_mode="rgb_array").unwrapped)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    allowed = ALLOWED_WARNINGS + (UNBOUNDED_WARNINGS if "Fetch" in env_id else ())
    unexpected = [str(w.message) for w in caught if not any(a in str(w.message) for a in allowed)]
    assert not unexpected
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_observations_lie_in_the_space_and_a_seed_repeats_them(env_id):
    first = rollout(full(env_id), seed=3, steps=120)
    assert_same(first, rollout(full(env_id), seed=3, steps=120))
    space = full(env_id).observation_space
    for record in first:
        assert space.contains(record[0])
    # Rewards, ends and infos are the partial env's; an env with its own full view adds
    # the partial observation to the info.
    partial = rollout(gym.make(env_id), seed=3, steps=120)
    for ours, theirs in zip(first, partial):
        info = dict(ours[-1])
        if "partial_observation" in info:
            assert_same(info.pop("partial_observation"), theirs[0])
        assert_same((*ours[1:-1], info), theirs[1:])


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_pickle_round_trip_continues_identically(env_id):
    env = full(env_id)
    env.reset(seed=5)
    env.action_space.seed(5)
    for _ in range(3):
        env.step(env.action_space.sample())
    copy = pickle.loads(pickle.dumps(env))
    actions = [env.action_space.sample() for _ in range(5)]
    assert_same([env.step(a) for a in actions], [copy.step(a) for a in actions])


@pytest.mark.parametrize("env_id", NATIVE_VECTOR_IDS)
def test_native_vector_variant_matches_single_envs(env_id):
    vector = FullyObservable(gym.make_vec(env_id, 3, vectorization_mode="vector_entry_point"))
    assert isinstance(vector, FullyObservableVector)
    singles = [full(env_id) for _ in range(3)]
    observations, _ = vector.reset(seed=[0, 1, 2])
    for i, env in enumerate(singles):
        np.testing.assert_array_equal(observations[i], env.reset(seed=i)[0])
    vector.single_action_space.seed(0)
    for _ in range(30):
        actions = np.stack([vector.single_action_space.sample() for _ in range(3)])
        observations, *_ = vector.step(actions)
        for i, env in enumerate(singles):
            single, *_ = env.step(actions[i])
            np.testing.assert_array_equal(observations[i], single)
    assert vector.observation_space.contains(observations)


@pytest.mark.parametrize("env_id", ["pomdp_envs/RobotRemoteControl-v0", "pomdp_envs/MiniGrid-MemoryS7-v0"])
def test_sync_vector_env_takes_it_as_a_per_env_wrapper(env_id):
    pytest.importorskip("minigrid")
    envs = gym.make_vec(env_id, 2, vectorization_mode="sync", wrappers=[FullyObservable])
    observations, _ = envs.reset(seed=0)
    assert observations.shape == (2, *full(env_id).observation_space.shape)


def test_vector_observations_carry_the_hidden_factors_scaled():
    env = full("pomdp_envs/RobotRemoteControl-v0")  # observation in [-1, 1], one Discrete(2) factor
    assert env.observation_space.shape == (6,)
    observation, info = env.reset(seed=0)
    assert info["hidden"]["robot_controlled"] == 0
    np.testing.assert_array_equal(observation[4:], [1.0, -1.0])  # one-hot of 0, scaled into [-1, 1]
    env = full("pomdp_envs/BilliardBall-v0")  # pocketed Discrete(2), velocity Box(-1.6, 1.6) -> [-1, 1]
    observation, info = env.reset(seed=0)
    np.testing.assert_allclose(observation[4:], info["hidden"]["velocity"] / 1.6, rtol=1e-6)


def test_the_encoder_covers_every_kind_of_space():
    hidden_space = spaces.Dict(
        {
            "a": spaces.Box(0.0, 4.0, (2,)),
            "b": spaces.Discrete(3, start=1),
            "c": spaces.MultiBinary(2),
            "d": spaces.MultiDiscrete([2, 3]),
        }
    )
    encoder = HiddenEncoder(hidden_space, -1.0, 1.0)
    assert encoder.size == 2 + 3 + 2 + 5
    value = {"a": [[1.0, 4.0]], "b": [2], "c": [[1, 0]], "d": [[1, 2]]}
    unit = [0.25, 1.0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 1]
    np.testing.assert_allclose(encoder.encode(value)[0], -1.0 + 2.0 * np.array(unit))
    with pytest.raises(ValueError, match="unbounded"):
        HiddenEncoder(spaces.Dict({"v": spaces.Box(-np.inf, np.inf, (1,))}), 0.0, 1.0)


def test_minigrid_sees_the_grid_as_upstreams_full_observation_wrapper():
    pytest.importorskip("minigrid")
    from minigrid.wrappers import FullyObsWrapper

    env = full("pomdp_envs/MiniGrid-DoorKey-6x6-v0")
    upstream = FullyObsWrapper(gym.make("MiniGrid-DoorKey-6x6-v0"))
    ours, _ = env.reset(seed=4)
    theirs, _ = upstream.reset(seed=4)
    np.testing.assert_array_equal(ours, theirs["image"])
    for action in [2, 1, 2, 2, 0, 3, 5, 2]:
        np.testing.assert_array_equal(env.step(action)[0], upstream.step(action)[0]["image"])


def test_fetch_gets_back_the_dimensions_its_view_drops():
    pytest.importorskip("gymnasium_robotics")
    env = full("pomdp_envs/FetchPickAndPlacePO-v0")
    observation, _ = env.reset(seed=2)
    upstream = env.unwrapped.upstream
    partial = env.unwrapped._observe(env.unwrapped._upstream_obs)
    np.testing.assert_array_equal(
        observation, np.concatenate([partial, env.unwrapped._upstream_obs["observation"][11:]])
    )
    assert observation.shape == (28,) and upstream is not None


def test_shapeherd_sees_the_whole_arena():
    pytest.importorskip("pymunk")
    env = full("pomdp_envs/ShapeHerd-v1", veil=False)
    observation, info = env.reset(seed=1)
    assert observation.shape == (64, 64, 3)
    # Every object not yet scored is drawn somewhere in the one image, in or out of view.
    from pomdp_envs.worlds.shape_herd import COLOUR_RGB, COLOURS

    for colour in info["hidden"]["object_colour"]:
        rgb = np.array(COLOUR_RGB[COLOURS[colour]])
        assert np.any(np.all(observation == rgb, axis=-1)), COLOURS[colour]


def test_the_readme_example_runs():
    pytest.importorskip("minigrid")
    import re

    from documents import section

    namespace: dict = {}
    exec(re.search(r"```python\n(.*?)```", section("Fully observable variants"), re.S).group(1), namespace)
    assert namespace["obs"].shape == (6,)
    assert namespace["envs"].observation_space.shape == (16, 15)
    assert namespace["grid"].observation_space.shape == (8, 7, 7, 3)


@pytest.mark.parametrize("env_id", NATIVE_VECTOR_IDS)
def test_recorded_sequences_become_what_the_variant_shows(env_id):
    """``fully_observed_sequences`` on data recorded from the partial env equals the
    observations the fully observable variant gives online."""
    from pomdp_envs.datasets import Sequences
    from pomdp_envs.wrappers.fully_observable import fully_observed_sequences

    partial, online = gym.make(env_id), full(env_id)
    partial.action_space.seed(0)
    observation, info = partial.reset(seed=7)
    seen = [online.reset(seed=7)[0]]
    observations, actions, hidden = [observation], [], [info["hidden"]]
    for _ in range(10):
        action = partial.action_space.sample()
        observation, _, _, _, info = partial.step(action)
        seen.append(online.step(action)[0])
        observations.append(observation)
        actions.append(action)
        hidden.append(info["hidden"])
    record = Sequences(
        env_id,
        np.array([observations]),
        np.array([actions]),
        np.zeros((1, 10)),
        {name: np.array([[h[name] for h in hidden]]) for name in hidden[0]},
        {name: np.zeros((1, 11), dtype=bool) for name in hidden[0]},
    )
    np.testing.assert_array_equal(fully_observed_sequences(record).observations[0], np.array(seen))

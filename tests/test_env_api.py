"""Contract tests run on every registered id."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from conftest import ALL_IDS, NATIVE_VECTOR_IDS
from gymnasium.utils.env_checker import check_env, data_equivalence
from helpers import assert_same, rollout

pytestmark = pytest.mark.parametrize("env_id", ALL_IDS)


# ShapeHerd's action space is (angle in [0, 2 pi], force in [0, 400]) by its spec;
# the checker's advice to normalise it is the only warning allowed.
ALLOWED_WARNINGS = ("we recommend using a symmetric and normalized space",)


def test_env_checker_passes_without_warnings(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    unexpected = [str(w.message) for w in caught if not any(a in str(w.message) for a in ALLOWED_WARNINGS)]
    assert not unexpected
    env.close()


def test_same_seed_same_trajectory(env_id):
    first = rollout(gym.make(env_id), seed=3, steps=120)
    second = rollout(gym.make(env_id), seed=3, steps=120)
    assert_same(first, second)


def test_different_seeds_differ(env_id):
    starts = [gym.make(env_id).reset(seed=seed) for seed in range(5)]
    assert any(not data_equivalence(starts[0], other) for other in starts[1:])


def test_pickle_round_trip_continues_identically(env_id):
    env = gym.make(env_id)
    rollout(env, seed=5, steps=7)
    clone = pickle.loads(pickle.dumps(env))
    env.action_space.seed(11)
    clone.action_space.seed(11)
    for _ in range(20):
        action = env.action_space.sample()
        assert_same(env.step(action), clone.step(clone.action_space.sample()))


def test_every_render_mode_returns_a_frame(env_id):
    env = gym.make(env_id)
    for mode in env.metadata["render_modes"]:
        rendered = gym.make(env_id, render_mode=mode)
        rendered.reset(seed=0)
        rendered.step(rendered.action_space.sample())
        frame = rendered.render()
        assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
        assert frame.min() < frame.max(), "blank frame"
    frames_env = gym.make(env_id, render_mode="rgb_array_list")
    frames_env.reset(seed=0)
    frames_env.step(frames_env.action_space.sample())
    assert len(frames_env.render()) == 2
    assert isinstance(env.metadata["render_fps"], int)


@pytest.mark.parametrize("episode, steps", [(15, 35), (1, 140)])  # 140 crosses a reset_block
def test_native_vector_env_matches_single_envs(env_id, episode, steps):
    skip_without_native_vector(env_id)
    num_envs = 3
    native = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", max_episode_steps=episode)
    sync = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", max_episode_steps=episode)
    assert native.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    assert native.single_observation_space == sync.single_observation_space
    assert native.single_action_space == sync.single_action_space
    assert_same(native.reset(seed=7), sync.reset(seed=7), "after reset")
    native.action_space.seed(2)
    for step in range(steps):
        actions = native.action_space.sample()
        assert_same(native.step(actions), sync.step(actions), f"at step {step}")


def test_hidden_factors_in_info_and_space(env_id):
    env = gym.make(env_id)
    hidden_space = env.unwrapped.hidden_space
    _, info = env.reset(seed=0)
    assert set(info["hidden"]) == set(hidden_space.spaces) == set(info["hidden_changed"])
    assert not any(info["hidden_changed"].values())
    env.action_space.seed(0)
    for _ in range(60):
        *_, terminated, truncated, info = env.step(env.action_space.sample())
        assert hidden_space.contains(info["hidden"]), info["hidden"]
        assert set(info["hidden_changed"]) == set(hidden_space.spaces)
        assert all(isinstance(flag, bool) for flag in info["hidden_changed"].values())
        if terminated or truncated:
            env.reset()


def test_editing_an_info_leaves_the_next_change_flags_alone(env_id):
    env = gym.make(env_id)
    env.action_space.seed(1)
    _, info = env.reset(seed=1)
    for _ in range(3):
        info["hidden"].clear()  # a caller's edit; the env's own record must not be it
        *_, info = env.step(env.action_space.sample())
        assert set(info["hidden"]) == set(info["hidden_changed"]) == set(env.unwrapped.hidden_space.spaces)
    env.close()


def test_vector_hidden_factors_in_batched_space(env_id):
    skip_without_native_vector(env_id)
    vec = gym.make_vec(env_id, num_envs=4, vectorization_mode="vector_entry_point")
    _, info = vec.reset(seed=0)
    for _ in range(10):
        *_, info = vec.step(vec.action_space.sample())
        hidden = {name: value for name, value in info["hidden"].items() if not name.startswith("_")}
        assert vec.unwrapped.hidden_space.contains(hidden)


def test_invalid_actions_raise_clear_errors(env_id):
    env = gym.make(env_id, disable_env_checker=True)
    env.reset(seed=0)
    space = env.action_space
    bad = [np.zeros((7, 7))]
    if isinstance(space, gym.spaces.Discrete):
        bad += [space.n + space.start, 0.5]
    else:
        bad += [np.full(space.shape, np.nan), space.high + 1.0]
    for action in bad:
        with pytest.raises(ValueError, match="action"):
            env.step(action)
    skip_without_native_vector(env_id)
    vec = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point")
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="actions"):
        vec.step(vec.action_space.sample()[:1])


def test_invalid_reset_options_and_config_raise(env_id):
    env = gym.make(env_id)
    with pytest.raises(ValueError, match="no_such_option"):
        env.reset(options={"no_such_option": 1})
    with pytest.raises(ValueError, match="no_such_option"):
        gym.make_vec(env_id, num_envs=2).reset(options={"no_such_option": 1})
    with pytest.raises(TypeError, match="no_such_field"):
        gym.make(env_id, no_such_field=1)
    with pytest.raises(ValueError, match="render_mode"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gymnasium.make warns before the env raises
        gym.make(env_id, render_mode="hologram")


def test_step_before_reset_is_an_error(env_id):
    env = gym.make(env_id, disable_env_checker=True).unwrapped
    with pytest.raises(gym.error.ResetNeeded):
        env.step(env.action_space.sample())


def test_render_before_reset_is_an_error_in_single_and_native_vector_envs(env_id):
    spec = gym.spec(env_id)
    env = gym.make(env_id, render_mode="rgb_array", disable_env_checker=True).unwrapped
    with pytest.raises(gym.error.ResetNeeded):
        env.render()
    env.close()
    if spec.vector_entry_point is None:
        return
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", render_mode="rgb_array")
    with pytest.raises(gym.error.ResetNeeded):
        envs.render()
    envs.close()


def test_spec_serialises(env_id):
    spec = gym.spec(env_id)
    assert gym.envs.registration.EnvSpec.from_json(spec.to_json()) == spec


def test_make_by_module_path_without_prior_import(env_id):
    code = (
        "import sys, gymnasium as gym\n"
        "assert 'pomdp_envs' not in sys.modules\n"
        f"env = gym.make('pomdp_envs:{env_id}')\n"
        "env.reset(seed=0)\n"
        "env.step(env.action_space.sample())\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def skip_without_native_vector(env_id):
    if env_id not in NATIVE_VECTOR_IDS:
        pytest.skip("no native vector env (Gymnasium's SyncVectorEnv applies)")

"""Physics of Billiard Ball, checked on the batched dynamics directly."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from pomdp_envs.dynamics.billiard_ball import (
    BilliardBallConfig,
    BilliardBallDynamics,
    BilliardBallState,
)

NO_ACTION = np.zeros(1, dtype=np.int64)


def run(dynamics, state, steps):
    states, changes = [state], []
    for _ in range(steps):
        transition = dynamics.step(state, np.zeros(state.position.shape[0], dtype=np.int64))
        state = transition.state
        states.append(state)
        changes.append(transition.hidden_changed["velocity"])
    return states, np.array(changes)


def test_ball_stays_on_table_and_energy_never_increases():
    dynamics = BilliardBallDynamics(BilliardBallConfig())
    uniforms = np.random.default_rng(0).random((500, dynamics.num_reset_uniforms))
    states, _ = run(dynamics, dynamics.initial_state(uniforms), 400)
    positions = np.array([s.position for s in states])
    pocketed = np.array([s.pocketed for s in states])
    energies = np.array([(s.velocity**2).sum(axis=1) for s in states])
    limit = dynamics.config.position_limit
    assert np.all(np.abs(positions[~pocketed]) <= limit + 1e-12)
    # A pocketed ball sits at a pocket's centre for good.
    pockets = dynamics.config.pockets
    at_pocket = np.min(np.linalg.norm(positions[pocketed][:, None] - pockets[None], axis=2), axis=1)
    assert pocketed.any() and np.all(at_pocket == 0.0)
    assert np.all(pocketed[1:] >= pocketed[:-1])
    assert np.all(np.diff(energies, axis=0) <= 1e-12)


def test_collision_flag_marks_exactly_the_velocity_sign_flips():
    dynamics = BilliardBallDynamics(BilliardBallConfig())
    uniforms = np.random.default_rng(1).random((200, dynamics.num_reset_uniforms))
    states, changed = run(dynamics, dynamics.initial_state(uniforms), 200)
    velocities = np.array([s.velocity for s in states])
    flipped = (np.sign(velocities[1:]) * np.sign(velocities[:-1]) < 0).any(axis=2)
    moving = np.linalg.norm(velocities[1:], axis=2) > 0
    assert np.array_equal(changed & moving, flipped)
    assert changed.any(), "no collision in 200 episodes"


def test_reflection_is_exact_at_a_known_bounce():
    config = BilliardBallConfig(friction_deceleration=0.0, restitution=0.5, dt=0.1)
    dynamics = BilliardBallDynamics(config)
    limit = config.position_limit
    state = BilliardBallState(np.array([[limit[0] - 0.02, 0.0]]), np.array([[1.0, 0.0]]), np.zeros(1, dtype=bool))
    transition = dynamics.step(state, NO_ACTION)
    # 0.1 of travel: 0.02 to the cushion, then 0.08 back at half speed -> 0.04.
    np.testing.assert_allclose(transition.state.position, [[limit[0] - 0.04, 0.0]])
    np.testing.assert_allclose(transition.state.velocity, [[-0.5, 0.0]])
    assert transition.hidden_changed["velocity"].tolist() == [True]


def test_friction_slows_the_ball_to_rest_and_flags_it():
    config = BilliardBallConfig(friction_deceleration=1.0, dt=0.1)
    dynamics = BilliardBallDynamics(config)
    state = BilliardBallState(np.zeros((1, 2)), np.array([[0.25, 0.0]]), np.zeros(1, dtype=bool))
    states, changed = run(dynamics, state, 4)
    speeds = [float(np.linalg.norm(s.velocity)) for s in states]
    np.testing.assert_allclose(speeds, [0.25, 0.15, 0.05, 0.0, 0.0], atol=1e-12)
    assert changed[:, 0].tolist() == [False, False, True, False]


def test_start_state_ranges():
    dynamics = BilliardBallDynamics(BilliardBallConfig())
    uniforms = np.random.default_rng(2).random((5000, dynamics.num_reset_uniforms))
    state = dynamics.initial_state(uniforms)
    speed = np.linalg.norm(state.velocity, axis=1)
    assert speed.min() >= 0.6 and speed.max() <= 1.6
    assert np.all(np.abs(state.position) <= dynamics.config.position_limit)
    assert np.abs(state.position[:, 0]).max() > 0.9 and np.abs(state.position[:, 1]).max() < 0.5


def one_ball(position, velocity):
    return BilliardBallState(np.array([position], float), np.array([velocity], float), np.zeros(1, dtype=bool))


@pytest.mark.parametrize("target", [(1.0, 0.5), (-1.0, -0.5), (0.0, 0.5), (0.0, -0.5)])
def test_a_ball_rolled_at_a_pocket_drops_and_stays(target):
    config = BilliardBallConfig(friction_deceleration=0.0)
    dynamics = BilliardBallDynamics(config)
    start = np.array([0.3 * np.sign(target[0]) if target[0] else 0.2, 0.0])
    direction = (np.array(target) - start) / np.linalg.norm(np.array(target) - start)
    state = one_ball(start, 1.5 * direction)
    dropped_at = None
    for step in range(60):
        transition = dynamics.step(state, NO_ACTION)
        state = transition.state
        if transition.hidden_changed["pocketed"][0]:
            dropped_at = step
            assert transition.hidden_changed["velocity"][0]
    assert dropped_at is not None and state.pocketed[0]
    np.testing.assert_array_equal(state.position[0], target)
    np.testing.assert_array_equal(state.velocity[0], [0.0, 0.0])


def test_a_ball_passing_outside_the_pocket_radius_stays_on_the_table():
    # Along the long cushion, 0.09 from the side pocket's centre (radius 0.08).
    dynamics = BilliardBallDynamics(BilliardBallConfig(friction_deceleration=0.0))
    state = one_ball((-0.5, 0.5 - 0.09), (1.0, 0.0))
    for _ in range(20):
        state = dynamics.step(state, NO_ACTION).state
    assert not state.pocketed[0] and state.position[0, 0] > 0.4


def test_terminate_on_pocket_ends_the_episode():
    env = gym.make("pomdp_envs/BilliardBall-v0", terminate_on_pocket=True, friction_deceleration=0.0)
    env.reset(seed=0, options={"position": (0.7, 0.2), "velocity": (0.9, 0.9)})
    for _ in range(20):
        obs, _, terminated, _, info = env.step(0)
        if terminated:
            break
    assert terminated and info["hidden"]["pocketed"] == 1 and info["hidden_changed"]["pocketed"]
    np.testing.assert_array_equal(obs, [1.0, 0.5])


def test_reset_options_set_the_start_state():
    env = gym.make("pomdp_envs/BilliardBall-v0")
    obs, info = env.reset(seed=0, options={"position": (0.1, -0.2), "velocity": (0.5, 0.0)})
    np.testing.assert_allclose(obs, [0.1, -0.2], rtol=1e-6)
    np.testing.assert_allclose(info["hidden"]["velocity"], [0.5, 0.0])
    with pytest.raises(ValueError, match="position"):
        env.reset(options={"position": (3.0, 0.0)})
    with pytest.raises(ValueError, match="velocity"):
        env.reset(options={"velocity": (1.0,)})


def test_config_rejects_impossible_values():
    with pytest.raises(ValueError):
        BilliardBallConfig(restitution=1.5)
    with pytest.raises(ValueError):
        BilliardBallConfig(max_speed=100.0)
    env = gym.make("pomdp_envs/BilliardBall-v0", restitution=0.5)
    assert env.unwrapped.config.restitution == 0.5

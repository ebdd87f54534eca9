"""The MiniGrid solver: seeded, within the action space, and it reaches what each task's
hidden factors are about (the Memory cue and the hallway's end, the key, the doors)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("minigrid")

from pomdp_envs.datasets import collect_sequences  # noqa: E402
from pomdp_envs.policies import make_policy  # noqa: E402
from pomdp_envs.policies.minigrid import BALL, UNSEEN, SolverPolicy  # noqa: E402
from pomdp_envs.registration import find_entry  # noqa: E402
from pomdp_envs.wrappers.minigrid_memory import OPEN, TASKS  # noqa: E402

SEQUENCES, STEPS = 24, 64


def rollout(task: str, seed: int = 0):
    env_id = f"pomdp_envs/MiniGrid-{task}-v0"
    policy = make_policy(env_id, "solver", seed=seed)
    return collect_sequences(env_id, policy, SEQUENCES, STEPS, seed=seed, num_envs=SEQUENCES), policy


@pytest.mark.parametrize("task", sorted(TASKS))
def test_the_solver_is_seeded_stays_in_the_action_space_and_is_every_tasks_validation_policy(task):
    first, _ = rollout(task)
    again, _ = rollout(task)
    np.testing.assert_array_equal(first.actions, again.actions)
    other, _ = rollout(task, seed=1)
    assert not np.array_equal(first.actions, other.actions)
    assert first.actions.min() >= 0 and first.actions.max() < 7
    assert find_entry(f"pomdp_envs/MiniGrid-{task}-v0").validation_policy == "solver"


@pytest.mark.parametrize("task", sorted(TASKS))
def test_the_solver_reaches_each_tasks_result_in_most_episodes(task):
    sequences, _ = rollout(task)
    rewarded = (sequences.rewards > 0).any(axis=1)
    assert rewarded.mean() >= 0.8, f"{task}: rewarded in {rewarded.mean():.2f} of the episodes"
    if task.startswith("DoorKey"):
        assert (sequences.hidden["door_states"][:, -1, 0] == OPEN).mean() >= 0.8
    if task.startswith("KeyCorridor"):
        held_ball = (sequences.hidden["carrying"][..., 0] == BALL).any(axis=1)
        assert held_ball.mean() >= 0.8


@pytest.mark.parametrize("task", ["MemoryS7", "MemoryS11", "MemoryS13"])
def test_the_solver_sees_the_memory_cue_and_walks_the_hallway_to_its_end(task):
    sequences, policy = rollout(task)
    width, height = policy.width, policy.height
    saw_cue = policy.maps[:, 1, height // 2 - 1, 0] != UNSEEN
    at_end = (sequences.hidden["agent_pos"][..., 0] >= width - 2).any(axis=1)
    assert saw_cue.mean() >= 0.9 and at_end.mean() >= 0.9
    # The cue is seen first: the hallway's end is reached after the start room.
    first_end = np.argmax(sequences.hidden["agent_pos"][..., 0] >= width - 2, axis=1)
    assert np.median(first_end) > 2


def test_under_the_full_view_the_solver_drives_the_same_episodes():
    from pomdp_envs.wrappers.fully_observable import FullyObservable

    env_id = "pomdp_envs/MiniGrid-KeyCorridorS3R2-v0"
    runs = [
        collect_sequences(env_id, make_policy(env_id, "solver", seed=2), 8, 30, seed=2, num_envs=8, **kwargs)
        for kwargs in ({}, {"vectorization_mode": "sync", "wrappers": [FullyObservable]})
    ]
    np.testing.assert_array_equal(runs[0].actions, runs[1].actions)
    assert runs[0].observations.shape[2:] != runs[1].observations.shape[2:]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown MiniGrid task"):
        SolverPolicy("Nope")
    with pytest.raises(ValueError, match="random_share"):
        SolverPolicy("MemoryS7", random_share=1.5)
    with pytest.raises(ValueError, match="info"):
        policy = SolverPolicy("MemoryS7", seed=0)
        policy.reset(np.zeros((1, 7, 7, 3)))
        policy.act(np.zeros((1, 7, 7, 3)))


def _step_onto_the_success_cell(env: gym.Env):
    env.reset(seed=0)
    upstream = env.unwrapped.upstream
    x, y = upstream.success_pos
    middle = upstream.height // 2
    upstream.agent_pos = np.array((x, middle))  # the hallway's end, between the two objects
    upstream.agent_dir = 3 if y < middle else 1  # facing the success cell
    return env.step(2)


def test_end_on_result_false_keeps_the_episode_going_after_the_result():
    _, reward, terminated, _, info = _step_onto_the_success_cell(
        gym.make("pomdp_envs/MiniGrid-MemoryS7-v0", end_on_result=False)
    )
    assert reward > 0 and info["is_success"] and not terminated
    _, reward, terminated, _, info = _step_onto_the_success_cell(gym.make("pomdp_envs/MiniGrid-MemoryS7-v0"))
    assert reward > 0 and info["is_success"] and terminated
    assert find_entry("pomdp_envs/MiniGrid-MemoryS7-v0").no_early_end == {"end_on_result": False}

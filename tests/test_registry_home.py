"""Every fact about an env lives on its registry entry (or, for a baseline, in that
baseline's table): an env added in that one place is found everywhere."""

from __future__ import annotations

import dataclasses
import typing

import gymnasium as gym
import numpy as np
import pytest

from pomdp_envs import cli, registration
from pomdp_envs.datasets import collect_sequences
from pomdp_envs.policies import make_policy, policy_names
from pomdp_envs.registration import EnvEntry, PolicyEntry

THROWAWAY = EnvEntry(
    name="Throwaway-v0",
    entry_point="pomdp_envs.envs.robot_remote_control:RobotRemoteControlEnv",
    vector_entry_point="pomdp_envs.envs.robot_remote_control:RobotRemoteControlVectorEnv",
    max_episode_steps=50,
    description="A copy of Robot Remote Control under another name.",
    short_name="throwaway",
    no_early_end={"terminate_on_success": False},
    policies={"straight-to-goal": PolicyEntry("pomdp_envs.policies.robot_remote_control:OraclePolicy")},
)


@pytest.fixture
def throwaway(monkeypatch):
    monkeypatch.setattr(registration, "ENTRIES", (*registration.ENTRIES, THROWAWAY))
    registration.register_envs()
    yield THROWAWAY
    gym.registry.pop(THROWAWAY.id, None)


def test_a_new_entry_is_registered_listed_and_found_by_name(throwaway, capsys):
    assert throwaway.id in registration.env_ids()
    assert registration.find_entry(throwaway.id) is throwaway
    assert registration.entry_by_short_name("throwaway") is throwaway
    env = gym.make(throwaway.id)
    assert env.spec.max_episode_steps == 50
    env.close()
    assert cli.main(["list"]) == 0
    assert throwaway.id in capsys.readouterr().out


def test_a_new_entry_brings_its_policies(throwaway):
    assert policy_names(throwaway.id) == ["random", "straight-to-goal"]
    policy = make_policy(throwaway.id, "straight-to-goal", seed=0)
    assert type(policy).__name__ == "OraclePolicy"
    with pytest.raises(ValueError, match="straight-to-goal"):
        make_policy(throwaway.id, "oracle")


def test_collectors_switch_off_the_early_ends_the_entry_names(throwaway):
    # The oracle reaches the goal within 50 steps: without the entry's switch the episode
    # would end there and the collector would refuse the sequence.
    sequences = collect_sequences(throwaway.id, make_policy(throwaway.id, "straight-to-goal", 0), 4, 50, num_envs=4)
    assert sequences.observations.shape[:2] == (4, 51)
    assert np.any(sequences.rewards > 0)
    with pytest.raises(RuntimeError, match="terminated"):
        policy = make_policy(throwaway.id, "straight-to-goal", 0)
        collect_sequences(throwaway.id, policy, 4, 50, num_envs=4, terminate_on_success=True)


def test_short_names_are_unique_and_random_cannot_be_redefined():
    names = [entry.short_name for entry in registration.ENTRIES]
    assert len(names) == len(set(names))
    with pytest.raises(ValueError, match="random"):
        dataclasses.replace(THROWAWAY, policies={"random": PolicyEntry("x:y")})
    with pytest.raises(ValueError, match="choose from"):
        registration.entry_by_short_name("no-such-env")


def test_baseline_choices_are_derived_from_their_tables():
    pytest.importorskip("torch")
    from baselines.agents import ppo
    from baselines.control import mpc
    from baselines.predictors import predictor, train
    from baselines.predictors.envs import PREDICTOR_ENVS, env_id
    from benchmarks import suite

    assert typing.get_args(train.Env) == tuple(PREDICTOR_ENVS) == suite.PREDICTION_ENVS
    assert typing.get_args(train.Core) == predictor.ALL_CORES == (*predictor.CORES, predictor.MEMORYLESS)
    assert typing.get_args(mpc.Task) == tuple(mpc.TASKS) == suite.MPC_TASKS
    assert typing.get_args(typing.get_type_hints(ppo.PPOConfig)["core"]) == (*ppo.CORES, ppo.MEMORYLESS)
    for name in PREDICTOR_ENVS:  # every predictor env and MPC task names a registered env
        assert env_id(name) in registration.env_ids()
    for name, task in mpc.TASKS.items():
        assert task.env_id == registration.entry_by_short_name(name).id


def test_a_new_predictor_env_is_loaded_through_its_collector(monkeypatch, tmp_path):
    pytest.importorskip("torch")
    from baselines.predictors import envs, splits

    calls = []

    def collect(split, num_sequences, seed):
        calls.append((split, num_sequences, seed))
        return envs.PREDICTOR_ENVS["rrc"].collect(split, num_sequences, seed)

    table = dict(envs.PREDICTOR_ENVS)
    table["throwaway"] = dataclasses.replace(envs.PREDICTOR_ENVS["rrc"], collect=collect)
    monkeypatch.setattr(envs, "PREDICTOR_ENVS", table)
    sequences = splits.load_split("throwaway", "test", 4, cache_dir=tmp_path)
    assert len(sequences) == 4 and calls == [("test", 4, 10_000_000)]
    with pytest.raises(ValueError, match="throwaway"):
        splits.load_split("no-such-env", "test", 4, cache_dir=tmp_path)


def test_dependencies_point_one_way():
    """pomdp_envs imports neither baselines nor benchmarks, baselines not benchmarks, and
    the predictors' data tools not their env table."""
    import ast
    from pathlib import Path

    root = Path(__file__).parent.parent

    def imported(path: Path) -> set[str]:
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        return names

    def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
        return [
            f"{path.relative_to(root)} imports {name}"
            for path in (root / package).rglob("*.py")
            for name in imported(path)
            if name.split(".")[0] in forbidden
        ]

    assert not offenders("pomdp_envs", ("baselines", "benchmarks"))
    assert not offenders("baselines", ("benchmarks",))
    assert not any(
        name.startswith("baselines.predictors.envs") for name in imported(root / "baselines/predictors/data.py")
    )

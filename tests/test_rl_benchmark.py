"""The RL stage: its runs per task, the verdict on memory's effect on return, the scale
policies and the GateL0RD paper's Fig. 6 claims read from its rows."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("scipy")

from benchmarks import rl  # noqa: E402
from benchmarks.report import CLAIMS  # noqa: E402
from benchmarks.stats import INCONCLUSIVE, SUPPORTED  # noqa: E402


def _rows(task: str, returns: dict[tuple[str, str], list[float]]) -> list[dict]:
    return [
        {"task": task, "core": core, "view": view, "seed": seed, "final_return": value}
        for (core, view), values in returns.items()
        for seed, value in enumerate(values)
    ]


def _scale(task: str, random: list[float], oracle: float = 1.0) -> list[dict]:
    return [
        {"task": task, "policy": policy, "seed": seed, "mean_return": value}
        for policy, values in (("random", random), ("oracle", [oracle] * len(random)))
        for seed, value in enumerate(values)
    ]


LOW, HIGH = [0.0, 0.01, 0.02], [0.8, 0.85, 0.9]


def test_memory_improves_return_when_a_recurrent_core_beats_the_memoryless_one_and_the_full_view_learns():
    rows = _rows(
        "Shepherd",
        {("none", "agent"): [0.3, 0.32, 0.31], ("gru", "agent"): HIGH, ("gatel0rd", "agent"): [0.3, 0.4, 0.35],
         ("none", "full"): HIGH},
    )  # fmt: skip
    verdict = rl.memory_verdict("Shepherd", rows, _scale("Shepherd", LOW))
    assert verdict.verdict == "memory improves return (gru)"
    assert "gru − memoryless" in verdict.measured


def test_no_gain_and_not_learned_and_unlearnable_full_view():
    same = {("none", "agent"): HIGH, ("gru", "agent"): HIGH, ("gatel0rd", "agent"): HIGH, ("none", "full"): HIGH}
    assert rl.memory_verdict("Shepherd", _rows("Shepherd", same), _scale("Shepherd", LOW)).verdict == (
        "no return gain from memory at this budget"
    )
    flat = {key: LOW for key in same}
    assert rl.memory_verdict("Shepherd", _rows("Shepherd", flat), _scale("Shepherd", LOW)).verdict == (
        "not learned at this budget"
    )
    blind = {**same, ("none", "agent"): LOW, ("none", "full"): LOW}
    verdict = rl.memory_verdict("Shepherd", _rows("Shepherd", blind), _scale("Shepherd", LOW))
    assert verdict.verdict.startswith("inconclusive (the full-view agent does not learn")


def test_a_return_barely_above_a_random_zero_is_not_learning():
    """Sparse rewards: the random policy scores 0, PPO 1-3 % of the oracle's return."""
    tiny = [0.024, 0.015, 0.03]
    rows = _rows("Shepherd", {("none", "agent"): tiny, ("gru", "agent"): tiny, ("none", "full"): tiny})
    verdict = rl.memory_verdict("Shepherd", rows, _scale("Shepherd", [0.0, 0.0, 0.0]))
    assert verdict.verdict == "not learned at this budget" and "above random + 0.1" in verdict.measured


def test_fewer_than_three_seeds_is_inconclusive():
    rows = _rows("Shepherd", {("none", "agent"): [0.3], ("gru", "agent"): [0.9], ("none", "full"): [0.9]})
    assert rl.memory_verdict("Shepherd", rows, _scale("Shepherd", LOW)).verdict == INCONCLUSIVE


def test_configs_cover_every_variant_with_more_seeds_for_the_claims(tmp_path):
    configs = rl.make_configs({"RobotRemoteControl": 4096, "DoorKey-5x5": 8192}, 3, tmp_path, claim_seeds=5)
    count = {}
    for config in configs:
        key = (rl.task_of(config.env_id), config.core, config.fully_observable)
        count[key] = count.get(key, 0) + 1
    assert count == {
        ("RobotRemoteControl", "none", False): 3, ("RobotRemoteControl", "gru", False): 3,
        ("RobotRemoteControl", "gatel0rd", False): 3, ("RobotRemoteControl", "none", True): 3,
        ("DoorKey-5x5", "none", False): 3, ("DoorKey-5x5", "gru", False): 3, ("DoorKey-5x5", "gatel0rd", False): 5,
        ("DoorKey-5x5", "lstm", False): 5, ("DoorKey-5x5", "none", True): 3,
    }  # fmt: skip
    assert len({config.out_dir for config in configs}) == len(configs)
    assert {config.total_steps for config in configs if "DoorKey" in config.env_id} == {8192}


def test_every_task_is_a_controllable_registered_id():
    from baselines.agents.ppo import check_env
    from benchmarks.suite import ENV_GROUPS
    from pomdp_envs import registration
    from pomdp_envs.policies import policy_names

    for task, (env_id, group) in rl.TASKS.items():
        assert env_id in registration.env_ids() and group in ENV_GROUPS, task
        assert any(name in ("oracle", "solver") for name in policy_names(env_id)), task
        if registration.entry_by_id(env_id).available:
            check_env(env_id)  # raises for an env without control


def test_scale_policies_bracket_the_task():
    random = rl.policy_scale("RobotRemoteControl", "random", seed=0, episodes=5)
    oracle = rl.policy_scale("RobotRemoteControl", "oracle", seed=0, episodes=5)
    assert oracle["mean_return"] == 1.0 and oracle["success_rate"] == 1.0
    assert random["mean_return"] < oracle["mean_return"] and random["episodes"] == 5


def test_fig6_claims_read_the_agent_view_rows_of_the_rl_table():
    runs = _rows("DoorKey-5x5", {("gatel0rd", "agent"): [0.0] * 5, ("lstm", "agent"): [0.0] * 5})
    for row, success in zip(runs, [0.95, 0.97, 0.96, 0.94, 0.98, 0.9, 0.92, 0.91, 0.93, 0.9]):
        row["final_success_rate"] = success
    # A full-view LSTM that fails must not count against the claim.
    runs += [{**row, "view": "full", "final_success_rate": 0.0} for row in runs if row["core"] == "lstm"]
    curves = []
    for row in runs:
        for step, rate in ((1000, 0.2), (2000, 0.95 if row["core"] == "gatel0rd" else 0.5), (3000, 0.95)):
            curves.append({**row, "global_step": step, "success_rate": rate})
    tables = {"rl": runs, "rl_curves": curves}
    checks = [claim for claim in CLAIMS if "DoorKey-5x5" in claim.text]
    assert [claim.check(tables).verdict for claim in checks][0] == SUPPORTED
    frames = rl.frames_to_success(curves, window=1)
    assert {row["frames_to_success"] for row in frames if row["core"] == "gatel0rd" and row["view"] == "agent"} == {
        2000
    }


def test_tiny_benchmark_writes_its_tables(tmp_path: Path):
    assert rl.main(["--tasks", "RobotRemoteControl", "--steps", "64", "--seeds", "1", "--workers", "1",
                    "--scale-episodes", "1", "--out", str(tmp_path)]) == 0  # fmt: skip
    for name in ("rl.csv", "rl_curves.csv", "rl_scale.csv", "rl_return.png"):
        assert (tmp_path / name).exists(), name

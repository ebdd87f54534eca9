"""The benchmark suite: fan-out with crash reporting (local and Ray), and a tiny suite
run end to end into a report."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")

from benchmarks.common import fan_out, markdown_table  # noqa: E402
from benchmarks.report import CLAIMS, write_report  # noqa: E402
from benchmarks.stats import (  # noqa: E402
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    above,
    all_of,
    better_than,
    bootstrap_difference,
    decreasing,
    similar,
)
from benchmarks.suite import SUITES, record_estimate, run_suite  # noqa: E402
from pomdp_envs.cli_errors import Interrupted  # noqa: E402


def square_or_fail(job: int) -> dict:
    if job == 3:
        raise RuntimeError("job 3 breaks")
    return {"job": job, "square": job * job}


@pytest.mark.parametrize("workers", [1, 2])
def test_fan_out_reports_a_crash_and_finishes_the_other_runs(workers):
    rows, failures = fan_out(square_or_fail, [1, 2, 3, 4], workers, label=lambda job: f"job{job}")
    assert sorted(row["square"] for row in rows) == [1, 4, 16]
    assert len(failures) == 1 and failures[0].startswith("job3: RuntimeError")


def test_fan_out_on_a_local_ray_instance():
    ray = pytest.importorskip("ray")
    import sys

    # Ray workers cannot import this test module: ship its functions by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        rows, failures = fan_out(square_or_fail, [2, 3, 5], workers=2, launcher="ray")
    finally:
        ray.shutdown()
    assert sorted(row["square"] for row in rows) == [4, 25]
    assert len(failures) == 1


def die_on_first_try(marker: str) -> dict:
    """Kills its own worker process the first time (as a node that dies would)."""
    path = Path(marker)
    if not path.exists():
        path.write_text("tried")
        os._exit(1)
    return {"retried": True}


def test_ray_retries_a_task_whose_worker_died(tmp_path):
    ray = pytest.importorskip("ray")
    import sys

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        rows, failures = fan_out(die_on_first_try, [str(tmp_path / "marker")], workers=1, launcher="ray")
    finally:
        ray.shutdown()
    assert rows == [{"retried": True}] and not failures


def stop_at_job_two(job: int) -> dict:
    if job == 2:
        raise Interrupted("stopped by SIGTERM; checkpoint in here", 143)
    return {"job": job}


@pytest.mark.parametrize("workers", [1, 2])
def test_fan_out_stops_when_a_run_was_interrupted(workers):
    with pytest.raises(Interrupted, match="SIGTERM"):
        fan_out(stop_at_job_two, [1, 2], workers)


def mark_started(job: tuple[str, int]) -> dict:
    folder, number = job
    (Path(folder) / f"started{number}").touch()
    if number == 1:
        raise Interrupted("stopped by SIGTERM; checkpoint in here", 143)
    time.sleep(1.0)  # the others take longer than job 1
    return {"job": number}


def test_no_job_starts_after_a_run_was_interrupted(tmp_path):
    # Two workers, six jobs: job 1 stops; none behind job 2 starts (none waits in the pool).
    with pytest.raises(Interrupted):
        fan_out(mark_started, [(str(tmp_path), number) for number in range(1, 7)], workers=2)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["started1", "started2"]


def test_fan_out_rejects_an_unknown_launcher():
    with pytest.raises(ValueError, match="launcher"):
        fan_out(square_or_fail, [1], launcher="slurm")


def test_markdown_table_gives_mean_and_std_over_seeds():
    rows = [{"env": "a", "x": 1.0}, {"env": "a", "x": 3.0}, {"env": "b", "x": 2.0}]
    table = markdown_table(rows, ("env",), ("x",))
    assert "| a | 2 | 2.000 ± 1.000 |" in table and "| b | 1 | 2.000 |" in table


def test_tiny_suite_on_rrc_writes_csvs_and_a_report_with_verdicts(tmp_path):
    suite = dataclasses.replace(
        SUITES["quick"], name="tiny", prediction_epochs=2, prediction_train=64, prediction_test=32, mpc_episodes=2,
        rl_budgets=(("RobotRemoteControl", 2048), ("DoorKey-5x5", 2048)),
    )  # fmt: skip
    failures = run_suite(suite, ["rrc"], tmp_path, seeds=1, workers=1, command="python -m benchmarks run tiny")
    assert not any(failures.values()), failures
    for name in ("speed.csv", "prediction.csv", "mpc.csv", "rl.csv", "rl_scale.csv", "run.json"):
        assert (tmp_path / name).exists(), name
    report = write_report(tmp_path).read_text()
    assert "# Benchmark report" in report and "python -m benchmarks run tiny" in report
    assert json.loads((tmp_path / "run.json").read_text())["predictor_seeds"] == {"rrc": 1}
    assert "envs rrc, 1 seed(s); the last sitting's stages " in report
    assert "GateL0RD has the lowest prediction error on the test data" in report
    # One seed: every measured claim is inconclusive, and the table says why.
    assert "inconclusive" in report and "fewer than 3 seeds" in report and "| supported |" not in report
    assert "| rrc | - | copy-last |" in report  # the yardstick without learning
    # RL on rrc only (DoorKey-5x5 belongs to minigrid): every variant, the scale, a verdict.
    assert "## Reinforcement learning: memory's effect on return" in report and "DoorKey" not in report
    for agent in (
        "random policy",
        "oracle policy",
        "PPO memoryless",
        "PPO gru",
        "PPO gatel0rd",
        "PPO none (full view)",
    ):
        assert f"| {agent} | 1 |" in report, agent
    assert "- **RobotRemoteControl**: inconclusive" in report and (tmp_path / "rl_return.png").exists()
    # Memory in prediction: the memoryless core beside the recurrent ones, partial and fully observed.
    assert "## Memory in next-observation prediction" in report
    assert "| rrc | ss | " in report and "| rrc | ss-full | " in report
    # The first verdicts: does the env need memory of its hidden factor?
    assert "## Environment validation" in report and "| robot_controlled | balanced accuracy |" in report
    assert report.index("## Environment validation") < report.index("## Claims checked")
    assert (tmp_path / "prediction_curves.png").exists()
    # Every claim statistic over training, against the paper's budget.
    assert "### The claims' statistics over training" in report and (tmp_path / "claim_curves.png").exists()
    assert "| rrc | gate_lift/robot_controlled | gatel0rd λ=0.001 |" in report
    assert "| rrc | probe/robot_controlled | gru |" in report
    # Every claim keeps to its five cells, also a claim made of parts (Fig. 4b, MPC).
    claims = report.split("## Claims checked")[1].split("\n## ")[0]
    claim_rows = [line for line in claims.splitlines() if line.startswith("| rrc |")]
    assert len(claim_rows) >= 4
    assert all(len(re.findall(r"(?<!\\)\|", line)) == 6 for line in claim_rows), claim_rows
    with pytest.raises(ValueError, match="unknown envs"):
        run_suite(suite, ["pong"], tmp_path)

    # Run again in the same folder, the suite continues: nothing is trained or planned again.
    trained = sorted((tmp_path / "runs").rglob("checkpoint.pt"))
    stamps = [path.stat().st_mtime_ns for path in trained]
    prediction_before = (tmp_path / "prediction.csv").read_text()
    assert len(list((tmp_path / "runs" / "mpc").glob("*.json"))) == 4  # 3 predictors and the true model
    assert (tmp_path / "runs" / "validation" / "rrc.json").is_file()
    assert not any(run_suite(suite, ["rrc"], tmp_path, 1, 1, command="python -m benchmarks run tiny").values())
    assert [path.stat().st_mtime_ns for path in trained] == stamps
    assert (tmp_path / "prediction.csv").read_text() == prediction_before
    with pytest.raises(ValueError, match="other settings: seeds"):
        run_suite(suite, ["rrc"], tmp_path, seeds=2, workers=1)

    # A second run of the same suite on other envs merges into one report.
    other = tmp_path / "other"
    other.mkdir()
    (other / "run.json").write_text((tmp_path / "run.json").read_text().replace('"rrc"', '"shepherd"'))
    merged = write_report(tmp_path / "merged", [tmp_path, other]).read_text()
    assert merged.count("python -m benchmarks run tiny") == 2 and "| shepherd |" in merged

    # A paper suite run's report names its protocol and where its test errors differ from the paper's code.
    paper = tmp_path / "paper"
    paper.mkdir()
    (paper / "run.json").write_text((tmp_path / "run.json").read_text().replace('"suite": "tiny"', '"suite": "paper"'))
    (paper / "prediction.csv").write_text(prediction_before)
    assert "last batch only" in write_report(paper).read_text()
    assert "last batch only" not in report


def test_the_report_names_the_seeds_of_envs_that_differ_from_the_suites():
    from benchmarks.report import _seeds_text

    assert _seeds_text({"seeds": 3, "predictor_seeds": {"rrc": 5, "fetch": 3}}) == "3 seed(s) (rrc 5)"
    assert _seeds_text({"seeds": 3}) == "3 seed(s)"  # written before the seeds per env were recorded


def test_better_than_uses_welch_and_needs_three_seeds():
    clear = better_than(
        ("gatel0rd", [0.10, 0.11, 0.12]), {"lstm": [0.50, 0.52, 0.51], "gru": [0.3, 0.31, 0.33]}, lower_is_better=True
    )
    assert clear.verdict == SUPPORTED and "Welch" in clear.measured and "gatel0rd − lstm" in clear.measured
    reverse = better_than(("lstm", [0.50, 0.52, 0.51]), {"gatel0rd": [0.10, 0.11, 0.12]}, lower_is_better=True)
    assert reverse.verdict.startswith(NOT_SUPPORTED) and "gatel0rd significantly better" in reverse.verdict
    overlap = better_than(("gatel0rd", [0.2, 0.9, 0.5]), {"lstm": [0.3, 0.8, 0.4]}, lower_is_better=True)
    assert overlap.verdict == NOT_SUPPORTED
    # Better than one model is not enough when the claim names two.
    partial = better_than(
        ("gatel0rd", [0.10, 0.11, 0.12]), {"lstm": [0.5, 0.52, 0.51], "gru": [0.1, 0.12, 0.11]}, lower_is_better=True
    )
    assert partial.verdict == NOT_SUPPORTED
    few = better_than(("gatel0rd", [0.1, 0.2]), {"lstm": [0.5, 0.6, 0.7]}, lower_is_better=True)
    assert few.verdict == INCONCLUSIVE and "fewer than 3 seeds (gatel0rd 2)" in few.measured


def test_level_trend_and_similarity_tests():
    assert above("gatel0rd", [3.0, 3.3, 2.8], 2.0, "lift").verdict == SUPPORTED
    assert above("gatel0rd", [1.0, 1.3, 0.9], 2.0, "lift").verdict == NOT_SUPPORTED
    lambdas = [0, 0, 0, 1e-3, 1e-3, 1e-3, 1e-1, 1e-1, 1e-1]
    assert decreasing(lambdas, [40, 42, 41, 20, 22, 19, 3, 4, 2], "openings").verdict == SUPPORTED
    assert decreasing(lambdas, [3, 4, 2, 20, 22, 19, 40, 42, 41], "openings").verdict == NOT_SUPPORTED
    assert decreasing(lambdas[:6], [40, 42, 41, 20, 22, 19], "openings").verdict == INCONCLUSIVE  # two levels
    assert similar({"a": [1.0, 1.1, 0.9], "b": [1.05, 0.95, 1.0]}).verdict == SUPPORTED
    assert similar({"a": [1.0, 1.1, 0.9], "b": [5.0, 5.1, 4.9]}).verdict == NOT_SUPPORTED
    combined = all_of(above("x", [3.0, 3.3, 2.8], 2.0, "lift"), above("y", [1.0], 2.0, "lift"))
    assert combined.verdict == INCONCLUSIVE


def test_bootstrap_interval_for_rl_scores():
    win = bootstrap_difference(("vsg", [2.0, 2.5, 2.2]), ("rssm", [0.5, 0.4, 0.8]))
    assert win.verdict == SUPPORTED and "95 % bootstrap CI" in win.measured
    overlap = (("gatel0rd", [0.7, 0.9, 0.8]), ("lstm", [0.8, 0.9, 0.7]))
    assert bootstrap_difference(*overlap).verdict == NOT_SUPPORTED
    # At least as good: the interval must exclude being worse by more than the margin.
    assert bootstrap_difference(*overlap, non_inferior=True, margin=0.05).verdict == NOT_SUPPORTED
    close = (("gatel0rd", [0.99, 0.995, 1.0]), ("lstm", [0.99, 1.0, 0.995]))
    assert bootstrap_difference(*close, non_inferior=True, margin=0.05).verdict == SUPPORTED
    worse = bootstrap_difference(("gatel0rd", [0.1, 0.12, 0.11]), ("lstm", [0.9, 0.92, 0.91]), non_inferior=True)
    assert worse.verdict == NOT_SUPPORTED
    # Fewer frames is better.
    assert (
        bootstrap_difference(
            ("gatel0rd", [1e5, 1.1e5, 0.9e5]), ("lstm", [2e5, 2.1e5, 1.9e5]), higher_is_better=False
        ).verdict
        == SUPPORTED
    )


def _prediction_rows(env: str, regime: str, core: str, scores: dict[str, list[float]], reg_lambda: float = 0.0):
    return [
        {
            "env": env,
            "regime": regime,
            "core": core,
            "reg_lambda": reg_lambda,
            "seed": float(seed),
            **{key: values[seed] for key, values in scores.items()},
        }
        for seed in range(3)
    ]


def test_billiard_claims_read_their_rows():
    rows = _prediction_rows("billiard", "tf", "gatel0rd", {"test_mse": [0.05, 0.06, 0.055]}, 1e-3)
    for core in ("lstm", "gru", "elman"):
        rows += _prediction_rows("billiard", "tf", core, {"test_mse": [0.3, 0.32, 0.31]})
    for reg_lambda, openings, error in (
        (0.0, 40, 0.05),
        (1e-4, 30, 0.05),
        (1e-3, 20, 0.05),
        (1e-2, 10, 0.05),
        (1e-1, 2, 0.2),
    ):
        rows += _prediction_rows(
            "billiard",
            "ss",
            "gatel0rd",
            {
                "test_mse": [error, error * 1.1, error * 0.9],
                "gate_openings": [openings, openings + 1, openings - 1],
                "gate_lift": [3.0, 3.1, 2.9],
            },
            reg_lambda,
        )
    rows.append(
        {"env": "billiard", "regime": "-", "core": "reflecting", "reg_lambda": 0.0, "seed": 0.0, "test_mse": 0.04}
    )
    verdicts = {claim.source: claim.check({"prediction": rows}) for claim in CLAIMS if claim.env == "billiard"}
    assert verdicts["GateL0RD paper, Sec. 6.1, Fig. 3a"].verdict == SUPPORTED
    assert "reflecting 0.04" in verdicts["GateL0RD paper, Sec. 6.1, Fig. 3a"].measured
    assert verdicts["GateL0RD paper, Sec. 6.1, Fig. 3d"].verdict == SUPPORTED
    assert verdicts["GateL0RD paper, Sec. 6.1, Fig. 3c"].verdict == SUPPORTED
    assert verdicts["GateL0RD paper, Sec. 6.5"].verdict == SUPPORTED
    assert verdicts["GateL0RD paper, Sec. 6.1, Fig. 3b"].verdict == INCONCLUSIVE  # no scheduled-sampling RNNs


def test_cost_estimate_scales_with_the_budget():
    from benchmarks.suite import estimate_cost, format_estimate

    small = dataclasses.replace(
        SUITES["quick"], prediction_epochs=10, prediction_train=64, prediction_test=32, memory_controls=False,
        rl_budgets=(),
    )  # fmt: skip
    large = dataclasses.replace(small, prediction_epochs=1000)
    [row_small] = estimate_cost(small, ["rrc"], seeds=1)
    [row_large] = estimate_cost(large, ["rrc"], seeds=1)
    assert row_small["stage"] == "prediction rrc" and row_small["runs"] == 4
    # The memory controls add the memoryless core and three models on the fully observable variant.
    [row_controls] = estimate_cost(dataclasses.replace(small, memory_controls=True), ["rrc"], seeds=1)
    assert row_controls["runs"] == 8
    assert row_large["cpu_seconds"] > 20 * row_small["cpu_seconds"]
    # Four jobs (one per core) on two workers; on a cluster the longest job decides.
    assert row_large["longest_job_hours"] < row_large["wall_hours"] < row_large["cpu_hours"]
    assert "| prediction rrc | 4 |" in format_estimate([row_large], workers=2)


def test_estimates_are_kept_in_the_run_folder_and_reported(tmp_path, capsys):
    from benchmarks.__main__ import main

    out = tmp_path / "paper"
    assert main(["run", "--suite", "quick", "--envs", "rrc", "--estimate", "--out", str(out)]) == 0
    assert "| prediction rrc |" in capsys.readouterr().out
    row, rl_row = json.loads((out / "estimates.json").read_text())
    assert rl_row["stage"] == "rl RobotRemoteControl" and rl_row["runs"] == 4 and rl_row["cpu_seconds"] > 0
    assert row["stage"] == "prediction rrc" and row["env"] == "rrc" and row["workers"] == 2 and "CPUs" in row["machine"]
    # A later estimate of another env is kept beside it; one of the same stage replaces it.
    billiard = {**row, "stage": "prediction billiard", "env": "billiard", "runs": 36}
    record_estimate(out, [billiard, {**row, "runs": 5}], workers=4)
    assert [(r["stage"], r["runs"], r["workers"]) for r in json.loads((out / "estimates.json").read_text())] == [
        ("prediction rrc", 5, 4),
        ("rl RobotRemoteControl", 4, 2),
        ("prediction billiard", 36, 4),
    ]
    run = {"suite": "quick", "envs": ["rrc"], "seeds": 1, "workers": 2, "launcher": "local", "command": "c"}
    run.update(date="today", machine="m", stage_seconds={"prediction": 60.0}, failures={})
    (out / "run.json").write_text(json.dumps(run))
    report = write_report(out).read_text()
    assert "## Cost" in report and "| prediction rrc | 5 |" in report and "| run here |" in report
    assert "| prediction billiard | 36 |" in report and "| not run |" in report


# The GateL0RD paper's protocol per env (fact sheet, sections 1 and 3.2): epochs, batches
# per epoch, training / test / generalisation sequences, lambda, learning rate, SS floor.
PAPER_PROTOCOL = {
    "billiard": (4900, 100, 12800, 3200, 3200, 1e-3, 5e-4, 0.0),
    "rrc": (10000, 50, 6400, 6400, 6400, 1e-3, 5e-3, 0.02),
    "shepherd": (10000, 100, 12800, 12800, 12800, 1e-4, 1e-3, 0.05),
    "fetch": (19900, 25, 3200, 640, 3200, 1e-4, 5e-3, 0.05),
}


@pytest.mark.parametrize("env", sorted(PAPER_PROTOCOL))
def test_the_paper_suite_trains_each_env_with_the_papers_protocol(tmp_path, env):
    from benchmarks.prediction import regime
    from benchmarks.suite import _prediction_jobs

    epochs, batches, train, test, generalisation, reg_lambda, lr, floor = PAPER_PROTOCOL[env]
    jobs = [job for job in _prediction_jobs(SUITES["paper"], [env], None, tmp_path) if regime(job) == "ss"]
    assert {job.core for job in jobs} == {"gatel0rd", "lstm", "gru", "elman"}
    for job in jobs:
        assert (job.epochs, job.resolved_batches_per_epoch(), job.batch_size) == (epochs, batches, 128)
        assert (job.num_train, job.num_test, job.resolved_num_generalisation()) == (train, test, generalisation)
        assert job.eval_every == 100 and job.batch_order == "passes"
        assert job.resolved_ss_decay() == 0.998 and job.resolved_ss_floor() == floor  # uncompressed
        assert job.resolved_lrs() == (lr,)
        assert len(job.seeds) == (5 if env == "rrc" else 3)
        if job.core == "gatel0rd":
            assert reg_lambda in job.resolved_lambdas()
    # --seeds overrides every env's.
    assert all(len(job.seeds) == 2 for job in _prediction_jobs(SUITES["paper"], [env], 2, tmp_path))


def test_a_suite_runs_only_the_stages_it_is_given(tmp_path):
    suite = dataclasses.replace(SUITES["quick"], name="tiny")
    with pytest.raises(ValueError, match="stages"):
        run_suite(suite, ["rrc"], tmp_path / "bad", seeds=1, workers=1, stages=("nope",))
    failures = run_suite(suite, ["rrc"], tmp_path, seeds=1, workers=1, stages=("validation",))
    assert not any(failures.values())
    assert (tmp_path / "validation.csv").is_file() and not (tmp_path / "speed.csv").exists()
    report = write_report(tmp_path).read_text()
    assert "## Environment validation" in report and "robot_controlled" in report

"""The benchmark suite: fan-out with crash reporting (local and Ray), and a tiny suite
run end to end into a report."""

from __future__ import annotations

import dataclasses

import pytest

pytest.importorskip("torch")

from benchmarks.common import fan_out, markdown_table  # noqa: E402
from benchmarks.report import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, _compare, write_report  # noqa: E402
from benchmarks.suite import SUITES, run_suite  # noqa: E402


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


def test_fan_out_rejects_an_unknown_launcher():
    with pytest.raises(ValueError, match="launcher"):
        fan_out(square_or_fail, [1], launcher="slurm")


def test_markdown_table_gives_mean_and_std_over_seeds():
    rows = [{"env": "a", "x": 1.0}, {"env": "a", "x": 3.0}, {"env": "b", "x": 2.0}]
    table = markdown_table(rows, ("env",), ("x",))
    assert "| a | 2 | 2.000 ± 1.000 |" in table and "| b | 1 | 2.000 |" in table


def test_tiny_suite_on_rrc_writes_csvs_and_a_report_with_verdicts(tmp_path):
    suite = dataclasses.replace(SUITES["quick"], name="tiny", prediction_epochs=2, prediction_train=64,
                                prediction_test=32, mpc_episodes=2)
    failures = run_suite(suite, ["rrc"], tmp_path, seeds=1, workers=1)
    assert not any(failures.values()), failures
    for name in ("speed.csv", "prediction.csv", "mpc.csv", "run.json"):
        assert (tmp_path / name).exists(), name
    report = write_report(tmp_path).read_text()
    assert "# Benchmark report" in report
    assert "GateL0RD's generalisation error on RRC" in report
    assert "supported" in report  # a verdict, either way
    assert (tmp_path / "prediction_curves.png").exists()
    with pytest.raises(ValueError, match="unknown envs"):
        run_suite(suite, ["pong"], tmp_path)


def _runs(core: str, values: list[float], **extra) -> list[dict]:
    return [{"core": core, "seed": float(seed), "score": value, **extra} for seed, value in enumerate(values)]


def test_claim_verdicts_weigh_the_difference_against_its_standard_error():
    clear_win = _runs("gatel0rd", [0.90, 0.92, 0.91]) + _runs("lstm", [0.50, 0.52, 0.51])
    assert _compare(clear_win, "score", "core", "gatel0rd", ("lstm",), False)[0] == SUPPORTED
    assert _compare(clear_win, "score", "core", "lstm", ("gatel0rd",), False)[0] == NOT_SUPPORTED
    # Seeds that overlap: the means differ but not beyond twice the standard error.
    overlap = _runs("gatel0rd", [0.2, 0.9, 0.5]) + _runs("lstm", [0.3, 0.8, 0.4])
    assert _compare(overlap, "score", "core", "gatel0rd", ("lstm",), False)[0] == INCONCLUSIVE
    # "At least as good" holds within the noise, "better" does not.
    assert _compare(overlap, "score", "core", "lstm", ("gatel0rd",), False, strict=False)[0] == SUPPORTED
    # A run's own sampling error counts: 1 of 20 vs 2 of 20 episodes is no evidence.
    episodes = _runs("gatel0rd", [0.10], n=20.0) + _runs("lstm", [0.05], n=20.0)
    binomial = lambda row: (row["score"] * (1 - row["score"]) / row["n"]) ** 0.5  # noqa: E731
    assert _compare(episodes, "score", "core", "gatel0rd", ("lstm",), False, run_stderr=binomial)[0] == INCONCLUSIVE
    # One run each and no error estimate: decided by the means, and said so.
    single = _runs("gatel0rd", [0.1]) + _runs("lstm", [0.2])
    verdict, measured = _compare(single, "score", "core", "gatel0rd", ("lstm",), True)
    assert verdict.startswith(SUPPORTED) and "no error estimate" in verdict
    assert measured == "gatel0rd 0.100 vs lstm 0.200"
    assert _compare(single, "score", "core", "gatel0rd", ("gru",), True) is None

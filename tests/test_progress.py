"""The progress table of a suite's prediction runs, finished or not."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("torch")

from baselines.predictors.train import TrainConfig, train_runs  # noqa: E402
from benchmarks import progress  # noqa: E402


def test_progress_reads_the_last_evaluation_of_finished_and_unfinished_runs(tmp_path, capsys):
    out, cache = tmp_path / "suite", tmp_path / "cache"
    assert progress.main([str(out)]) == 0 and "has evaluated yet" in capsys.readouterr().out
    runs = out / "runs" / "prediction" / "rrc" / "ss"
    tiny = dict(batches_per_epoch=1, num_train=64, num_test=16, eval_every=1, progress=False, cache_dir=cache)
    train_runs(TrainConfig(env="rrc", core="gru", seeds=(0, 1), epochs=3, out_dir=runs / "gru", **tiny))
    # An unfinished run: its last epoch trained, no scores yet (as a suite stopped while scoring leaves it).
    train_runs(TrainConfig(env="rrc", core="gatel0rd", seeds=(0,), epochs=2, out_dir=runs / "gatel0rd", **tiny))
    (runs / "gatel0rd" / "scores.json").unlink()
    rows = {(row["core"], row["of_epochs"]): row for row in progress.latest_rows(out)}
    assert rows[("gru", 3)]["finished"] and float(rows[("gru", 3)]["epoch"]) == 3
    assert not rows[("gatel0rd", 2)]["finished"] and float(rows[("gatel0rd", 2)]["epoch"]) == 2
    assert progress.main([str(out)]) == 0
    shown = capsys.readouterr().out
    assert "3 run(s) evaluated, 2 finished" in shown and "| rrc | ss | gru | 0.0 | 3 | 2 |" in shown
    assert "| hours_left |" in shown


def test_hours_left_follow_the_pace_of_the_last_evaluations():
    # 100 epochs every 50 s, then every 100 s: the recent pace counts.
    curve = [{"epoch": 100 * i, "seconds": 50.0 * i} for i in range(1, 11)]
    curve += [{"epoch": 1000 + 100 * i, "seconds": 500.0 + 100.0 * i} for i in range(1, progress.PACE_INTERVALS + 1)]
    last = curve[-1]["epoch"]
    assert progress.hours_left(curve, last + 3600) == pytest.approx(1.0)  # 3,600 epochs at 1 s each
    assert progress.hours_left(curve, last) == 0.0
    assert math.isnan(progress.hours_left(curve[:1], 5000))  # no pace yet

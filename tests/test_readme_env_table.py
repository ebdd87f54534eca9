"""README's environment table is written from the committed standard report by code: it
fails here when the two drift apart."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import read_csv
from benchmarks.env_validation import (
    README_END,
    README_START,
    STANDARD_CSV,
    readme_env_table,
    verdict_summary,
)
from pomdp_envs import env_ids

README = Path(__file__).parent.parent / "README.md"


def test_readme_env_table_is_the_one_written_from_the_committed_report():
    text = README.read_text()
    table = README_START + text.split(README_START, 1)[1].split(README_END, 1)[0] + README_END
    assert table == readme_env_table(read_csv(STANDARD_CSV)), (
        "README's environment table differs from the committed report: run python -m benchmarks.env_validation --readme"
    )


def test_the_committed_report_validates_every_id_with_three_seeds():
    rows = read_csv(STANDARD_CSV)
    assert sorted({row["env"] for row in rows}) == sorted(env_ids())
    assert all(row["seeds"] >= 3 for row in rows)


def test_verdicts_are_grouped_by_kind_and_unscored_factors_left_out():
    rows = [
        {"factor": "velocity", "verdict": "needs memory beyond the last 4 steps"},
        {"factor": "pocketed", "verdict": "no memory gap (the current view carries it)"},
        {"factor": "cue", "verdict": "needs memory (the last 4 steps not shown to fall short)"},
        {"factor": "spin", "verdict": "inconclusive (no estimator reads it, even in full view, at this budget)"},
        {"factor": "caught", "verdict": "not scored (the factor does not vary in the test sequences)"},
    ]
    assert verdict_summary(rows) == "needs memory of: velocity, cue; no memory gap: pocketed; inconclusive: spin"

"""Where the prediction runs of a suite stand: the last evaluation of every run, finished
or not, as mean ± std over seeds per (env, regime, core, lambda).

A long run (the ``paper`` suite's take hours per job) writes an evaluation row to each
run's ``metrics.csv`` every ``eval_every`` epochs; this reads them while the suite runs or
between its sittings, without loading a model, with the hours each unfinished run still
needs at the pace of its last evaluations (``hours_left``). No verdicts: the claims are decided on
the finished runs (``python -m benchmarks report``).

    python -m benchmarks.progress benchmarks/results/paper
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from baselines.resume import OPTIONS_FILE, is_finished
from benchmarks.common import Row, as_float, markdown_table, read_csv
from pomdp_envs.cli_errors import OneLineArgumentParser, run_command

COLUMNS = ("epoch", "hours_left", "test_mse", "gen_mse", "gate_openings", "gate_lift", "real_input_prob")
#: How many of the last evaluation intervals set a run's pace: recent enough to follow a
#: change of load (a job finishing beside it), long enough to smooth one evaluation's cost.
PACE_INTERVALS = 10


def hours_left(curve: list[Row], of_epochs: int) -> float:
    """Hours a run needs for its remaining epochs at the pace of its last evaluations
    (``seconds``: training seconds over every sitting, so a stop leaves no gap); NaN
    before it has two evaluations."""
    recent = curve[-(PACE_INTERVALS + 1) :]
    if len(recent) < 2:
        return float("nan")
    epochs = as_float(recent[-1]["epoch"]) - as_float(recent[0]["epoch"])
    seconds = as_float(recent[-1].get("seconds")) - as_float(recent[0].get("seconds"))
    if not epochs > 0 or not seconds >= 0:
        return float("nan")
    return max(of_epochs - as_float(recent[-1]["epoch"]), 0.0) * seconds / epochs / 3600


def latest_rows(out: Path) -> list[Row]:
    """One row per prediction run below ``out/runs/prediction`` that has evaluated at
    least once: its options' keys, the epochs it trains for, whether it finished, and
    its last evaluation."""
    rows = []
    for options_file in sorted((Path(out) / "runs" / "prediction").glob(f"*/*/*/**/{OPTIONS_FILE}")):
        run_dir = options_file.parent
        curve = read_csv(run_dir / "metrics.csv") if (run_dir / "metrics.csv").is_file() else []
        if not curve:
            continue
        options = json.loads(options_file.read_text())
        finished = is_finished(run_dir)
        rows.append(
            {
                "env": options["env"],
                "regime": run_dir.relative_to(out / "runs" / "prediction").parts[1],
                "core": options["core"],
                "reg_lambda": options["run"]["reg_lambda"],
                "of_epochs": options["epochs"],
                "finished": finished,
                **curve[-1],
                "hours_left": 0.0 if finished else hours_left(curve, options["epochs"]),
            }
        )
    return rows


def format_progress(rows: list[Row]) -> str:
    columns = [column for column in COLUMNS if any(column in row for row in rows)]
    return markdown_table(rows, ("env", "regime", "core", "reg_lambda", "of_epochs"), columns)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(
        prog="python -m benchmarks.progress", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="a suite run's --out")
    args = parser.parse_args(argv)

    def go() -> int:
        rows = latest_rows(args.out)
        if not rows:
            print(f"no prediction run below {args.out / 'runs' / 'prediction'} has evaluated yet")
            return 0
        finished = sum(row["finished"] for row in rows)
        print(f"{len(rows)} run(s) evaluated, {finished} finished; the last evaluation of each, mean ± std over seeds:")
        print(format_progress(rows))
        return 0

    return run_command("python -m benchmarks.progress", go)


if __name__ == "__main__":
    raise SystemExit(main())

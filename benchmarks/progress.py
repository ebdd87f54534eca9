"""Where the prediction runs of a suite stand: the last evaluation of every run, finished
or not, as mean ± std over seeds per (env, regime, core, lambda).

A long run (the ``paper`` suite's take hours per job) writes an evaluation row to each
run's ``metrics.csv`` every ``eval_every`` epochs; this reads them while the suite runs or
between its sittings, without loading a model. No verdicts: the claims are decided on
the finished runs (``python -m benchmarks report``).

    python -m benchmarks.progress benchmarks/results/paper
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from baselines.resume import OPTIONS_FILE, is_finished
from benchmarks.common import Row, markdown_table, read_csv
from pomdp_envs.cli_errors import OneLineArgumentParser, run_command

COLUMNS = ("epoch", "test_mse", "gen_mse", "gate_openings", "gate_lift", "real_input_prob")


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
        rows.append(
            {
                "env": options["env"],
                "regime": run_dir.relative_to(out / "runs" / "prediction").parts[1],
                "core": options["core"],
                "reg_lambda": options["run"]["reg_lambda"],
                "of_epochs": options["epochs"],
                "finished": is_finished(run_dir),
                **curve[-1],
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

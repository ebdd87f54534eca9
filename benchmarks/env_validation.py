"""Environment validation for the whole suite: the memory gap of every hidden factor of
every registered id (``baselines.validation``), 3 seeds, one table per id.

Each id's sequences come from its registry entry's validation policy, the one that makes
its hidden factors change: the GateL0RD paper's data policies for Robot Remote Control
("biased") and Shepherd ("paper"), the scripted oracles for ShapeHerd and Fetch (random
actions barely move their objects), the solver with 20 % random actions for the MiniGrid
tasks (a uniform policy rarely leaves their first room), random actions for Billiard Ball.
Sequences run their full length with the envs' early ends switched off.

    python -m benchmarks.env_validation --out benchmarks/results/validation
    python -m benchmarks.env_validation --envs rrc shepherd --seeds 3 --budget quick
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from benchmarks.common import Row, fan_out, write_csv
from pomdp_envs.cli_errors import OneLineArgumentParser, positive_int, run_command, writable_dir
from pomdp_envs.files import atomic_write_text
from pomdp_envs.registration import ENTRIES

#: Steps per sequence where the protocol's default (the time limit, at most 100) costs
#: more than it shows: MiniGrid's conv estimators (the solver reaches every task's result
#: within 64 steps, see tests/test_minigrid_policies.py) and ShapeHerd's 64x64 frames.
STEPS = {"MiniGrid": 64, "ShapeHerd": 50}


def _steps(name: str) -> int | None:
    return next((steps for prefix, steps in STEPS.items() if name.startswith(prefix)), None)


#: Short name -> (id, budget, steps per sequence or None for the protocol's default), for
#: every registered id, in registration order.
ENVS = {entry.short_name: (entry.id, "standard", _steps(entry.name)) for entry in ENTRIES}


@dataclasses.dataclass(frozen=True)
class Job:
    name: str
    seeds: int
    budget: str | None  # None: the env's own in ENVS
    result: Path | None = None  # where the finished job keeps its rows; a rerun reads them


def run_job(job: Job) -> list[Row]:
    import torch

    from baselines.validation import ValidationConfig, validate

    if job.result is not None and job.result.is_file():
        return json.loads(job.result.read_text())
    torch.set_num_threads(1)
    env_id, budget, steps = ENVS[job.name]
    start = time.perf_counter()
    config = ValidationConfig(env_id, seeds=job.seeds, budget=job.budget or budget, num_steps=steps)
    rows = validate(config, say=lambda _: None)
    seconds = time.perf_counter() - start
    rows = [{"family": job.name, "budget": config.budget, **row, "seconds": seconds} for row in rows]
    if job.result is not None:
        atomic_write_text(job.result, json.dumps(rows, indent=2))
    return rows


def run(
    names: list[str], seeds: int, budget: str | None, workers: int, launcher: str = "local", results: Path | None = None
) -> tuple[list[Row], list[str]]:
    """Every family's rows (each kept in ``results/<name>.json`` when given) and the failures."""
    jobs = [Job(name, seeds, budget, None if results is None else results / f"{name}.json") for name in names]
    return fan_out(run_job, jobs, workers, label=lambda job: f"validation {job.name}", launcher=launcher)


#: The validation families (ids) of each of the suite's env groups.
FAMILIES = {
    "billiard": ["billiard"],
    "rrc": ["rrc"],
    "shepherd": ["shepherd"],
    "shapeherd": [name for name in ENVS if name.startswith("shapeherd")],
    "fetch": ["fetch"],
    "minigrid": [name for name in ENVS if name.startswith("minigrid")],
}


def format_report(rows: list[Row], level: str = "##") -> str:
    """One table per env family (``level``: the Markdown heading of each)."""
    from baselines.validation import format_table

    lines = []
    for name in dict.fromkeys(row["family"] for row in rows):
        part = [row for row in rows if row["family"] == name]
        first = part[0]
        lines += [
            f"{level} {name}: `{first['env']}`",
            "",
            f"Policy `{first['policy']}`, budget `{first['budget']}`, {int(first['seeds'])} seeds, "
            f"{first['seconds'] / 60:.1f} min.",
            "",
            format_table(part),
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(
        prog="python -m benchmarks.env_validation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--envs", nargs="+", choices=sorted(ENVS), default=list(ENVS))
    parser.add_argument("--seeds", type=positive_int, default=3)
    parser.add_argument("--budget", choices=("quick", "standard"), help="default: each env's in ENVS")
    parser.add_argument("--workers", type=positive_int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/local/validation"))
    args = parser.parse_args(argv)

    def go() -> int:
        out = writable_dir(args.out)
        start = time.perf_counter()
        rows, failed = run(args.envs, args.seeds, args.budget, args.workers)
        if rows:
            write_csv(out / "validation.csv", rows)
            report = format_report(rows)
            (out / "tables.md").write_text(report)
            print(report)
        print(
            f"{len(rows)} factors in {(time.perf_counter() - start) / 60:.1f} min; wrote {out}/validation.csv, tables.md"
        )
        return 1 if failed else 0

    return run_command("python -m benchmarks.env_validation", go)


if __name__ == "__main__":
    raise SystemExit(main())

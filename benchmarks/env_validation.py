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
    python -m benchmarks.env_validation --readme   # README's table from the committed report
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
STEPS = {"MiniGrid": 64, "ShapeHerd": 40}


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
    order = list(ENVS)  # registration order, whatever order the jobs ran in
    for name in sorted(dict.fromkeys(row["family"] for row in rows), key=lambda n: order.index(n) if n in order else 0):
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


#: The committed standard report's validation rows: README's environment table reads them.
STANDARD_CSV = Path(__file__).parent / "results" / "standard" / "validation" / "validation.csv"
README_START, README_END = "<!-- env-table: python -m benchmarks.env_validation --readme -->", "<!-- /env-table -->"


def verdict_summary(rows: list[Row]) -> str:
    """One id's factors grouped by verdict: "needs memory of: velocity; no memory gap:
    pocketed" (factors that never vary are left out)."""
    labels = {"needs memory": "needs memory of", "no memory gap": "no memory gap", "inconclusive": "inconclusive"}
    groups: dict[str, list[str]] = {label: [] for label in labels.values()}
    for row in rows:
        prefix = next((prefix for prefix in labels if row["verdict"].startswith(prefix)), None)
        if prefix is not None:
            groups[labels[prefix]].append(row["factor"])
    return "; ".join(f"{label}: {', '.join(factors)}" for label, factors in groups.items() if factors)


def readme_env_table(rows: list[Row]) -> str:
    """README's environment table: one row per registered id, from the registry and the
    validation rows (``rows``, the committed standard report's)."""
    lines = [
        README_START,
        "| id | what it is | memory (standard validation, 3 seeds) | page |",
        "|---|---|---|---|",
    ]
    for entry in ENTRIES:
        own = [row for row in rows if row["env"] == entry.id]
        verdict = verdict_summary(own) if own else "not validated"
        docs = f"[{entry.name}](docs/environments/{entry.short_name}.md)"
        lines.append(f"| `{entry.id}` | {entry.description} | {verdict} | {docs} |")
    return "\n".join([*lines, README_END])


def write_readme_table(readme: Path, rows: list[Row]) -> None:
    """Replace the table between README's markers with ``readme_env_table(rows)``."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme} has no environment table markers ({README_START} ... {README_END})")
    before, rest = text.split(README_START, 1)
    after = rest.split(README_END, 1)[1]
    atomic_write_text(readme, before + readme_env_table(rows) + after)


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
    parser.add_argument(
        "--readme",
        type=Path,
        nargs="?",
        const=Path("README.md"),
        help="write README's environment table from the committed standard report's validation rows, and stop",
    )
    args = parser.parse_args(argv)

    def go() -> int:
        if args.readme is not None:
            from benchmarks.common import read_csv

            write_readme_table(args.readme, read_csv(STANDARD_CSV))
            print(f"wrote the environment table of {args.readme} from {STANDARD_CSV}")
            return 0
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

"""``python -m benchmarks run --suite quick|paper [--envs ...] [--seeds N] [--workers K] [--launcher local|ray]``

Runs every benchmark that applies to the chosen envs (speed, prediction, MPC, PPO,
Dreamer), writes one CSV per benchmark, plots and ``report.md`` to
``benchmarks/results/<suite>/`` (or ``--out``). Stopped (SIGTERM, Ctrl-C, a crash), the
same command continues: finished runs are kept, unfinished ones resume from their
checkpoints; ``--fresh`` starts over. ``report`` rewrites the report from
the CSVs of an earlier run, or merges several runs of one suite into one report:

    python -m benchmarks report benchmarks/results/standard --parts benchmarks/results/standard/predictors benchmarks/results/standard/agents
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.common import LAUNCHERS
from benchmarks.report import write_report
from benchmarks.suite import ENV_GROUPS, STAGES, SUITES, estimate_cost, format_estimate, record_estimate, run_suite
from pomdp_envs.cli_errors import OneLineArgumentParser, positive_int, run_command, writable_dir


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineArgumentParser)
    run = commands.add_parser("run", help="run a suite and write its report")
    run.add_argument(
        "--suite",
        choices=sorted(SUITES),
        default="quick",
        help="quick: smoke check (~15 min); standard: 3 seeds, the validation of every id and the claims at 2,000 updates (~130 min on 2 cores); paper: the papers' protocols and budgets",
    )
    run.add_argument("--envs", nargs="+", choices=sorted(ENV_GROUPS), default=sorted(ENV_GROUPS))
    run.add_argument("--seeds", type=positive_int, help="seeds per run (default: the suite's)")
    run.add_argument("--workers", type=positive_int, default=2, help="parallel runs")
    run.add_argument(
        "--launcher",
        choices=LAUNCHERS,
        default="local",
        help="local processes, or Ray tasks (needs the 'ray' extra; RAY_ADDRESS picks a cluster)",
    )
    run.add_argument(
        "--out",
        type=Path,
        help="default: benchmarks/results/<suite>; run again with the same --out to continue an interrupted run",
    )
    run.add_argument("--fresh", action="store_true", help="replace the results already in --out instead of continuing")
    run.add_argument(
        "--stages", nargs="+", choices=STAGES, default=list(STAGES), help="run these stages only (default: all)"
    )
    run.add_argument(
        "--estimate",
        action="store_true",
        help="print the estimated cost on this machine, keep it in --out/estimates.json for the report, and stop "
        "(the paper suite always estimates first)",
    )
    report = commands.add_parser("report", help="rewrite report.md from an earlier run's CSVs")
    report.add_argument("out", type=Path, help="the run's --out; with --parts, where the merged report goes")
    report.add_argument(
        "--parts", type=Path, nargs="+", help="runs of one suite to merge into one report (e.g. one per group of envs)"
    )
    args = parser.parse_args(argv)
    return run_command("python -m benchmarks", lambda: _run(args, argv))


def _run(args: argparse.Namespace, argv: list[str] | None) -> int:
    if args.command == "report":
        print(write_report(writable_dir(args.out) if args.parts else args.out, args.parts))
        return 0
    out = writable_dir(args.out or Path("benchmarks/results") / args.suite)
    if args.estimate or args.suite == "paper":
        rows = estimate_cost(SUITES[args.suite], args.envs, args.seeds, args.workers)
        print(format_estimate(rows, args.workers), flush=True)
        record_estimate(out, rows, args.workers)
        if args.estimate:
            return 0
    command = "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv)
    failures = run_suite(
        SUITES[args.suite],
        args.envs,
        out,
        args.seeds,
        args.workers,
        args.launcher,
        command,
        args.fresh,
        tuple(args.stages),
    )
    path = write_report(out)
    print(path.read_text())
    failed = [line for lines in failures.values() for line in lines]
    if failed:
        print(f"{len(failed)} run(s) failed:", *failed, sep="\n", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What every benchmark shares: fanning runs out over processes, CSV files and
Markdown tables of mean +- std over seeds."""

from __future__ import annotations

import csv
import multiprocessing
import os
import sys
import traceback
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np

from baselines.resume import StopSignals, interrupted
from baselines.runlog import save_figure, write_csv  # noqa: F401  (re-exported for the benchmarks)
from pomdp_envs.cli_errors import Interrupted

Row = dict[str, Any]
LAUNCHERS = ("local", "ray")
#: Times Ray runs a task again whose worker process or node died.
RAY_RETRIES = 3


def fan_out(
    run: Callable[[Any], Row | list[Row]],
    jobs: Sequence[Any],
    workers: int = 1,
    label: Callable[[Any], str] = str,
    launcher: str = "local",
) -> tuple[list[Row], list[str]]:
    """Run ``run(job)`` for every job and gather the rows in this process.

    ``launcher="local"``: on ``workers`` processes (in this process when ``workers`` is
    1). ``launcher="ray"``: as Ray tasks on the cluster ``ray.init`` finds (the one named
    by ``RAY_ADDRESS``, else a local instance with ``workers`` CPUs). Returns the rows of
    the runs that finished, in the jobs' order, and one line per run that raised, so one
    crash does not lose the others. A progress bar on stderr counts the runs done, with
    an ETA and the last run that finished.

    The trainers resume from their run folders, so a stopped fan-out loses little:
    SIGTERM or SIGINT reaches every local worker (spawned processes, each run
    checkpointing itself), no further run starts, and ``Interrupted`` is raised once the
    running ones have saved. Ray retries a task whose worker or node dies up to
    ``RAY_RETRIES`` times; the retry finds the run folder and continues from its checkpoint.
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f"launcher must be one of {LAUNCHERS}, got {launcher!r}")
    from tqdm import tqdm

    results: dict[int, list[Row]] = {}
    failures: list[str] = []
    stage = label(jobs[0]).split(" ")[0] if jobs else "runs"
    bar = tqdm(total=len(jobs), desc=stage, unit="run", file=sys.stderr, dynamic_ncols=True)

    stopped: list[Interrupted] = []

    def collect(index: int, get: Callable[[], Row | list[Row]]) -> None:
        job = jobs[index]
        try:
            result = get()
        except Interrupted as stop:  # saved its work; the fan-out stops
            stopped.append(stop)
            return
        except Exception as error:  # report and go on with the other runs
            failures.append(f"{label(job)}: {type(error).__name__}: {error}")
            bar.write(f"run {label(job)} failed:\n{traceback.format_exc()}")
            return
        finally:
            bar.set_postfix_str(label(job), refresh=False)
            bar.update()
        results[index] = result if isinstance(result, list) else [result]

    if launcher == "ray":
        import ray

        if not ray.is_initialized():
            ray.init(
                num_cpus=None if os.environ.get("RAY_ADDRESS") else workers,
                include_dashboard=False,
                log_to_driver=False,
            )
        remote = ray.remote(num_cpus=1, max_retries=RAY_RETRIES)(run)
        pending = {remote.remote(job): index for index, job in enumerate(jobs)}
        while pending:
            [done], _ = ray.wait(list(pending))
            collect(pending.pop(done), lambda done=done: ray.get(done))
    elif workers <= 1:
        for index, job in enumerate(jobs):
            collect(index, lambda job=job: run(job))
            if stopped:
                break
    else:
        # Spawned, not forked: a worker must not inherit this process's signal handlers.
        context = multiprocessing.get_context("spawn")
        with StopSignals(forward=True) as signals:
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                # At most one job per worker is handed to the pool, the next one only while no
                # stop was asked for: a job queued in the pool would start after a stop, in a
                # worker that no longer hears it.
                waiting = iter(enumerate(jobs))
                running: dict[Future, int] = {}

                def start_next() -> None:
                    following = None if signals.requested is not None or stopped else next(waiting, None)
                    if following is not None:
                        index, job = following
                        running[pool.submit(run, job)] = index

                for _ in range(workers):
                    start_next()
                while running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        collect(running.pop(future), future.result)
                        start_next()
        if signals.requested is not None and not stopped:
            stopped.append(interrupted(signals.requested, "each run's folder"))
    bar.close()
    if stopped:
        raise stopped[0]
    return [row for index in sorted(results) for row in results[index]], failures


def read_csv(path: Path) -> list[Row]:
    """Rows with numbers parsed back to floats where they parse."""
    with path.open(newline="") as handle:
        return [{key: _number(value) for key, value in row.items()} for row in csv.DictReader(handle)]


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def mean_std(values: Sequence[float]) -> str:
    """``mean ± std`` of the finite values (the mean alone for one value, "-" for none)."""
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    if array.size == 0:
        return "-"
    mean, std = array.mean(), array.std()
    fmt = "{:.2e}" if abs(mean) < 0.01 and mean != 0 else "{:.3f}"
    return fmt.format(mean) + (" ± " + fmt.format(std) if array.size > 1 else "")


def markdown_table(rows: list[Row], group_by: Sequence[str], columns: Sequence[str], count_key: str = "seeds") -> str:
    """One line per distinct ``group_by`` value, each column as mean ± std over its rows."""
    groups: dict[tuple, list[Row]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[key] for key in group_by)].append(row)
    header = [*group_by, count_key, *columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, group in sorted(groups.items(), key=lambda item: tuple(map(str, item[0]))):
        cells = [str(part) for part in key] + [str(len(group))]
        cells += [mean_std([as_float(row.get(column)) for row in group]) for column in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def as_float(value: Any) -> float:
    """``value`` as a float; NaN where it is empty or not a number (CSV cells of runs that lack a column)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def tagged_rows(keys: Row, scores: Row, metrics_csv: Path) -> list[Row]:
    """A training run's final scores and every row of its ``metrics.csv``, tagged
    ``kind`` "final" and "curve" (``split_kinds`` separates them again)."""
    curve = [{"kind": "curve", **keys, **row} for row in read_csv(metrics_csv)]
    return [{"kind": "final", **keys, **scores}, *curve]


def split_kinds(rows: list[Row]) -> tuple[list[Row], list[Row]]:
    """Rows tagged ``kind`` "final" and "curve", each without the tag."""
    final = [{k: v for k, v in row.items() if k != "kind"} for row in rows if row["kind"] == "final"]
    curves = [{k: v for k, v in row.items() if k != "kind"} for row in rows if row["kind"] == "curve"]
    return final, curves


def write_final_and_curves(
    rows: list[Row], final_csv: Path, curves_csv: Path, plot: Callable[[list[Row], list[Row]], None]
) -> list[Row]:
    """A training benchmark's rows (tagged by ``tagged_rows``): the final rows and the
    curve rows each to their CSV when there are any, ``plot(final, curves)`` when there
    are curves. Returns the final rows."""
    final, curves = split_kinds(rows)
    if final:
        write_csv(final_csv, final)
    if curves:
        write_csv(curves_csv, curves)
        plot(final, curves)
    return final


def write_runs(out: Path, rows: list[Row], format_table: Callable[[list[Row]], str]) -> int:
    """A benchmark script's ending: ``out/runs.csv`` and the table on stdout; exit code 1
    when no run finished."""
    if not rows:
        return 1
    write_csv(out / "runs.csv", rows)
    print(format_table(rows))
    return 0


def policy_episodes(env_id: str, policy_name: str, seeds: Sequence[int]) -> tuple[np.ndarray, np.ndarray, int]:
    """Whole episodes of the policy ``policy_name`` (``pomdp_envs.policies.make_policy``),
    one per seed (the env reset and the policy seeded with it): the returns, whether
    ``info["is_success"]`` held at each episode's last step, and the env steps taken."""
    import gymnasium as gym

    from pomdp_envs.policies import make_policy

    env = gym.make(env_id)
    returns, successes, steps = [], [], 0
    for seed in seeds:
        observation, info = env.reset(seed=seed)
        policy = make_policy(env_id, policy_name, seed)
        policy.reset_one(observation)
        total, done = 0.0, False
        while not done:
            observation, reward, terminated, truncated, info = env.step(policy.act_one(observation, info))
            total, steps, done = total + float(reward), steps + 1, terminated or truncated
        returns.append(total)
        successes.append(bool(info.get("is_success", False)))
    env.close()
    return np.array(returns), np.array(successes), steps

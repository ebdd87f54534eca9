"""PPO benchmark: success curves of recurrent PPO with a GateL0RD or an LSTM memory on
MiniGrid memory tasks (DoorKey-5x5 and MemoryS7 by default).

    python -m benchmarks.ppo --tasks DoorKey-5x5 MemoryS7 --steps 200000 --seeds 2 --workers 2

Writes ``runs.csv`` (final success rate and return per run), ``curves.csv`` (every
update of every run) and ``success.png`` (success rate of finished episodes over env
steps, mean over seeds) to ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from baselines.agents.ppo import CORES as PPO_CORES
from baselines.agents.ppo import PPOConfig, train
from benchmarks.common import Row, as_float, fan_out, markdown_table, save_figure, tagged_rows, write_final_and_curves
from pomdp_envs.cli_errors import command_name

DEFAULT_TASKS = ("DoorKey-5x5", "MemoryS7")


def run_one(config: PPOConfig) -> list[Row]:
    """The run's final scores and its learning curve, one row per update."""
    scores = train(config)
    task = config.env_id.split("MiniGrid-")[-1].removesuffix("-v0")
    keys = {"task": task, "core": config.core, "seed": config.seed}
    return tagged_rows(keys, scores, Path(config.out_dir) / "metrics.csv")


def make_configs(tasks: list[str], cores: list[str], seeds: int, steps: int, out: Path) -> list[PPOConfig]:
    return [
        PPOConfig(
            env_id=f"pomdp_envs/MiniGrid-{task}-v0",
            core=core,
            seed=seed,
            total_steps=steps,
            out_dir=out / task / core / f"seed{seed}",
            progress=False,
        )
        for task in tasks
        for seed in range(seeds)
        for core in cores
    ]


def run(configs: list[PPOConfig], workers: int, launcher: str = "local") -> tuple[list[Row], list[str]]:
    return fan_out(
        run_one,
        configs,
        workers,
        launcher=launcher,
        label=lambda c: f"ppo {c.env_id.split('/')[-1]}/{c.core}/seed{c.seed}",
    )


def write_results(rows: list[Row], final_csv: Path, curves_csv: Path, figure: Path) -> list[Row]:
    """Final scores and curves to their CSVs, success curves to ``figure``; returns the final rows."""
    return write_final_and_curves(rows, final_csv, curves_csv, lambda final, curves: plot_curves(curves, figure))


def format_table(final_rows: list[Row]) -> str:
    return markdown_table(
        final_rows,
        ("task", "core"),
        ("final_success_rate", "final_return", "final_gate_rate", "global_step", "seconds"),
    )


#: The success level of the frames-to-threshold measure, and its smoothing window (updates).
SUCCESS_THRESHOLD, SUCCESS_WINDOW = 0.9, 5


def frames_to_success(
    curve_rows: list[Row], threshold: float = SUCCESS_THRESHOLD, window: int = SUCCESS_WINDOW
) -> list[Row]:
    """Per (task, core, seed): the env steps (frames) after which the success rate,
    averaged over the last ``window`` updates, first reaches ``threshold``. A run that
    never does counts its whole budget (``reached`` 0)."""
    runs: dict[tuple, list[Row]] = {}
    for row in curve_rows:
        runs.setdefault((row["task"], row["core"], row["seed"]), []).append(row)
    result = []
    for (task, core, seed), rows in runs.items():
        rows = sorted(rows, key=lambda row: row["global_step"])
        rates = np.array([as_float(row.get("success_rate")) for row in rows])
        steps = np.array([row["global_step"] for row in rows], dtype=float)
        frames, reached = steps[-1], 0.0
        for end in range(window, len(rates) + 1):
            recent = rates[end - window : end]
            recent = recent[np.isfinite(recent)]
            if recent.size and recent.mean() >= threshold:
                frames, reached = steps[end - 1], 1.0
                break
        result.append(
            {"task": task, "core": core, "seed": seed, "frames_to_success": float(frames), "reached": reached}
        )
    return result


def plot_curves(curve_rows: list[Row], path: Path, window: int = 5) -> None:
    """Success rate over env steps per task (one panel each), mean over seeds, smoothed
    over ``window`` updates."""
    import matplotlib.pyplot as plt
    import numpy as np

    tasks = sorted({row["task"] for row in curve_rows})
    figure, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.5), squeeze=False)
    for axis, task in zip(axes[0], tasks):
        for core in sorted({row["core"] for row in curve_rows if row["task"] == task}):
            runs = {}
            for row in curve_rows:
                if row["task"] == task and row["core"] == core:
                    runs.setdefault(row["seed"], []).append((row["global_step"], row["success_rate"]))
            length = min(len(run) for run in runs.values())
            steps = np.array([step for step, _ in list(runs.values())[0][:length]])
            success = np.array([[rate for _, rate in run[:length]] for run in runs.values()], dtype=float)
            kernel = np.ones(min(window, length))  # "same" convolution keeps the longer length
            mean = np.nanmean(success, axis=0)
            valid = np.convolve(np.isfinite(mean), kernel, "same")
            smooth = np.convolve(np.nan_to_num(mean), kernel, "same") / np.maximum(valid, 1)
            axis.plot(steps, smooth, label=f"{core} ({len(runs)} seeds)")
        axis.set_title(task)
        axis.set_xlabel("env steps")
        axis.set_ylabel("success rate of finished episodes")
        axis.set_ylim(-0.02, 1.02)
        axis.legend()
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=command_name(), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", nargs="+", default=list(DEFAULT_TASKS))
    parser.add_argument("--cores", nargs="+", default=list(PPO_CORES), choices=PPO_CORES)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=PPOConfig().total_steps)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/local/ppo"))
    args = parser.parse_args(argv)

    rows, _ = run(make_configs(args.tasks, args.cores, args.seeds, args.steps, args.out), args.workers)
    final = write_results(rows, args.out / "runs.csv", args.out / "curves.csv", args.out / "success.png")
    if not final:
        return 1
    print(format_table(final))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

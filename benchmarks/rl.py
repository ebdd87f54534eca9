"""Reinforcement learning: memory's effect on return, with recurrent PPO on every task.

Per task, PPO (``baselines.agents.ppo``) trains in these variants, each over seeds:

* ``none`` on the agent's view: the memoryless control;
* ``gru`` and ``gatel0rd`` (on MiniGrid also ``lstm``, the GateL0RD paper's baseline);
* ``none`` on the full view (``FullyObservable``): whether the task is learnable at
  this budget without memory when nothing is hidden.

Beside them, the return of the random policy and of the env's scripted oracle (which
reads the hidden state from ``info``) over whole episodes give the scale. An agent has
*learned* when its final return exceeds the random policy's by ``LEARNED_SHARE`` (10 %)
of the oracle's gain over random (95 % bootstrap interval over seeds above that). The
verdict per task (``memory_verdict``): "memory improves return" when a recurrent core's
final return beats the memoryless one (95 % bootstrap interval of the difference over
seeds above 0) and the full-view agent has learned; "not learned at this budget" when
no agent has.

    python -m benchmarks.rl --tasks RobotRemoteControl DoorKey-5x5 --steps 200000 --seeds 3 --workers 2

Writes ``rl.csv`` (final scores per run), ``rl_curves.csv`` (every update of every run),
``rl_scale.csv`` (the policies' returns) and ``rl_return.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import warnings
from pathlib import Path

import numpy as np

from baselines.agents.ppo import MEMORYLESS, PPOConfig, train
from benchmarks.common import (
    Row,
    as_float,
    fan_out,
    policy_episodes,
    save_figure,
    tagged_rows,
    write_csv,
    write_final_and_curves,
)
from benchmarks.stats import INCONCLUSIVE, SUPPORTED, Verdict, bootstrap_difference
from pomdp_envs.cli_errors import command_name

#: The tasks, by the name the tables use, with their ids and the ``--envs`` group they belong to.
TASKS = {
    "RobotRemoteControl": ("pomdp_envs/RobotRemoteControl-v0", "rrc"),
    "Shepherd": ("pomdp_envs/Shepherd-v0", "shepherd"),
    "FetchPickAndPlacePO": ("pomdp_envs/FetchPickAndPlacePO-v0", "fetch"),
    "ShapeHerd": ("pomdp_envs/ShapeHerd-v1", "shapeherd"),
    "DoorKey-5x5": ("pomdp_envs/MiniGrid-DoorKey-5x5-v0", "minigrid"),
    "MemoryS7": ("pomdp_envs/MiniGrid-MemoryS7-v0", "minigrid"),
    "RedBlueDoors-6x6": ("pomdp_envs/MiniGrid-RedBlueDoors-6x6-v0", "minigrid"),
}
#: Where the GateL0RD paper compares GateL0RD with an LSTM (Fig. 6): those two run ``claim_seeds``.
CLAIM_TASKS = ("DoorKey-5x5", "MemoryS7")
RECURRENT = ("gru", "gatel0rd")
AGENT_VIEW, FULL_VIEW = "agent", "full"
#: The scale's policies: uniform actions, and the scripted oracle of every env.
SCALE_POLICIES = ("random", "oracle")  # "oracle": the env's oracle (MiniGrid: its solver)
SCALE_EPISODES = 30  # episodes per seed of each scale policy


@dataclasses.dataclass(frozen=True)
class Variant:
    core: str
    view: str = AGENT_VIEW

    @property
    def name(self) -> str:
        if self.view == FULL_VIEW:
            return f"{self.core} (full view)"
        return "memoryless" if self.core == MEMORYLESS else self.core

    @property
    def folder(self) -> str:
        return f"{self.core}-{self.view}"


def variants(task: str) -> list[Variant]:
    cores = [MEMORYLESS, *RECURRENT, *(["lstm"] if TASKS[task][1] == "minigrid" else [])]
    return [*(Variant(core) for core in cores), Variant(MEMORYLESS, FULL_VIEW)]


def make_configs(budgets: dict[str, int], seeds: int, out: Path, claim_seeds: int | None = None) -> list[PPOConfig]:
    """Every task x variant x seed; ``budgets`` maps task to env steps. On the claim
    tasks GateL0RD and the LSTM run ``claim_seeds`` seeds (at least ``seeds``)."""
    configs = []
    for task, steps in budgets.items():
        env_id = TASKS[task][0]
        for variant in variants(task):
            claim = task in CLAIM_TASKS and variant.core in ("gatel0rd", "lstm") and variant.view == AGENT_VIEW
            for seed in range(max(seeds, claim_seeds or 0) if claim else seeds):
                configs.append(
                    PPOConfig(
                        env_id=env_id,
                        core=variant.core,
                        fully_observable=variant.view == FULL_VIEW,
                        seed=seed,
                        total_steps=steps,
                        out_dir=out / task / variant.folder / f"seed{seed}",
                        progress=False,
                    )
                )
    return configs


def task_of(env_id: str) -> str:
    return next(task for task, (task_id, _) in TASKS.items() if task_id == env_id)


def run_one(config: PPOConfig) -> list[Row]:
    """The run's final scores and its learning curve, one row per update."""
    scores = train(config)
    view = FULL_VIEW if config.fully_observable else AGENT_VIEW
    keys = {"task": task_of(config.env_id), "core": config.core, "view": view, "seed": config.seed}
    return tagged_rows(keys, scores, Path(config.out_dir) / "metrics.csv")


def run(configs: list[PPOConfig], workers: int, launcher: str = "local") -> tuple[list[Row], list[str]]:
    return fan_out(
        run_one,
        configs,
        workers,
        launcher=launcher,
        label=lambda c: f"ppo {c.env_id.split('/')[-1]}/{c.core}{'/full' if c.fully_observable else ''}/seed{c.seed}",
    )


def policy_scale(task: str, policy: str, seed: int, episodes: int = SCALE_EPISODES) -> Row:
    """Mean return and success rate of ``policy`` ("random" or "oracle") over whole episodes."""
    from pomdp_envs.policies import policy_names

    env_id = TASKS[task][0]
    name = policy if policy == "random" else next(p for p in policy_names(env_id) if p in ("oracle", "solver"))
    returns, successes, _ = policy_episodes(env_id, name, [seed * 10_000 + episode for episode in range(episodes)])
    return {
        "task": task,
        "policy": policy,
        "seed": seed,
        "mean_return": float(np.mean(returns)),
        "success_rate": float(np.mean(successes)),
        "episodes": episodes,
    }


def scale_rows(tasks: list[str], seeds: int, episodes: int = SCALE_EPISODES) -> list[Row]:
    return [
        policy_scale(task, policy, seed, episodes)
        for task in tasks
        for policy in SCALE_POLICIES
        for seed in range(seeds)
    ]


def write_results(rows: list[Row], out: Path, scale: list[Row] | None = None) -> list[Row]:
    """``rl.csv``, ``rl_curves.csv``, ``rl_scale.csv`` and ``rl_return.png`` in ``out``; returns the final rows."""
    if scale:
        write_csv(out / "rl_scale.csv", scale)
    return write_final_and_curves(
        rows, out / "rl.csv", out / "rl_curves.csv", lambda final, curves: plot_curves(curves, out / "rl_return.png")
    )


def run_budgets(rows: list[Row]) -> dict[str, int]:
    """Each task's env steps per run, as its runs ended (the largest ``global_step``)."""
    budgets: dict[str, int] = {}
    for row in rows:
        budgets[row["task"]] = max(budgets.get(row["task"], 0), int(as_float(row.get("global_step"))))
    return budgets


def _returns(rows: list[Row], task: str, core: str, view: str = AGENT_VIEW) -> list[float]:
    return [
        as_float(row.get("final_return"))
        for row in rows
        if row.get("task") == task and row.get("core") == core and row.get("view") == view
    ]


#: An agent has learned when its return exceeds the random policy's by this share of the
#: gap between the random and the oracle policies' returns (95 % bootstrap interval above it).
LEARNED_SHARE = 0.1


def _learned(name: str, values: list[float], random: list[float], level: float) -> Verdict:
    """Is mean(values) − mean(random) above ``level``? (The bootstrap interval of the
    difference, ``level`` subtracted from every run.)"""
    return bootstrap_difference((name, [value - level for value in values]), ("random", random))


def memory_verdict(task: str, rows: list[Row], scale: list[Row]) -> Verdict:
    """Does memory improve return on ``task``? (See the module docstring.)"""

    def policy(name: str) -> list[float]:
        return [as_float(row["mean_return"]) for row in scale if row["task"] == task and row["policy"] == name]

    random, oracle = policy("random"), policy("oracle")
    if not random or not oracle:
        return Verdict(INCONCLUSIVE, "no random and oracle returns to scale it")
    level = LEARNED_SHARE * (float(np.mean(oracle)) - float(np.mean(random)))
    memoryless = ("memoryless", _returns(rows, task, MEMORYLESS))
    full = ("full view", _returns(rows, task, MEMORYLESS, FULL_VIEW))
    cores = [core for core in (*RECURRENT, "lstm") if _returns(rows, task, core)]
    leaves = {
        name: _learned(name, values, random, level)
        for name, values in [memoryless, full, *((core, _returns(rows, task, core)) for core in cores)]
    }
    if any(verdict.verdict == INCONCLUSIVE for verdict in leaves.values()):
        reasons = "; ".join(v.measured for v in leaves.values() if v.verdict == INCONCLUSIVE)
        return Verdict(INCONCLUSIVE, reasons)
    learned = [name for name, verdict in leaves.items() if verdict.verdict == SUPPORTED]
    bar = f"learned: return above random + {level:.3g} ({LEARNED_SHARE:g} of the oracle's gain over random)"
    if not learned:
        return Verdict("not learned at this budget", f"no agent's return is above the bar; {bar}")
    gains = {core: bootstrap_difference((core, _returns(rows, task, core)), memoryless) for core in cores}
    better = [core for core, verdict in gains.items() if verdict.verdict == SUPPORTED]
    measured = "; ".join(verdict.measured for verdict in gains.values())
    measured += f"; {bar}: {', '.join(learned)}"
    if full[0] not in learned:
        return Verdict("inconclusive (the full-view agent does not learn at this budget)", measured)
    if better:
        return Verdict(f"memory improves return ({', '.join(better)})", measured)
    return Verdict("no return gain from memory at this budget", measured)


def format_table(final_rows: list[Row], scale: list[Row], budgets: dict[str, int] | None = None) -> str:
    """Per task: the scale policies' and every variant's final return (mean ± std over
    seeds) and success rate, with the verdict."""
    from benchmarks.common import mean_std

    lines = [
        "| task | budget (env steps) | agent | seeds | final return | success rate | wall min per run |",
        "|---|---:|---|---:|---|---|---:|",
    ]
    verdicts = []
    for task in [task for task in TASKS if any(row.get("task") == task for row in final_rows)]:
        steps = budgets.get(task) if budgets else None
        steps_text = f"{steps:,}" if steps else "-"
        for policy in SCALE_POLICIES:
            group = [row for row in scale if row["task"] == task and row["policy"] == policy]
            if group:
                lines.append(
                    f"| {task} | - | {policy} policy | {len(group)} | "
                    f"{mean_std([as_float(r['mean_return']) for r in group])} | "
                    f"{mean_std([as_float(r['success_rate']) for r in group])} | - |"
                )
        for variant in variants(task):
            group = [
                row
                for row in final_rows
                if row.get("task") == task and row.get("core") == variant.core and row.get("view") == variant.view
            ]
            if not group:
                continue
            minutes = np.mean([as_float(row.get("seconds")) for row in group]) / 60
            lines.append(
                f"| {task} | {steps_text} | PPO {variant.name} | {len(group)} | "
                f"{mean_std([as_float(r.get('final_return')) for r in group])} | "
                f"{mean_std([as_float(r.get('final_success_rate')) for r in group])} | {minutes:.1f} |"
            )
        verdict = memory_verdict(task, final_rows, scale)
        verdicts.append(f"- **{task}**: {verdict.verdict}. {verdict.measured}")
    return "\n".join([*lines, "", *verdicts])


#: The success level of the frames-to-threshold measure, and its smoothing window (updates).
SUCCESS_THRESHOLD, SUCCESS_WINDOW = 0.9, 5


def frames_to_success(
    curve_rows: list[Row], threshold: float = SUCCESS_THRESHOLD, window: int = SUCCESS_WINDOW
) -> list[Row]:
    """Per (task, core, view, seed): the env steps (frames) after which the success rate,
    averaged over the last ``window`` updates, first reaches ``threshold``. A run that
    never does counts its whole budget (``reached`` 0)."""
    runs: dict[tuple, list[Row]] = {}
    for row in curve_rows:
        runs.setdefault((row["task"], row["core"], row.get("view", AGENT_VIEW), row["seed"]), []).append(row)
    result = []
    for (task, core, view, seed), rows in runs.items():
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
            {
                "task": task,
                "core": core,
                "view": view,
                "seed": seed,
                "frames_to_success": float(frames),
                "reached": reached,
            }
        )
    return result


def plot_curves(curve_rows: list[Row], path: Path, window: int = 5) -> None:
    """Return of finished episodes over env steps per task (one panel each), mean over
    seeds, smoothed over ``window`` updates."""
    import matplotlib.pyplot as plt

    tasks = [task for task in TASKS if any(row["task"] == task for row in curve_rows)]
    columns = min(4, len(tasks))
    rows_of_panels = -(-len(tasks) // columns)
    figure, axes = plt.subplots(rows_of_panels, columns, figsize=(4.5 * columns, 3.3 * rows_of_panels), squeeze=False)
    for axis in axes.flat[len(tasks) :]:
        axis.axis("off")
    for axis, task in zip(axes.flat, tasks):
        for variant in variants(task):
            runs: dict[object, list[tuple[float, float]]] = {}
            for row in curve_rows:
                if row["task"] == task and row["core"] == variant.core and row.get("view", AGENT_VIEW) == variant.view:
                    runs.setdefault(row["seed"], []).append((row["global_step"], as_float(row["mean_return"])))
            if not runs:
                continue
            length = min(len(run) for run in runs.values())
            steps = np.array([step for step, _ in list(runs.values())[0][:length]])
            returns = np.array([[value for _, value in run[:length]] for run in runs.values()], dtype=float)
            kernel = np.ones(min(window, length))  # "same" convolution keeps the longer length
            with warnings.catch_warnings():  # an update in which no seed finished an episode
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(returns, axis=0)
            valid = np.convolve(np.isfinite(mean), kernel, "same")
            smooth = np.convolve(np.nan_to_num(mean), kernel, "same") / np.maximum(valid, 1)
            axis.plot(steps, smooth, label=f"{variant.name} ({len(runs)})")
        axis.set_title(task)
        axis.set_xlabel("env steps")
        axis.set_ylabel("return of finished episodes")
        axis.legend(fontsize=7)
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=command_name(), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", nargs="+", default=["RobotRemoteControl", "DoorKey-5x5"], choices=list(TASKS))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--claim-seeds", type=int, default=None, help="seeds of GateL0RD and LSTM on the claim tasks")
    parser.add_argument("--steps", type=int, default=PPOConfig().total_steps, help="env steps per run")
    parser.add_argument("--scale-episodes", type=int, default=SCALE_EPISODES)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/local/rl"))
    args = parser.parse_args(argv)

    budgets = {task: args.steps for task in args.tasks}
    rows, _ = run(make_configs(budgets, args.seeds, args.out / "runs", args.claim_seeds), args.workers)
    scale = scale_rows(args.tasks, args.seeds, args.scale_episodes)
    final = write_results(rows, args.out, scale)
    if not final:
        return 1
    print(format_table(final, scale, budgets))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

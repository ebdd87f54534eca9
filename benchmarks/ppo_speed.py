"""Training speed of our recurrent PPO beside SB3-contrib's ``RecurrentPPO``, in one run.

Both train on the same env with the same number of envs and rollout length, on one torch
thread, from a fresh agent: SB3-contrib's ``MlpLstmPolicy`` (its defaults: 10 epochs,
minibatches of 128 steps, a ``DummyVecEnv`` of ``gymnasium.make`` envs), and ours with
each ``--cores`` at our defaults (4 epochs, minibatches of 256 steps, the id's native
vector env where it has one). ``ours-sb3-work`` rows repeat ours with SB3's update work
(10 epochs, 128-step minibatches), so that the ratio is not only fewer gradient steps.
A rate is env steps over the wall time of the whole training call (ours includes making
the envs and writing its run folder; SB3's excludes building the model).

This machine's speed drifts, so the cases alternate in ``--rounds`` rounds and a row
gives the median rate and the median per-round ratio to SB3, with its range.

    python -m benchmarks.ppo_speed                                   # RRC, 8 envs x 128 steps
    python -m benchmarks.ppo_speed --env-id pomdp_envs/Shepherd-v0 --updates 4 --rounds 3
    python -m benchmarks.ppo_speed --csv benchmarks/results/standard/rl/rrc-shepherd/ppo_speed.csv

Needs ``sb3-contrib`` (the ``peers`` extra).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import torch

from baselines.agents.ppo import PPOConfig, train
from benchmarks.common import Row, write_csv
from pomdp_envs.cli_errors import command_name


def sb3_case(env_id: str, num_envs: int, num_steps: int) -> Callable[[int], None]:
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env

    def run(total_steps: int) -> None:
        envs = make_vec_env(lambda: gym.make(env_id), n_envs=num_envs, seed=0)
        model = RecurrentPPO("MlpLstmPolicy", envs, n_steps=num_steps, device="cpu", seed=0, verbose=0)
        model.learn(total_timesteps=total_steps)
        envs.close()

    return run


def ours_case(env_id: str, num_envs: int, num_steps: int, core: str, sb3_work: bool) -> Callable[[int], None]:
    def run(total_steps: int) -> None:
        with tempfile.TemporaryDirectory() as folder:
            train(
                PPOConfig(
                    env_id=env_id,
                    core=core,
                    num_envs=num_envs,
                    num_steps=num_steps,
                    update_epochs=10 if sb3_work else 4,
                    num_minibatches=num_envs if sb3_work else max(1, num_envs // 2),  # 128- or 256-step minibatches
                    total_steps=total_steps,
                    checkpoint_every=0,
                    out_dir=Path(folder),
                    progress=False,
                )
            )

    return run


def measure(cases: dict[str, Callable[[int], None]], total_steps: int, rounds: int) -> dict[str, list[float]]:
    """Env steps per second of every case in every round (cases alternate within a round)."""
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for round_index in range(rounds):
        for name, case in cases.items():
            start = time.perf_counter()
            case(total_steps)
            rates[name].append(total_steps / (time.perf_counter() - start))
            print(f"round {round_index + 1}/{rounds} {name}: {rates[name][-1]:.0f} steps/s", flush=True)
    return rates


def summarise(rates: dict[str, list[float]], reference: str = "sb3-recurrent-ppo-lstm") -> list[Row]:
    rows = []
    for name, values in rates.items():
        ratios = [value / base for value, base in zip(values, rates[reference])]
        rows.append(
            {
                "case": name,
                "steps_per_s": statistics.median(values),
                "ratio_to_sb3": statistics.median(ratios),
                "ratio_min": min(ratios),
                "ratio_max": max(ratios),
                "rounds": len(values),
            }
        )
    return rows


def format_table(rows: list[Row]) -> str:
    lines = ["| case | env steps/s | ratio to SB3 (median) | ratio range | rounds |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['case']} | {row['steps_per_s']:.0f} | {row['ratio_to_sb3']:.2f} | "
            f"{row['ratio_min']:.2f}-{row['ratio_max']:.2f} | {int(row['rounds'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=command_name(), description=__doc__.split("\n\n")[0])
    parser.add_argument("--env-id", default="pomdp_envs/RobotRemoteControl-v0")
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--num-steps", type=int, default=128, help="rollout length per env")
    parser.add_argument("--updates", type=int, default=6, help="PPO updates per timed window")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cores", nargs="+", default=["gru", "gatel0rd", "lstm"])
    parser.add_argument("--csv", type=Path, default=None, help="also write the rows here (the report's ppo_speed.csv)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    total = args.updates * args.num_envs * args.num_steps
    cases = {"sb3-recurrent-ppo-lstm": sb3_case(args.env_id, args.num_envs, args.num_steps)}
    for core in args.cores:
        cases[f"ours-{core}"] = ours_case(args.env_id, args.num_envs, args.num_steps, core, sb3_work=False)
        cases[f"ours-{core}-sb3-work"] = ours_case(args.env_id, args.num_envs, args.num_steps, core, sb3_work=True)
    rows = summarise(measure(cases, total, args.rounds))
    setting = {"env_id": args.env_id, "num_envs": args.num_envs, "num_steps": args.num_steps, "threads": 1}
    rows = [{**row, **setting} for row in rows]
    if args.csv is not None:
        write_csv(args.csv, rows)
    print(f"\n{args.env_id}, {args.num_envs} envs x {args.num_steps} steps, {total} env steps per window, one thread")
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Short timed runs of every trainer on one device, at the papers' sizes: what a paper
budget costs there. ``benchmarks/gpu_check.sh`` runs it on CUDA.

    python -m benchmarks.device_check --device cuda          # a few minutes on a GPU
    python -m benchmarks.device_check --device cpu --quick   # tiny sizes: checks the code paths

Prints one row per trainer: updates/s (and env steps/s where it steps envs), and the
hours the paper's budget would take at that rate. The predictors train 48 runs at once
(RRC GateL0RD, the paper's shapes); PPO and MPC step their envs on the CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from pomdp_envs.cli_errors import OneLineArgumentParser, positive_int, run_command


def _rate(step, count: int, sync) -> float:
    step()  # warm-up (and, on CUDA, kernel selection)
    sync()
    start = time.perf_counter()
    for _ in range(count):
        step()
    sync()
    return count / (time.perf_counter() - start)


def check(device: str, quick: bool, out: Path) -> list[dict]:
    """Time each trainer on ``device``; rows of (trainer, unit, rate, paper budget, hours)."""
    from baselines.agents.dreamer import PRESETS, time_parts
    from baselines.agents.ppo import PPOConfig
    from baselines.agents.ppo import train as train_ppo
    from baselines.agents.world_model import for_model
    from baselines.control.mpc import run_mpc
    from baselines.predictors.train import StackedTrainer, TrainConfig, load_data, train_runs
    from baselines.runlog import check_device

    check_device(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    rows = []
    count = 2 if quick else 20

    # Predictors: 48 RRC GateL0RD runs in one batch; the paper trains 500k updates per run.
    runs = 2 if quick else 48
    predictor = TrainConfig(
        env="rrc",
        core="gatel0rd",
        seeds=tuple(range(runs)),
        num_train=256 if quick else 2048,
        num_test=32 if quick else 512,
        device=device,
        progress=False,
        out_dir=out / "predictor",
        epochs=1,
        batches_per_epoch=1,
        eval_every=1,
    )
    trainer = StackedTrainer(predictor, load_data(predictor))
    per_run = _rate(lambda: trainer.update(0.5), count, sync) * runs
    rows.append(_row(f"predictor (RRC GateL0RD x{runs})", "run-updates/s", per_run, 500_000, "updates per run"))

    # MPC through a learned predictor: planning steps of 50 episodes at once.
    result = train_runs(dataclasses.replace(predictor, seeds=(0,), out_dir=out / "mpc_predictor"))[0]
    start = time.perf_counter()
    steps = 2 if quick else 10
    run_mpc("rrc", result.out_dir / "checkpoint.pt", episodes=4 if quick else 50, episode_steps=steps, device=device)
    rows.append(
        _row(
            "MPC (RRC, learned GateL0RD, 50 episodes at once)",
            "planning steps/s",
            steps / (time.perf_counter() - start),
            100,
            "steps (one batch of episodes)",
        )
    )

    # PPO at the GateL0RD paper's MiniGrid settings: 1e7 frames.
    ppo = PPOConfig(total_steps=16 * 128 * (1 if quick else 4), device=device, progress=False, out_dir=out / "ppo")
    start = time.perf_counter()
    train_ppo(ppo)
    frames = ppo.num_updates * ppo.num_envs * ppo.num_steps / (time.perf_counter() - start)
    rows.append(_row("PPO (MiniGrid, GateL0RD)", "env steps/s", frames, 10_000_000, "frames"))

    # Dreamer at the paper's sizes (cpu-small with --quick): 625k env steps, an update every 5.
    paper = PRESETS["paper"]
    for model in ("rssm", "vsg", "svsg"):
        preset = PRESETS["cpu-small" if quick else "paper"]
        config = dataclasses.replace(
            preset,
            world=for_model(preset.world, model),
            device=device,
            threads=1,
            out_dir=out / "dreamer",
            progress=False,
        )
        _, update_seconds = time_parts(config, updates=count)
        rows.append(
            _row(
                f"Dreamer {model} ({'cpu-small' if quick else 'paper'} sizes)",
                "updates/s",
                1.0 / update_seconds,
                paper.total_steps // paper.train_every,
                "updates",
            )
        )
    return rows


def _row(trainer: str, unit: str, rate: float, budget: int, budget_unit: str) -> dict:
    return {
        "trainer": trainer,
        "unit": unit,
        "rate": rate,
        "paper_budget": f"{budget:,} {budget_unit}",
        "hours": budget / rate / 3600,
    }


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(
        prog="python -m benchmarks.device_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and counts: checks that every path runs")
    parser.add_argument("--threads", type=positive_int, default=1)
    args = parser.parse_args(argv)

    def go() -> None:
        torch.set_num_threads(args.threads)
        with tempfile.TemporaryDirectory() as folder:
            rows = check(args.device, args.quick, Path(folder))
        name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {args.threads} thread(s)"
        print(f"device: {args.device} ({name}); torch {torch.__version__}")
        print("| trainer | rate | unit | paper budget | hours at this rate |")
        print("|---|---:|---|---|---:|")
        for row in rows:
            print(
                f"| {row['trainer']} | {row['rate']:,.1f} | {row['unit']} | {row['paper_budget']} | {row['hours']:,.2f} |"
            )

    return run_command("python -m benchmarks.device_check", go)


if __name__ == "__main__":
    raise SystemExit(main())

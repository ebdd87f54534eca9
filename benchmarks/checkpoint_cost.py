"""What resumable runs cost: the time each trainer spends writing its checkpoints, as a
share of its training time at the default ``--checkpoint-every``.

Each trainer runs a short job with a checkpoint at every unit of progress (epoch or
rollout) into a scratch folder, with its checkpoint writers timed (``save_state``, the
metric rows beside it, the Dreamer's replay episodes); the rest is training. A row gives
the seconds per checkpoint (median), the training seconds per unit, and the overhead at
the default interval: checkpoint seconds / (default interval x seconds per unit).

    python -m benchmarks.checkpoint_cost
    python -m benchmarks.checkpoint_cost --trainers predictor ppo
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.common import Row, write_csv
from pomdp_envs.cli_errors import OneLineArgumentParser, run_command

TRAINERS = ("predictor", "ppo", "dreamer")


@contextlib.contextmanager
def timed(module: object, names: tuple[str, ...], seconds: list[float]) -> Iterator[None]:
    """Replace ``module.name`` for each name with a wrapper that adds its duration to
    ``seconds`` (one entry per checkpoint: calls within 50 ms of each other add up)."""
    originals = {name: getattr(module, name) for name in names}
    last_end = [0.0]

    def wrap(function: Callable) -> Callable:
        def timed_call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                end = time.perf_counter()
                if seconds and start - last_end[0] < 0.05:
                    seconds[-1] += end - start
                else:
                    seconds.append(end - start)
                last_end[0] = end

        return timed_call

    for name, function in originals.items():
        setattr(module, name, wrap(function))
    try:
        yield
    finally:
        for name, function in originals.items():
            setattr(module, name, function)


def measure(name: str, unit: str, units: int, default_every: int, train: Callable[[], object], module, names) -> Row:
    seconds: list[float] = []
    with timed(module, names, seconds):
        start = time.perf_counter()
        train()
        total = time.perf_counter() - start
    per_checkpoint = statistics.median(seconds)
    per_unit = (total - sum(seconds)) / units
    return {
        "trainer": name,
        "unit": unit,
        "checkpoints": len(seconds),
        "seconds_per_checkpoint": per_checkpoint,
        "training_seconds_per_unit": per_unit,
        "default_every": default_every,
        "overhead_percent": 100 * per_checkpoint / (default_every * per_unit),
    }


def predictor_row(folder: Path, epochs: int) -> Row:
    from baselines.predictors import train as module

    # The paper's RRC epoch (50 batches of 128), 24 runs in one batch (the share of one
    # of two workers in a 48-run sweep), one thread.
    config = module.TrainConfig(
        env="rrc", seeds=tuple(range(8)), reg_lambdas=(0.0, 1e-3, 1e-2), epochs=epochs, num_train=512,
        num_test=128, checkpoint_every=1, out_dir=folder, progress=False,
    )  # fmt: skip
    default = module.TrainConfig.checkpoint_every
    return measure(
        "predictor rrc/gatel0rd x24",
        "epoch",
        epochs,
        default,
        lambda: module.train_runs(config),
        module,
        ("save_state", "write_csv"),
    )


def ppo_row(folder: Path, updates: int) -> Row:
    from baselines.agents import ppo as module

    config = module.PPOConfig(progress=False, out_dir=folder)
    rollout = config.num_envs * config.num_steps
    config = dataclasses.replace(config, total_steps=updates * rollout, checkpoint_every=rollout)
    return measure(
        "ppo DoorKey-5x5/gatel0rd",
        "env step",
        updates * rollout,
        module.PPOConfig.checkpoint_every,
        lambda: module.train(config),
        module,
        ("save_state", "write_csv"),
    )


def dreamer_row(folder: Path, steps: int) -> Row:
    from baselines.agents.dreamer import loop as module
    from baselines.agents.dreamer.config import PRESETS
    from baselines.agents.dreamer.replay import Replay

    preset = PRESETS["cpu-small"]
    every = 250
    config = dataclasses.replace(
        preset, total_steps=preset.prefill + steps, checkpoint_every=every, out_dir=folder, progress=False, threads=1
    )
    seconds: list[float] = []
    # The replay's episode files are written inside the checkpoint too.
    with timed(Replay, ("save",), seconds):
        row = measure(
            "dreamer ShapeHerd/vsg cpu-small",
            "env step",
            config.total_steps,
            preset.checkpoint_every,
            lambda: module.train(config),
            module,
            ("save_state", "write_csv"),
        )
    replay_per_checkpoint = sum(seconds) / max(1, row["checkpoints"])
    row["seconds_per_checkpoint"] += replay_per_checkpoint
    row["training_seconds_per_unit"] -= sum(seconds) / config.total_steps
    row["overhead_percent"] = (
        100 * row["seconds_per_checkpoint"] / (row["default_every"] * row["training_seconds_per_unit"])
    )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(
        prog="python -m benchmarks.checkpoint_cost",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--trainers", nargs="+", choices=TRAINERS, default=list(TRAINERS))
    parser.add_argument("--csv", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)

    def go() -> int:
        import torch

        torch.set_num_threads(1)
        makers = {
            "predictor": lambda folder: predictor_row(folder, epochs=6),
            "ppo": lambda folder: ppo_row(folder, updates=6),
            "dreamer": lambda folder: dreamer_row(folder, steps=1_000),
        }
        rows = []
        for trainer in args.trainers:
            with tempfile.TemporaryDirectory() as folder:
                rows.append(makers[trainer](Path(folder) / "run"))
            print(_format(rows[-1]), flush=True)
        if args.csv:
            write_csv(args.csv, rows)
        return 0

    return run_command("python -m benchmarks.checkpoint_cost", go)


def _format(row: Row) -> str:
    return (
        f"{row['trainer']}: {row['seconds_per_checkpoint'] * 1000:.1f} ms per checkpoint (median of "
        f"{row['checkpoints']}), {row['training_seconds_per_unit'] * 1000:.2f} ms of training per {row['unit']}; "
        f"every {row['default_every']:,} {row['unit']}s (the default): {row['overhead_percent']:.2f} % of training time"
    )


if __name__ == "__main__":
    raise SystemExit(main())

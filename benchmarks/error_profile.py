"""Where the reference models' closed-loop prediction error lies: the squared error per
prediction step and per observation value, mean over each core's shipped seeds, on the
held-out split the models were scored on (the same sequences: the run's data seed and size).

    python -m benchmarks.error_profile fetch --split generalisation

A model's generalisation error is one number; this shows whether it builds up over the
sequence or comes at an event (on Fetch, the late grasp), and in which values.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

import numpy as np

from baselines.predictors.metrics import autoregressive_squared_errors
from baselines.predictors.reference import ReferenceModel, load_reference, reference_models
from baselines.predictors.train import TrainConfig, load_job_split
from pomdp_envs.cli_errors import OneLineArgumentParser, run_command

HELD_OUT = ("test", "generalisation")
#: The training options that choose a job's held-out sequences.
SPLIT_OPTIONS = ("num_test", "num_generalisation", "data_seed", "fully_observable")


def error_profile(models: list[ReferenceModel], split: str, directory: Optional[Path] = None) -> dict[str, np.ndarray]:
    """``per_step`` (T,) and ``per_value`` (O,) squared errors of closed-loop predictions
    after the models' start steps (steps before them NaN), mean over ``models`` (one env)."""
    if split not in HELD_OUT:
        raise ValueError(f"split must be one of {HELD_OUT}, got {split!r}")
    if len({entry.env for entry in models}) != 1:
        raise ValueError("error_profile needs the models of one env")
    options = models[0].trained["options"]
    config = TrainConfig(env=options["env"], **{key: options[key] for key in SPLIT_OPTIONS})
    sequences = load_job_split(config, split)
    per_step, per_value = [], []
    for entry in models:
        model, meta = load_reference(entry.env, entry.core, entry.seed, directory)
        start = meta["start_steps"]
        errors = autoregressive_squared_errors(model, sequences, start)
        per_step.append(np.concatenate([np.full(start - 1, np.nan), errors.mean(axis=(0, 2))]))
        per_value.append(errors.mean(axis=(0, 1)))
    return {"per_step": np.mean(per_step, axis=0), "per_value": np.mean(per_value, axis=0)}


def format_profiles(profiles: dict[str, dict[str, np.ndarray]]) -> str:
    """Two Markdown tables, cores as rows: errors per prediction step, and per value."""
    lines = []
    for key, label in (("per_step", "prediction step"), ("per_value", "observation value")):
        width = len(next(iter(profiles.values()))[key])
        lines += [
            f"Squared error per {label} (x 1e-6), mean over seeds:",
            "",
            "| core | " + " | ".join(str(i) for i in range(width)) + " |",
            "|---|" + "---:|" * width,
        ]
        for core, profile in profiles.items():
            cells = ("-" if np.isnan(v) else f"{v * 1e6:.1f}" for v in profile[key])
            lines.append(f"| {core} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = OneLineArgumentParser(
        prog="python -m benchmarks.error_profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("env", help="a reference models' env (fetch, rrc)")
    parser.add_argument("--split", choices=HELD_OUT, default="generalisation")
    parser.add_argument("--directory", type=Path, help="the models folder (default: the package's)")
    args = parser.parse_args(argv)

    def go() -> int:
        models = [entry for entry in reference_models(args.directory) if entry.env == args.env]
        if not models:
            raise ValueError(f"no reference models of env {args.env!r}")
        cores = dict.fromkeys(entry.core for entry in models)
        profiles = {
            core: error_profile([e for e in models if e.core == core], args.split, args.directory) for core in cores
        }
        print(f"{args.env}, {args.split} split\n")
        print(format_profiles(profiles))
        return 0

    return run_command("python -m benchmarks.error_profile", go)


if __name__ == "__main__":
    raise SystemExit(main())

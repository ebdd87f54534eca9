"""Dreamer benchmark on ShapeHerd: objects scored per episode by VSG, SVSG and RSSM agents
at a fixed CPU budget (the ``cpu-small`` preset), against a uniform random policy and
the scripted oracle.

    python -m benchmarks.dreamer --models vsg rssm --steps 30000 --seeds 1 --workers 2

Writes ``runs.csv`` (final scores per run, and the random policy's), ``curves.csv``
(every logged row of every run) and ``objects.png`` (objects scored per episode over
env steps) to ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from baselines.agents.dreamer import PRESETS, DreamerConfig, estimate_seconds, make_env, train
from baselines.agents.world_model import MODELS, for_model
from benchmarks.common import Row, as_float, fan_out, markdown_table, save_figure, tagged_rows, write_final_and_curves
from pomdp_envs.cli_errors import command_name


def run_one(config: DreamerConfig) -> list[Row]:
    scores = train(config)
    keys = {"model": config.world.model, "seed": config.seed}
    return tagged_rows(keys, scores, Path(config.out_dir) / "metrics.csv")


def scripted_policy(name: str, episodes: int, seed: int, env_id: str = "pomdp_envs/ShapeHerd-v1") -> Row:
    """Objects scored per episode by a policy that does not learn, over full episodes:
    ``random`` (uniform actions) or ``oracle`` (the scripted herder, which reads the true
    object positions from ``info``): the bottom and the top of the scale."""
    from pomdp_envs.policies import make_policy

    env = make_env(dataclasses.replace(PRESETS["cpu-small"], env_id=env_id))
    env.action_space.seed(seed)
    scored = []
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        policy = None if name == "random" else make_policy(env_id, name, seed + episode)
        if policy is not None:
            policy.reset_one(obs)
        done = False
        while not done:
            action = env.action_space.sample() if policy is None else policy.act_one(obs, info)
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        scored.append(float(np.sum(info["hidden"]["object_scored"])))
    env.close()
    return {
        "kind": "final",
        "model": name,
        "seed": seed,
        "final_objects_scored": float(np.mean(scored)),
        "final_objects_stderr": float(np.std(scored, ddof=1) / np.sqrt(episodes)) if episodes > 1 else float("nan"),
        "final_episodes": episodes,
    }


SCRIPTED = ("random", "oracle")


def make_configs(
    models: list[str], seeds: int, steps: int, out: Path, preset: str = "cpu-small", prefill: int | None = None
) -> list[DreamerConfig]:
    base = PRESETS[preset]
    if prefill is not None:
        base = dataclasses.replace(base, prefill=prefill)
    configs = []
    for model in models:
        world = for_model(base.world, model)
        for seed in range(seeds):
            configs.append(
                dataclasses.replace(
                    base,
                    world=world,
                    seed=seed,
                    total_steps=steps,
                    log_every=max(base.sequence_length, steps // 12),
                    threads=1,
                    out_dir=out / model / f"seed{seed}",
                    progress=False,
                )
            )
    return configs


def estimate_per_model(configs: list[DreamerConfig]) -> dict[str, float]:
    """About how long one run of each model in ``configs`` takes here (``estimate_seconds``
    of its first config; the seeds of a model cost the same)."""
    per_model: dict[str, float] = {}
    for config in configs:
        if config.world.model not in per_model:
            per_model[config.world.model] = estimate_seconds(config)
    return per_model


def print_estimate(configs: list[DreamerConfig], workers: int) -> float:
    """Print (and return) about how long the runs take here, from timing the first
    updates of each model."""
    per_model = estimate_per_model(configs)
    total = sum(per_model[config.world.model] for config in configs)
    print(
        "dreamer: estimated "
        + ", ".join(f"{model} {seconds / 60:.0f} min" for model, seconds in per_model.items())
        + f" per run; {total / 60:.0f} min of runs, about {total / 60 / max(1, min(workers, len(configs))):.0f} min "
        f"on {workers} worker(s)",
        flush=True,
    )
    return total


def run(
    configs: list[DreamerConfig], workers: int, random_episodes: int = 20, launcher: str = "local"
) -> tuple[list[Row], list[str]]:
    """The agents' runs, and ``random_episodes`` episodes of each scripted policy."""
    jobs: list = [(name, random_episodes) for name in SCRIPTED if random_episodes > 0] + configs
    return fan_out(_run_job, jobs, workers, launcher=launcher, label=_label)


def _run_job(job) -> list[Row]:
    if isinstance(job, tuple):
        return [scripted_policy(*job, seed=0)]
    return run_one(job)


def _label(job) -> str:
    return f"dreamer {job[0]}" if isinstance(job, tuple) else f"dreamer {job.world.model}/seed{job.seed}"


def write_results(rows: list[Row], final_csv: Path, curves_csv: Path, figure: Path) -> list[Row]:
    """Final scores and curves to their CSVs, objects-scored curves to ``figure``; returns the final rows."""
    return write_final_and_curves(rows, final_csv, curves_csv, lambda final, curves: plot_curves(curves, final, figure))


def format_table(final_rows: list[Row]) -> str:
    return markdown_table(
        final_rows,
        ("model",),
        (
            "final_objects_scored",
            "final_episodes",
            "env_steps",
            "updates",
            "first_image_loss",
            "final_image_loss",
            "final_kl",
            "final_gate_rate",
            "seconds",
        ),
    )


def plot_curves(curve_rows: list[Row], final_rows: list[Row], path: Path) -> None:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for model in sorted({row["model"] for row in curve_rows}):
        rows = [row for row in curve_rows if row["model"] == model]
        for axis, key in zip(axes, ("objects_scored", "image_loss")):
            # Metrics are only logged once training starts, so early steps lack the loss columns.
            points = [(row["env_steps"], as_float(row.get(key))) for row in rows]
            steps = sorted({step for step, value in points if np.isfinite(value)})
            means = [np.mean([value for s, value in points if s == step and np.isfinite(value)]) for step in steps]
            axis.plot(steps, means, marker=".", label=model)
    for row in final_rows:
        if row["model"] in SCRIPTED:
            axes[0].axhline(
                row["final_objects_scored"],
                color="grey",
                linestyle="--" if row["model"] == "random" else ":",
                label=f"{row['model']} policy",
            )
    axes[0].set_ylabel("objects scored per episode")
    axes[1].set_ylabel("reconstruction loss (nats per image)")
    for axis in axes:
        axis.set_xlabel("env steps")
        axis.legend()
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=command_name(), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["vsg", "rssm"], choices=MODELS)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=PRESETS["cpu-small"].total_steps)
    parser.add_argument("--prefill", type=int, default=None, help="env steps of random actions (default: the preset's)")
    parser.add_argument("--random-episodes", type=int, default=20, help="episodes of the random and the oracle policy")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/local/dreamer"))
    args = parser.parse_args(argv)

    configs = make_configs(args.models, args.seeds, args.steps, args.out, prefill=args.prefill)
    print_estimate(configs, args.workers)
    rows, _ = run(configs, args.workers, args.random_episodes)
    final = write_results(rows, args.out / "runs.csv", args.out / "curves.csv", args.out / "objects.png")
    if not final:
        return 1
    print(format_table(final))
    print(f"wrote {args.out}/runs.csv, curves.csv, objects.png and one folder per run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

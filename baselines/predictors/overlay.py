"""Show what a trained predictor believes: its autoregressive predictions over the true
trajectory, and its latent state over time with gate openings and true hidden-factor
changes marked. Saves a PNG of the whole sequence and an mp4 that builds it up.

    python -m baselines.predictors.overlay runs/predictor/checkpoint.pt --index 3 --out videos
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from baselines.predictors import metrics
from baselines.predictors.checkpoint import load_checkpoint
from baselines.predictors.data import window
from baselines.predictors.envs import PREDICTOR_ENVS
from baselines.predictors.splits import load_split
from pomdp_envs.cli_errors import command_name
from pomdp_envs.datasets import Sequences
from pomdp_envs.registration import entry_by_id


def predictor_rollout(checkpoint: str | Path, sequences: Sequences, index: int) -> dict[str, np.ndarray]:
    """Autoregressive predictions, latents and gates of one sequence."""
    model, meta = load_checkpoint(checkpoint)
    one = sequences.select(slice(index, index + 1))
    out = metrics.run(model, one, real_input_prob=0.0, start_steps=meta["start_steps"])
    return {
        "observations": one.observations[0],
        "predictions": out["predictions"][0],
        "latents": out["latents"][0],
        "gate_open": out["gates"][0].max(axis=1) > 0,
        "hidden_changed": one.any_hidden_changed()[0, :-1],
        "start_steps": np.array(meta["start_steps"]),
    }


def draw(rollout: dict[str, np.ndarray], env_id: str, upto: int | None = None):
    """A matplotlib figure of the rollout up to step ``upto`` (all steps when None)."""
    import matplotlib.pyplot as plt

    observations, predictions = rollout["observations"], rollout["predictions"]
    start, num_steps = int(rollout["start_steps"]), len(predictions)
    upto = num_steps if upto is None else upto
    figure, (ax_xy, ax_latent) = plt.subplots(1, 2, figsize=(11, 4.6), dpi=80)
    figure.patch.set_facecolor("white")
    gate_steps = np.flatnonzero(rollout["gate_open"][:upto])
    env = PREDICTOR_ENVS[entry_by_id(env_id).short_name]
    for name, (ix, iy) in env.points.items():
        mask = env.masked_points.get(name)
        real = _masked(observations[: upto + 1, [ix, iy]], mask)
        ax_xy.plot(real[:, 0], real[:, 1], "-o", color="0.6", ms=3, lw=1, label=f"{name}: real" if name else None)
        ax_xy.plot(real[:start, 0], real[:start, 1], "o", color="tab:blue", ms=6, label="inputs given")
        pred = _masked(predictions[:upto, [ix, iy]], mask)
        shades = np.linspace(0.3, 1.0, num_steps)[start - 1 : upto]
        colors = np.stack([np.ones_like(shades), 1.0 - shades, 1.0 - shades], axis=1)
        ax_xy.scatter(pred[start - 1 :, 0], pred[start - 1 :, 1], s=14, c=colors, label="predicted")
        # The model's input at step t: the real observation for t < start, then its own
        # previous prediction; outline the inputs on which a gate opened.
        inputs = np.concatenate([real[:start], pred[start - 1 : upto - 1]])
        opened = inputs[gate_steps[gate_steps < len(inputs)]]
        ax_xy.plot(opened[:, 0], opened[:, 1], "o", mfc="none", mec="black", ms=9, label="gate opened")
    handles, labels = ax_xy.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax_xy.legend(unique.values(), unique.keys(), fontsize=7, loc="best")
    ax_xy.set_title("real (grey), inputs (blue), predictions (red)")
    ax_xy.set_aspect("equal", adjustable="datalim")

    latents = rollout["latents"][:upto] - rollout["latents"][:1]
    ax_latent.plot(np.arange(len(latents)), latents, lw=1.2)
    for step in gate_steps:
        ax_latent.axvline(step, color="black", alpha=0.15, lw=3)
    for step in np.flatnonzero(rollout["hidden_changed"][:upto]):
        ax_latent.axvline(step, color="tab:orange", ls="--", lw=1)
    ax_latent.set_xlim(0, num_steps)
    ax_latent.set_xlabel("step t")
    ax_latent.set_title("latent h_t - h_0; gate openings (grey), true changes (orange)")
    figure.tight_layout()
    return figure


def save_overlay(checkpoint: str | Path, out_dir: str | Path, index: int = 0, fps: float = 10) -> tuple[Path, Path]:
    """Write ``<env>-<core>-seq<index>.png`` and ``.mp4`` for one test sequence."""
    import matplotlib.pyplot as plt

    from pomdp_envs.video import write_mp4

    _, meta = load_checkpoint(checkpoint)
    config = meta["train_config"]
    sequences = load_split(
        config["env"],
        "test",
        int(config["num_test"]),
        int(config["data_seed"]),
        config["cache_dir"] if config["cache_dir"] not in (None, "None") else None,
    )
    steps = PREDICTOR_ENVS[config["env"]].defaults.num_steps
    if sequences.num_steps > steps:  # the length the predictor was trained on
        sequences = window(sequences, 0, steps)
    if not 0 <= index < len(sequences):
        raise ValueError(f"index must lie in [0, {len(sequences) - 1}], got {index}")
    rollout = predictor_rollout(checkpoint, sequences, index)
    env_id = meta["env_id"]
    stem = Path(out_dir) / f"{env_id.split('/')[1]}-{meta['predictor_config']['core']}-seq{index}"
    stem.parent.mkdir(parents=True, exist_ok=True)

    figure = draw(rollout, env_id)
    figure.savefig(stem.with_suffix(".png"))
    plt.close(figure)

    def frames():
        for upto in range(1, len(rollout["predictions"]) + 1):
            figure = draw(rollout, env_id, upto)
            figure.canvas.draw()
            yield np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
            plt.close(figure)

    write_mp4(stem.with_suffix(".mp4"), frames(), fps)
    return stem.with_suffix(".png"), stem.with_suffix(".mp4")


def _masked(points: np.ndarray, mask_value: tuple[float, float] | None) -> np.ndarray:
    points = points.astype(float).copy()
    if mask_value is not None:
        points[np.all(points == mask_value, axis=1)] = np.nan
    return points


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=command_name(), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--index", type=int, default=0, help="which test sequence")
    parser.add_argument("--out", type=Path, default=Path("videos"))
    parser.add_argument("--fps", type=float, default=10)
    args = parser.parse_args(argv)
    for path in save_overlay(args.checkpoint, args.out, args.index, args.fps):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

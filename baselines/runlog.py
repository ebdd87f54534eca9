"""Run logs shared by the training scripts."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pomdp_envs.files import atomic_write, atomic_write_text


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows as CSV, columns in order of first appearance (a missing value is left empty);
    written whole or not at all."""
    keys: list[str] = []
    for row in rows:
        keys.extend(key for key in row if key not in keys)
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, text.getvalue())


def config_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as plain values for a checkpoint: paths become strings, so
    ``torch.load(..., weights_only=True)`` reads it back."""
    return {key: str(value) if isinstance(value, Path) else value for key, value in dataclasses.asdict(config).items()}


def save_figure(figure: Any, path: Path, dpi: int = 100) -> None:
    """Lay out, write and close a matplotlib figure."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    plt.close(figure)


def episode_mean(rows: Sequence[Mapping[str, float]], key: str) -> float:
    """Mean of a per-episode ``key`` over log rows that each average ``row["episodes"]``
    episodes (rows without episodes are skipped); NaN when there are none."""
    episodes = sum(row["episodes"] for row in rows)
    if episodes == 0:
        return float("nan")
    return float(sum(row[key] * row["episodes"] for row in rows if row["episodes"]) / episodes)


class Tracker:
    """TensorBoard event files in ``out_dir`` (``--track``): every numeric column of a
    metrics row as a scalar at ``step``, beside the run's metrics.csv."""

    def __init__(self, out_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(out_dir))

    def write(self, row: Mapping[str, Any], step: int) -> None:
        for key, value in row.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
                self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.writer.close()


def write_run(
    out_dir: Path, rows: Sequence[Mapping[str, Any]], checkpoint: Mapping[str, Any], scores: Mapping[str, Any]
) -> None:
    """A finished run's files: ``metrics.csv``, ``checkpoint.pt`` and ``scores.json``,
    each written whole; ``scores.json`` last, as it marks the run finished."""
    import torch

    write_csv(out_dir / "metrics.csv", rows)
    atomic_write(out_dir / "checkpoint.pt", lambda handle: torch.save(dict(checkpoint), handle))
    atomic_write_text(out_dir / "scores.json", json.dumps(dict(scores), indent=2))


def check_device(device: str) -> None:
    """``ValueError`` when ``device`` names CUDA but torch sees none (before any work)."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but torch sees no CUDA device")


def record_video(env: Any, folder: Path, name_prefix: str) -> Any:
    """``env`` recording episodes to ``folder`` on gymnasium's capped cubic schedule, in a
    wrapper that pickles (a resume checkpoint holds it): its triggers are module functions."""
    import gymnasium as gym

    return gym.wrappers.RecordVideo(env, str(folder), name_prefix=name_prefix, gc_trigger=_every_episode)


def _every_episode(episode: int) -> bool:  # RecordVideo's default garbage collection, as a named function
    return True

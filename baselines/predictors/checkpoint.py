"""A trained predictor on disk: its weights, shapes and what it was trained on."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional

import torch

from baselines.predictors.predictor import Predictor, PredictorConfig
from pomdp_envs.files import atomic_write


def save_checkpoint(
    path: Path,
    model: Predictor,
    env_id: str,
    start_steps: int,
    train_config: dict[str, Any],
    run: Optional[dict[str, Any]] = None,
) -> None:
    """Write ``model`` (its weights moved to the CPU) with the metadata that
    :func:`load_checkpoint` and the planners need: the env id, the steps that see real
    inputs, the training options and the run (seed, lambda, learning rate)."""
    contents = {
        "model_state": {k: v.cpu() for k, v in model.state_dict().items()},
        "predictor_config": dataclasses.asdict(model.config),
        "obs_size": model.obs_size,
        "action_size": model.action_size,
        "env_id": env_id,
        "start_steps": start_steps,
        "train_config": train_config,
        "run": run,
    }
    atomic_write(path, lambda handle: torch.save(contents, handle))


def load_checkpoint(path: str | Path) -> tuple[Predictor, dict]:
    """The trained predictor (in eval mode, on the CPU) and the checkpoint's metadata."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    model = Predictor(data["obs_size"], data["action_size"], PredictorConfig(**data["predictor_config"]))
    model.load_state_dict(data["model_state"])
    model.eval()
    return model, data

"""Scores of a predictor: autoregressive error, gate use, and its latent against the
environment's true hidden factors."""

from __future__ import annotations

import numpy as np
import torch

from baselines.predictor import Predictor
from pomdp_envs.datasets import Sequences

EVENT_WINDOW = 2  # steps of slack when matching gate openings to hidden-factor changes


def as_tensors(sequences: Sequences) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Observations (N, T+1, O) and actions (N, T, A), or None for envs without control."""
    observations = torch.as_tensor(sequences.observations, dtype=torch.float32)
    if sequences.actions.ndim == 2:  # Discrete(1): nothing to condition on
        return observations, None
    return observations, torch.as_tensor(sequences.actions, dtype=torch.float32)


@torch.no_grad()
def run(model: Predictor, sequences: Sequences, real_input_prob: float, start_steps: int) -> dict[str, np.ndarray]:
    """Predictions, latents and gates of ``model`` in eval mode, as numpy arrays."""
    was_training = model.training
    model.eval()
    observations, actions = as_tensors(sequences)
    out = model(observations, actions, real_input_prob=real_input_prob, start_steps=start_steps)
    model.train(was_training)
    return {name: value.numpy() for name, value in out.items()}


def autoregressive_mse(model: Predictor, sequences: Sequences, start_steps: int) -> float:
    """MSE of closed-loop predictions after ``start_steps`` real observations."""
    out = run(model, sequences, real_input_prob=0.0, start_steps=start_steps)
    target = sequences.observations[:, 1:]
    return float(np.mean((out["predictions"][:, start_steps - 1 :] - target[:, start_steps - 1 :]) ** 2))


def gate_openings_per_sequence(gates: np.ndarray) -> float:
    """Mean number of steps per sequence at which any latent dimension updates."""
    return float(np.mean(gates.max(axis=2).sum(axis=1)))


def probe_r2(latents: np.ndarray, targets: np.ndarray, ridge: float = 1e-3) -> float:
    """R^2 of a linear (ridge) probe from latents (N, T, H) to a factor (N, T, ...).

    Fitted on the first half of the sequences and scored on the second half, so a
    probe cannot memorise the sequences it is scored on.
    """
    x = latents.reshape(-1, latents.shape[-1]).astype(np.float64)
    y = targets.reshape(len(x), -1).astype(np.float64)
    half = (len(latents) // 2) * latents.shape[1]
    x = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    fit_x, fit_y, test_x, test_y = x[:half], y[:half], x[half:], y[half:]
    weights = np.linalg.solve(fit_x.T @ fit_x + ridge * np.eye(x.shape[1]), fit_x.T @ fit_y)
    residual = ((test_y - test_x @ weights) ** 2).sum()
    total = ((test_y - test_y.mean(axis=0)) ** 2).sum()
    return float(1.0 - residual / total) if total > 0 else float("nan")


def gate_event_scores(gates: np.ndarray, changed: np.ndarray, start_steps: int) -> dict[str, float]:
    """Precision and recall of "a gate opened at step t" against "a hidden factor changed
    at step t" (both (N, T) bool, index t = the step that shows observation t).

    A gate opening counts as correct if a change happened in the ``EVENT_WINDOW`` steps
    up to it; a change counts as found if a gate opens within ``EVENT_WINDOW`` steps
    after it (the change may only become visible in later observations).
    """
    opened, events = gates.copy(), changed.copy()
    opened[:, :start_steps] = False
    events[:, :start_steps] = False
    steps = opened.shape[1]
    event_before = np.zeros_like(events)
    opened_after = np.zeros_like(opened)
    for lag in range(EVENT_WINDOW + 1):
        event_before[:, lag:] |= events[:, : steps - lag]
        opened_after[:, : steps - lag] |= opened[:, lag:]
    precision = float(event_before[opened].mean()) if opened.any() else float("nan")
    recall = float(opened_after[events].mean()) if events.any() else float("nan")
    return {"gate_precision": precision, "gate_recall": recall}


def latent_scores(model: Predictor, sequences: Sequences, start_steps: int) -> dict[str, float]:
    """Probe R^2 for each hidden factor, and for gated cores gate/event precision and recall.

    Latents come from a run on real inputs; the latent after reading observation t is
    compared with the hidden factors at t.
    """
    out = run(model, sequences, real_input_prob=1.0, start_steps=start_steps)
    latents = out["latents"][:, start_steps:]
    scores = {}
    for name, values in sequences.hidden.items():
        scores[f"probe_r2/{name}"] = probe_r2(latents, values[:, start_steps:-1])
    changed = sequences.any_hidden_changed()[:, :-1]
    if has_gates(model):
        scores.update(gate_event_scores(out["gates"].max(axis=2) > 0, changed, start_steps))
    return scores


def has_gates(model: Predictor) -> bool:
    """Whether the model's core has update gates (GateL0RD); gate metrics need them."""
    return model.config.core == "gatel0rd"

"""Scores of a predictor: autoregressive error, gate use, and its latent against the
environment's true hidden factors."""

from __future__ import annotations

import numpy as np
import torch

from baselines.predictor import Predictor
from pomdp_envs import scoring
from pomdp_envs.datasets import Sequences


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


def gate_event_scores(gates: np.ndarray, changed: np.ndarray, start_steps: int) -> dict[str, float]:
    """Precision, recall and lift of "a gate opened at step t" against "a hidden factor
    changed at step t" (both (N, T) bool), as ``pomdp_envs.scoring.event_scores``
    computes them for any model."""
    scores = scoring.event_scores(gates, changed, start_steps)
    return {"gate_precision": scores["precision"], "gate_recall": scores["recall"], "gate_lift": scores["lift"],
            "event_base_rate": scores["base_rate"]}


def latent_scores(model: Predictor, sequences: Sequences, start_steps: int) -> dict[str, float]:
    """``pomdp_envs.scoring`` probes of each hidden factor (``probe/<name>``: R^2, or
    balanced accuracy for discrete factors), and for gated cores gate/event precision,
    recall and lift.

    Latents come from a run on real inputs; the latent after reading observation t is
    compared with the hidden factors at t.
    """
    out = run(model, sequences, real_input_prob=1.0, start_steps=start_steps)
    scores = scoring.score_latents(out["latents"], sequences, start_steps=start_steps)
    if has_gates(model):
        changed = sequences.any_hidden_changed()[:, :-1]
        scores.update(gate_event_scores(out["gates"].max(axis=2) > 0, changed, start_steps))
    return scores


def has_gates(model: Predictor) -> bool:
    """Whether the model's core has update gates (GateL0RD); gate metrics need them."""
    return model.config.core == "gatel0rd"

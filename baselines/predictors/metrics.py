"""Scores of a predictor: autoregressive error, gate use, and its latent against the
environment's true hidden factors."""

from __future__ import annotations

import numpy as np
import torch

from baselines.predictors.predictor import Predictor
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


def autoregressive_squared_errors(model: Predictor, sequences: Sequences, start_steps: int) -> np.ndarray:
    """(N, T - start_steps + 1, O) squared errors of closed-loop predictions after
    ``start_steps`` real observations."""
    out = run(model, sequences, real_input_prob=0.0, start_steps=start_steps)
    target = sequences.observations[:, 1:]
    return (out["predictions"][:, start_steps - 1 :] - target[:, start_steps - 1 :]) ** 2


def autoregressive_mse(model: Predictor, sequences: Sequences, start_steps: int) -> float:
    """MSE of closed-loop predictions after ``start_steps`` real observations."""
    return float(np.mean(autoregressive_squared_errors(model, sequences, start_steps)))


def gate_openings_per_sequence(gates: np.ndarray) -> float:
    """Mean number of steps per sequence at which any latent dimension updates."""
    return float(np.mean(gates.max(axis=2).sum(axis=1)))


def gate_event_scores(gates: np.ndarray, changed: np.ndarray, start_steps: int) -> dict[str, float]:
    """Precision, recall and lift of "a gate opened at step t" against "a hidden factor
    changed at step t" (both (N, T) bool), as ``pomdp_envs.scoring.event_scores``
    computes them for any model."""
    scores = scoring.event_scores(gates, changed, start_steps)
    return {
        "gate_precision": scores["precision"],
        "gate_recall": scores["recall"],
        "gate_lift": scores["lift"],
        "event_base_rate": scores["base_rate"],
    }


def latent_scores(model: Predictor, sequences: Sequences, start_steps: int) -> dict[str, float]:
    """``pomdp_envs.scoring`` probes of each hidden factor (``probe/<name>``: R^2, or
    balanced accuracy for discrete factors), and for gated cores gate/event precision,
    recall and lift.

    Latents come from a run on real inputs; the latent after reading observation t is
    compared with the hidden factors at t.
    """
    out = run(model, sequences, real_input_prob=1.0, start_steps=start_steps)
    scores = scores_of_latents(out["latents"], out["gates"] if has_gates(model) else None, sequences, start_steps)
    if has_gates(model):
        scores.update(gate_statistics(out["gates"] > 0, start_steps))
    return scores


def scores_of_latents(
    latents: np.ndarray, gates: np.ndarray | None, sequences: Sequences, start_steps: int
) -> dict[str, float]:
    """Probes of each hidden factor from ``latents`` (N, T, H), and with ``gates``
    (N, T, H, GateL0RD's) the gate/event precision, recall and lift, overall and per
    factor: what ``latent_scores`` reports, from a forward pass already made."""
    scores = scoring.score_latents(latents, sequences, start_steps=start_steps)
    if gates is not None:
        opened = gates.max(axis=2) > 0
        scores.update(gate_event_scores(opened, sequences.any_hidden_changed()[:, :-1], start_steps))
        for name, changed in sequences.hidden_changed.items():
            if changed[:, 1:].any():
                scores[f"gate_lift/{name}"] = scoring.event_scores(opened, changed[:, :-1], start_steps)["lift"]
    return scores


#: A latent dimension counts as used when it opens on at least this share of steps.
ACTIVE_DIM_RATE = 0.01


def gate_statistics(gates: np.ndarray, start_steps: int) -> dict[str, float | str]:
    """The GateL0RD paper's gate statistics of binary gate activity ``gates`` (N, T, H),
    steps from ``start_steps`` on: ``gate_rate`` (share of (sequence, step, dimension)
    that open), ``dims_used`` (share of (sequence, dimension) that open at least once),
    plus ``active_dims`` (dimensions opening on at least ``ACTIVE_DIM_RATE`` of the steps)
    and ``gate_rate_per_dim`` (each dimension's rate, as text)."""
    gates = np.asarray(gates, dtype=bool)[:, start_steps:]
    per_dim = gates.mean(axis=(0, 1))
    return {
        "gate_rate": float(gates.mean()),
        "dims_used": float(gates.any(axis=1).mean()),
        "active_dims": float((per_dim >= ACTIVE_DIM_RATE).sum()),
        "gate_rate_per_dim": " ".join(f"{rate:.3f}" for rate in per_dim),
    }


#: Shepherd's observation entry of the sheep's x (see ``pomdp_envs.dynamics.shepherd``).
SHEEP_X_OBS_INDEX = 4


@torch.no_grad()
def sheep_reappearance_error(model: Predictor, sequences: Sequences, start_steps: int) -> float:
    """The GateL0RD paper's sheep-reappearance error on Shepherd: in each sequence where
    the gate opens, the model reads real observations up to the first one with the gate
    open (the sheep still hidden) and its own predictions afterwards; scored is the
    squared error of the sheep's x in the next prediction, the frame in which the sheep
    reappears, averaged over those sequences. NaN when no gate opens."""
    gate_open = np.asarray(sequences.hidden["gate_open"], dtype=bool)
    opens = gate_open.any(axis=1) & ~gate_open[:, 0]
    first_open = gate_open.argmax(axis=1)
    rows = np.flatnonzero(opens & (first_open < sequences.num_steps) & (first_open >= start_steps))
    if rows.size == 0:
        return float("nan")
    was_training = model.training
    model.eval()
    observations, actions = as_tensors(sequences.select(rows))
    steps = torch.arange(sequences.num_steps)
    reads = torch.as_tensor(first_open[rows])
    use_real = steps[None, :] <= reads[:, None]
    out = model(observations, actions, start_steps=start_steps, use_real=use_real)
    model.train(was_training)
    index = torch.arange(len(rows))
    predicted = out["predictions"][index, reads, SHEEP_X_OBS_INDEX]
    actual = observations[index, reads + 1, SHEEP_X_OBS_INDEX]
    return float(torch.mean((predicted - actual) ** 2))


def has_gates(model: Predictor) -> bool:
    """Whether the model's core has update gates (GateL0RD); gate metrics need them."""
    return model.config.core == "gatel0rd"

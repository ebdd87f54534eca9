"""Score any model's latent states against the environments' true hidden factors.

numpy only: latents saved from any framework (torch, JAX, SB3, ...) are arrays.

Alignment: ``latents[:, t]`` is the model's state after it has read observation ``t``,
for ``t = 0 .. L - 1`` with ``L <= T + 1`` for sequences of ``T`` steps; it is compared
with ``hidden[name][:, t]``, and an update indicator ``updates[:, t]`` with the change
events ``hidden_changed[:, t]``.

* :func:`probe_scores`: per hidden factor, a linear probe fitted on the first half of
  the sequences and scored on the second half: R^2 of a ridge regression for continuous
  factors (float arrays), balanced accuracy of a logistic regression for discrete ones
  (integer or bool arrays; one probe per component of a multi-component factor, averaged).
* :func:`event_scores`: precision, recall and lift over the base rate of per-step update
  indicators (gate openings, or :func:`latent_updates` for models without gates) against
  the change events, with a window of ``EVENT_WINDOW`` steps.
* :func:`score_latents` does both for a :class:`~pomdp_envs.datasets.Sequences`.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

EVENT_WINDOW = 2  # steps of slack when matching updates to hidden-factor changes
MAX_PROBE_ROWS = 20_000  # rows a probe is fitted on at most (an even subsample beyond)


class AlignmentError(ValueError):
    """Latents, indicators and hidden factors whose shapes do not line up."""


def probe_scores(latents: np.ndarray, hidden: dict[str, np.ndarray], ridge: float = 1e-3) -> dict[str, float]:
    """``{factor name: score}``: R^2 for continuous factors, balanced accuracy for
    discrete ones, each on held-out sequences (fit on the first half, score on the
    second). ``latents`` is (N, L, H); every hidden array (N, >= L, ...)."""
    latents = _check_latents(latents)
    n, length = latents.shape[:2]
    if n < 2:
        raise AlignmentError(f"need at least 2 sequences to fit and score a probe, got {n}")
    scores = {}
    for name, values in hidden.items():
        values = np.asarray(values)
        if values.ndim < 2 or values.shape[0] != n or values.shape[1] < length:
            raise AlignmentError(
                f"hidden factor {name!r} must have shape ({n}, >= {length}, ...) to match latents "
                f"{tuple(latents.shape)}, got {tuple(values.shape)}"
            )
        targets = values[:, :length]
        if targets.dtype.kind in "biu":
            scores[name] = balanced_accuracy_probe(latents, targets)
        else:
            scores[name] = r2_probe(latents, targets, ridge)
    return scores


def r2_probe(latents: np.ndarray, targets: np.ndarray, ridge: float = 1e-3) -> float:
    """R^2 on the second half of the sequences of a ridge regression from latents
    (N, L, H) to targets (N, L, ...) fitted on the first half."""
    length = latents.shape[1]
    fit_x, test_x = _halves(_features(latents), length)
    y = targets.reshape(latents.shape[0] * length, -1).astype(np.float64)
    fit_y, test_y = _halves(y, length)
    fit_x, fit_y = _subsample(fit_x, fit_y)
    weights = np.linalg.solve(fit_x.T @ fit_x + ridge * np.eye(fit_x.shape[1]), fit_x.T @ fit_y)
    return r2(test_x @ weights, test_y)


def r2(predicted: np.ndarray, targets: np.ndarray) -> float:
    """R^2 of ``predicted`` against ``targets`` (M, ...), every component pooled: 1 minus
    the residual sum of squares over the sum of squares about each component's mean.
    NaN when the targets do not vary."""
    targets = np.asarray(targets, dtype=np.float64).reshape(len(targets), -1)
    predicted = np.asarray(predicted, dtype=np.float64).reshape(targets.shape)
    residual = ((targets - predicted) ** 2).sum()
    total = ((targets - targets.mean(axis=0)) ** 2).sum()
    # Targets that barely vary (spread near float rounding) make the ratio meaningless.
    return float(1.0 - residual / total) if total > 1e-12 * targets.size else float("nan")


def balanced_accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """Mean recall over the classes present in ``labels`` (M,) or (M, K) (components
    scored one by one and averaged); NaN for a component with a single class."""
    labels = np.asarray(labels).reshape(len(labels), -1)
    predicted = np.asarray(predicted).reshape(labels.shape)
    scores = []
    for component in range(labels.shape[1]):
        truth, guess = labels[:, component], predicted[:, component]
        classes = np.unique(truth)
        if len(classes) < 2:
            continue
        scores.append(float(np.mean([np.mean(guess[truth == c] == c) for c in classes])))
    return float(np.mean(scores)) if scores else float("nan")


def steps_since_change(changed: np.ndarray) -> np.ndarray:
    """(N, L) int: steps since the last True in each row of ``changed`` (N, L), counting
    the sequence's start as a change (0 at a change or at t = 0)."""
    changed = np.asarray(changed, dtype=bool).copy()
    changed[:, 0] = True
    index = np.arange(changed.shape[1])
    last = np.maximum.accumulate(np.where(changed, index, 0), axis=1)
    return index - last


def balanced_accuracy_probe(latents: np.ndarray, targets: np.ndarray, ridge: float = 1e-2) -> float:
    """Balanced accuracy on the second half of the sequences of a one-vs-rest logistic
    regression from latents (N, L, H) to integer labels (N, L) or (N, L, K) fitted on
    the first half; K components are probed one by one and averaged. NaN where the
    fitting half shows a single class."""
    length = latents.shape[1]
    labels = targets.reshape(latents.shape[0] * length, -1).astype(np.int64)
    fit_x, test_x = _halves(_features(latents), length)
    scores = []
    for component in range(labels.shape[1]):
        fit_y, test_y = _halves(labels[:, component], length)
        classes = np.unique(fit_y)
        if len(classes) < 2:
            scores.append(float("nan"))
            continue
        x, y = _subsample(fit_x, fit_y)
        logits = np.stack([test_x @ _logistic_fit(x, (y == c).astype(np.float64), ridge) for c in classes], 1)
        predicted = classes[np.argmax(logits, axis=1)]
        recalls = [np.mean(predicted[test_y == c] == c) for c in np.unique(test_y)]
        scores.append(float(np.mean(recalls)))
    finite = [s for s in scores if not math.isnan(s)]
    return float(np.mean(finite)) if finite else float("nan")


def _logistic_fit(x: np.ndarray, y: np.ndarray, ridge: float, iterations: int = 25) -> np.ndarray:
    """Weights of an L2-regularised logistic regression (Newton's method)."""
    weights = np.zeros(x.shape[1])
    penalty = ridge * len(x) * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0  # the intercept is not shrunk
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ weights, -30, 30)))
        gradient = x.T @ (p - y) + penalty @ weights
        hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hessian + 1e-9 * np.eye(len(weights)), gradient)
        weights -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return weights


def event_scores(
    updates: np.ndarray, events: np.ndarray, start_steps: int = 0, window: int = EVENT_WINDOW
) -> dict[str, float]:
    """Precision, recall, base rate and lift of update indicators against change events,
    both (N, L) bool with index t the step that shows observation t.

    An update counts as correct if an event happened in the ``window`` steps up to it;
    an event counts as found if an update follows within ``window`` steps (a change may
    show only in later observations). The base rate is the share of steps that have an
    event in the window up to them: the precision of updates placed at random; lift is
    precision / base rate. Steps before ``start_steps`` are ignored.
    """
    updates, events = np.asarray(updates, dtype=bool), np.asarray(events, dtype=bool)
    if updates.ndim != 2 or updates.shape != events.shape:
        raise AlignmentError(
            f"updates must have the events' shape (N, L) = {tuple(events.shape)}, got {tuple(updates.shape)}"
        )
    opened, happened = updates.copy(), events.copy()
    opened[:, :start_steps] = False
    happened[:, :start_steps] = False
    steps = opened.shape[1]
    event_before = np.zeros_like(happened)
    opened_after = np.zeros_like(opened)
    for lag in range(window + 1):
        event_before[:, lag:] |= happened[:, : steps - lag]
        opened_after[:, : steps - lag] |= opened[:, lag:]
    precision = float(event_before[opened].mean()) if opened.any() else float("nan")
    recall = float(opened_after[happened].mean()) if happened.any() else float("nan")
    base_rate = float(event_before[:, start_steps:].mean()) if steps > start_steps else float("nan")
    lift = precision / base_rate if base_rate > 0 else float("nan")
    return {
        "precision": precision,
        "recall": recall,
        "base_rate": base_rate,
        "lift": lift,
        "updates_per_sequence": float(opened.sum(axis=1).mean()),
    }


def latent_updates(latents: np.ndarray, threshold: float) -> np.ndarray:
    """(N, L) bool: the latent moved by more than ``threshold`` (Euclidean) from the
    previous step; False at t = 0. For models without update gates."""
    latents = _check_latents(latents)
    moved = np.zeros(latents.shape[:2], dtype=bool)
    moved[:, 1:] = np.linalg.norm(np.diff(latents, axis=1), axis=2) > threshold
    return moved


def score_latents(
    latents: np.ndarray, sequences: Any, updates: Optional[np.ndarray] = None, start_steps: int = 0
) -> dict[str, float]:
    """Probe scores (``probe/<factor>``) and, with ``updates`` (N, L), event scores
    (``events/<score>``) of latents (N, L, H) against a ``Sequences`` of T steps
    (L <= T + 1). Steps before ``start_steps`` are left out of both."""
    latents = _check_latents(latents)
    n, length = latents.shape[:2]
    total = sequences.observations.shape[1]
    if n != len(sequences) or length > total:
        raise AlignmentError(
            f"latents must have shape ({len(sequences)}, L <= {total}, H) for these sequences, "
            f"got {tuple(latents.shape)}"
        )
    if not 0 <= start_steps < length:
        raise AlignmentError(f"start_steps must lie in [0, {length - 1}], got {start_steps}")
    hidden = {name: np.asarray(values)[:, start_steps:length] for name, values in sequences.hidden.items()}
    scores = {f"probe/{name}": value for name, value in probe_scores(latents[:, start_steps:], hidden).items()}
    if updates is not None:
        events = sequences.any_hidden_changed()[:, :length]
        updates = np.asarray(updates)
        if updates.shape != (n, length):
            raise AlignmentError(
                f"updates must have shape ({n}, {length}) like the latents, got {tuple(updates.shape)}"
            )
        scores.update({f"events/{k}": v for k, v in event_scores(updates, events, start_steps).items()})
    return scores


def format_table(scores: dict[str, float]) -> str:
    """The scores as a two-column Markdown table."""
    lines = ["| score | value |", "|---|---:|"]
    lines += [f"| {name} | {value:.3f} |" for name, value in scores.items()]
    return "\n".join(lines)


def _check_latents(latents: Any) -> np.ndarray:
    latents = np.asarray(latents)
    if latents.ndim != 3 or latents.dtype.kind not in "fiub":
        raise AlignmentError(f"latents must be a numeric array of shape (N, L, H), got shape {latents.shape}")
    return latents


def _features(latents: np.ndarray) -> np.ndarray:
    """Rows of latents standardised with the fitting half's statistics, with an
    intercept column."""
    x = latents.reshape(-1, latents.shape[-1]).astype(np.float64)
    fit, _ = _halves(x, latents.shape[1])
    spread = fit.std(axis=0)
    x = (x - fit.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    return np.concatenate([x, np.ones((len(x), 1))], axis=1)


def _halves(rows: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows (sequence-major, ``length`` per sequence) of the first and the second half
    of the sequences."""
    cut = (len(rows) // length // 2) * length
    return rows[:cut], rows[cut:]


def _subsample(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most MAX_PROBE_ROWS evenly spaced rows: a probe's fit costs rows x H^2."""
    if len(x) <= MAX_PROBE_ROWS:
        return x, y
    keep = np.linspace(0, len(x) - 1, MAX_PROBE_ROWS).astype(np.int64)
    return x[keep], y[keep]

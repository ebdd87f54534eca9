"""Does an environment need memory of its hidden factors? A test with controls.

For every hidden factor of an env, estimators are trained (supervised, the true factor as
label) to read it from what an agent sees, and scored on held-out sequences with
``pomdp_envs.scoring``'s measures (R^2 for continuous factors, balanced accuracy for
discrete ones):

* memoryless: the current observation (and previous action) only;
* window: the last ``window`` steps;
* recurrent: the whole history (a GRU);
* fully observable: the window estimator on ``pomdp_envs.wrappers.FullyObservable``'s
  variant, the ceiling (a window, since one frame of a full image shows no velocity).

On images the memoryless estimator trains the frame encoder, which the others read
frozen (``baselines.validation.estimators``). Every estimator stops early on held-out
training sequences.

The memory gap of a factor is the recurrent score minus the memoryless one, per seed; it
is reported overall, by the steps since the factor last changed (0-2, 3-10, more than
10), and by the steps since it was last readable from the view: since the memoryless
estimator last read it right (the whole factor: every discrete component, or a mean
squared error under ``READABLE_ERROR`` of its spread), or "never" before that first
happens in a sequence. Those bins pick steps where the memoryless estimate is wrong, so
its score there is low by construction: they show where the gap lies and how well memory
recovers the factor there, and decide no verdict. Memory shows where the current observation no longer carries the
factor (the sheep waiting behind the wall, the Memory cue left behind in the start room),
while a factor that a short window recovers (a velocity from two positions) shows the
window closing the gap. The verdict "needs memory" needs
at least 3 seeds and a gap larger than ``margin`` at p < 0.05 (one-sided t-test over
seeds); with fewer seeds it is inconclusive. "No memory gap" needs the control too: some
estimator (the fully observable one, or one on the agent's view, which can show what the
full view does not draw, such as MiniGrid's carried object) must read the factor
(``CEILING``), else the estimators, not the env, are what the table shows, and the gap
must be shown below the margin (p < 0.05, one-sided), else the seeds disagree too much
to tell. An env whose hidden factors no estimator could name (ShapeHerd's object slots)
gives validation other factors through its registry entry's ``validation_factors``. A factor never flagged as changing (a continuous one)
counts its steps since change from the sequence's start.

    pomdp-envs validate pomdp_envs/RobotRemoteControl-v0 --seeds 3
    python -m baselines.validation pomdp_envs/Shepherd-v0 --budget quick

Without ``--policy`` the env's validation policy collects the data (its registry
entry's ``validation_policy``: the paper's data policy or a solver with random actions
where one exists, else uniform random actions).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from typing import Any, Optional

import gymnasium as gym
import numpy as np
import torch

from baselines.validation.estimators import EstimatorConfig, estimate, train_estimator
from pomdp_envs.cli_errors import OneLineArgumentParser, positive_int, run_command
from pomdp_envs.datasets import Sequences, collect_sequences
from pomdp_envs.policies import make_policy, policy_names
from pomdp_envs.registration import find_entry, load_entry_point
from pomdp_envs.scoring import balanced_accuracy, r2, steps_since_change
from pomdp_envs.wrappers.fully_observable import FullyObservable, fully_observed_sequences

#: Steps since the factor last changed: the bins the gap is reported in.
BINS = ((0, 2), (3, 10), (11, None))
#: Steps since the factor was last readable from the view (-1: never yet in the sequence).
SEEN_BINS = ((1, 10), (11, None), (-1, -1))
#: A continuous factor is readable at a step where the memoryless estimate's mean squared
#: error is below this share of the factor's variance (R^2 above 0.9 there).
READABLE_ERROR = 0.1
#: Budgets: sequences to train on, to score on, and the most updates of an estimator.
BUDGETS = {"quick": (256, 128, 500), "standard": (1024, 256, 2000)}
_TEST_SEED_OFFSET = 10_000_000  # test episodes never share a seed with training ones
LARGE_FRAME_BATCH = 64  # frames per update of the memoryless estimator on large images


@dataclasses.dataclass(frozen=True)
class ValidationConfig:
    env_id: str
    seeds: int = 3
    budget: str = "standard"  # a key of BUDGETS
    num_steps: Optional[int] = None  # steps per sequence; None: the env's time limit, at most 100
    policy: Optional[str] = None  # a policy name of the env; None: its validation policy
    window: int = 4
    margin: float = 0.05  # the smallest gap that counts as needing memory
    data_seed: int = 0

    def check(self) -> None:
        if self.budget not in BUDGETS:
            raise ValueError(f"budget must be one of {sorted(BUDGETS)}, got {self.budget!r}")
        if self.seeds < 1 or self.window < 2:
            raise ValueError("seeds must be >= 1 and window >= 2")
        names = policy_names(self.env_id)
        if self.data_policy() not in names:
            raise ValueError(f"{self.env_id} has no policy {self.policy!r}; choose from {names}")

    def data_policy(self) -> str:
        """The policy that collects the sequences: ``policy``, or the env's validation policy."""
        if self.policy is not None:
            return self.policy
        entry = find_entry(self.env_id)
        return "random" if entry is None else entry.validation_policy

    def steps(self) -> int:
        if self.num_steps is not None:
            return self.num_steps
        spec = gym.spec(self.env_id)
        return min(spec.max_episode_steps or 100, 100)


def collect(config: ValidationConfig, split: str, fully_observable: bool = False) -> Sequences:
    """The train or test sequences, partial or fully observed (the same episodes)."""
    num_train, num_test, _ = BUDGETS[config.budget]
    size = num_train if split == "train" else num_test
    seed = config.data_seed + (0 if split == "train" else _TEST_SEED_OFFSET)
    policy = make_policy(config.env_id, config.data_policy(), seed=seed)
    # The registered envs run their full length (their early ends switched off); a user's
    # env whose episodes still end early keeps only the sequences that do not.
    kwargs: dict[str, Any] = {"num_envs": min(64, size), "drop_early_ends": True}
    if fully_observable and not _vector_observations(config.env_id):
        kwargs.update(vectorization_mode="sync", wrappers=[FullyObservable])
    sequences = collect_sequences(config.env_id, policy, size, config.steps(), seed, **kwargs)
    if fully_observable and _vector_observations(config.env_id):
        sequences = fully_observed_sequences(sequences)
    return sequences


def _vector_observations(env_id: str) -> bool:
    env = gym.make(env_id)
    flat = isinstance(env.observation_space, gym.spaces.Box) and len(env.observation_space.shape) == 1
    own_view = hasattr(env.unwrapped, "full_observation")
    env.close()
    return flat and not own_view


def factor_score(predicted: np.ndarray, truth: np.ndarray, discrete: bool) -> float:
    return balanced_accuracy(predicted, truth) if discrete else r2(predicted, truth)


def score_estimates(
    predicted: dict[str, np.ndarray],
    test: Sequences,
    discrete: dict[str, bool],
    memoryless: Optional[dict[str, np.ndarray]] = None,
) -> dict[str, dict[str, float]]:
    """Per factor: the score over all steps ("all"), in each bin of steps since the
    factor last changed, and, given the memoryless estimates of the same steps, in each
    bin of steps since it was last readable ("seen ..."); NaN where a bin holds too few
    steps or one class."""
    scores: dict[str, dict[str, float]] = {}
    for name, truth in test.hidden.items():
        since = steps_since_change(test.hidden_changed[name]).reshape(-1)
        flat_truth = truth.reshape(since.size, -1)
        flat_predicted = predicted[name].reshape(since.size, -1)
        scores[name] = {"all": factor_score(flat_predicted, flat_truth, discrete[name])}
        parts = [(bin_label(low, high), _in_bin(since, low, high)) for low, high in BINS]
        if memoryless is not None:
            seen = steps_since_readable(readable(memoryless[name], truth, discrete[name])).reshape(-1)
            parts += [(seen_label(low, high), _in_bin(seen, low, high)) for low, high in SEEN_BINS]
        for label, rows in parts:
            enough = rows.sum() >= 20
            scores[name][label] = (
                factor_score(flat_predicted[rows], flat_truth[rows], discrete[name]) if enough else float("nan")
            )
    return scores


def _in_bin(values: np.ndarray, low: int, high: Optional[int]) -> np.ndarray:
    return (values >= low) & (values <= (high if high is not None else max(values.max(), low)))


def bin_label(low: int, high: Optional[int]) -> str:
    return f"{low}-{high}" if high is not None else f">{low - 1}"


def seen_label(low: int, high: Optional[int]) -> str:
    return "seen never" if low < 0 else f"seen {bin_label(low, high)}"


def readable(memoryless: np.ndarray, truth: np.ndarray, discrete: bool) -> np.ndarray:
    """(N, T + 1) bool: the memoryless estimate of the whole factor is right at the step
    (every component of a discrete factor; a continuous one within ``READABLE_ERROR``)."""
    n, steps = truth.shape[:2]
    estimate, truth = memoryless.reshape(n, steps, -1), truth.reshape(n, steps, -1)
    if discrete:
        return np.all(estimate == truth, axis=-1)
    spread = truth.reshape(n * steps, -1).var(0) + 1e-12
    return (((estimate - truth) ** 2) / spread).mean(-1) < READABLE_ERROR


def steps_since_readable(readable_steps: np.ndarray) -> np.ndarray:
    """(N, T + 1) steps since the last readable step (0 where readable now), -1 before
    the first one."""
    since = np.full(readable_steps.shape, -1, dtype=np.int64)
    last = np.full(readable_steps.shape[0], -1, dtype=np.int64)
    for t in range(readable_steps.shape[1]):
        last = np.where(readable_steps[:, t], t, last)
        since[:, t] = np.where(last >= 0, t - last, -1)
    return since


def with_factors(sequences: Sequences, to_factors, env: gym.Env) -> tuple[Sequences, gym.spaces.Dict]:
    """``sequences`` with the hidden factors that ``to_factors`` (a registry entry's
    ``validation_factors``) makes of theirs, and those factors' space. A factor kept by
    name keeps its change flags; a new one changes where its value does."""
    hidden, space = to_factors(sequences.hidden, env)
    changed = {}
    for name, values in hidden.items():
        if name in sequences.hidden_changed:
            changed[name] = sequences.hidden_changed[name]
            continue
        flat = values.reshape(*values.shape[:2], -1)
        changed[name] = np.zeros(values.shape[:2], dtype=bool)
        changed[name][:, 1:] = np.any(flat[:, 1:] != flat[:, :-1], axis=-1)
    return dataclasses.replace(sequences, hidden=hidden, hidden_changed=changed), space


def validate(config: ValidationConfig, say=print) -> list[dict[str, Any]]:
    """One row per hidden factor: each estimator's score (mean over seeds), the memory
    gap with its 95 % interval, the gap per bin, the p-value and the verdict."""
    config.check()
    env = gym.make(config.env_id)
    hidden_space, action_space = env.get_wrapper_attr("hidden_space"), env.action_space
    start = time.perf_counter()
    data = {(split, full): collect(config, split, full) for split in ("train", "test") for full in (False, True)}
    entry = find_entry(config.env_id)
    if entry is not None and entry.validation_factors is not None:
        to_factors = load_entry_point(entry.validation_factors)
        for key, sequences in data.items():
            data[key], hidden_space = with_factors(sequences, to_factors, env)
    env.close()
    discrete = {name: not isinstance(space, gym.spaces.Box) for name, space in hidden_space.spaces.items()}
    # Frames per update of an image encoder: fewer for large frames (ShapeHerd's 64x64).
    shape = env.observation_space.shape or ()
    frame_batch = LARGE_FRAME_BATCH if len(shape) == 3 and min(shape[:2]) >= 32 else EstimatorConfig.frame_batch
    _, _, updates = BUDGETS[config.budget]
    say(f"collected {len(data['train', False])} + {len(data['test', False])} sequences of {config.steps()} steps")
    kinds = ("current", "window", "recurrent", "fully_observable")
    scores: dict[str, list[dict[str, dict[str, float]]]] = {kind: [] for kind in kinds}
    for seed in range(config.seeds):
        settings = dict(window=config.window, updates=updates, frame_batch=frame_batch, seed=seed)

        def trained(kind: str, full: bool, encoder=None, features=None):
            estimator = EstimatorConfig(kind=kind, **settings)
            began = time.perf_counter()
            model, codec = train_estimator(
                estimator, data["train", full], hidden_space, action_space, encoder, features
            )
            view = "full view" if full else "view"
            say(
                f"seed {seed}: {kind} on the {view}, {model.trained_updates} updates, {time.perf_counter() - began:.0f} s"
            )
            return model, codec

        predicted = {}
        memoryless, codec = trained("current", False)
        # The window and recurrent estimators read the memoryless one's frozen encoder:
        # its features of every frame, computed once (large frames cost seconds to encode).
        with torch.no_grad():
            train_features, test_features = (
                memoryless.encode(torch.as_tensor(data[split, False].observations)) for split in ("train", "test")
            )
        predicted["current"] = estimate(memoryless, codec, data["test", False], action_space, features=test_features)
        for kind in ("window", "recurrent"):
            model, codec = trained(kind, False, memoryless.encoder, train_features)
            predicted[kind] = estimate(model, codec, data["test", False], action_space, features=test_features)
        model, codec = trained("window", True)  # on images it trains its memoryless encoder first
        predicted["fully_observable"] = estimate(model, codec, data["test", True], action_space)
        for kind in kinds:
            test = data["test", kind == "fully_observable"]
            scores[kind].append(score_estimates(predicted[kind], test, discrete, predicted["current"]))
        say(f"seed {seed}: estimators trained and scored ({time.perf_counter() - start:.0f} s)")
    return [_factor_row(config, name, discrete[name], scores) for name in hidden_space.spaces]


def _factor_row(config: ValidationConfig, name: str, discrete: bool, scores: dict) -> dict[str, Any]:
    def per_seed(kind: str, part: str = "all") -> np.ndarray:
        # A part missing (no memoryless estimates given, so no "seen" bins) scores NaN.
        return np.array([seed_scores[name].get(part, math.nan) for seed_scores in scores[kind]])

    gaps = per_seed("recurrent") - per_seed("current")
    window_gaps = per_seed("recurrent") - per_seed("window")
    row: dict[str, Any] = {
        "env": config.env_id,
        "factor": name,
        "measure": "balanced accuracy" if discrete else "R^2",
        "seeds": config.seeds,
        "policy": config.data_policy(),
        "memoryless": _mean(per_seed("current")),
        f"window{config.window}": _mean(per_seed("window")),
        "recurrent": _mean(per_seed("recurrent")),
        "fully_observable": _mean(per_seed("fully_observable")),
        "gap": _mean(gaps),
        "gap_ci95": _half_width(gaps),
        "window_gap": _mean(window_gaps),
        # Every estimator's overall score per seed (JSON), so a verdict can be decided anew
        # without training again.
        "seed_scores": json.dumps({kind: [float(v) for v in per_seed(kind)] for kind in scores}),
    }
    for label in [bin_label(*bounds) for bounds in BINS] + [seen_label(*bounds) for bounds in SEEN_BINS]:
        row[f"gap_{label}"] = _mean(per_seed("recurrent", label) - per_seed("current", label))
    row["p"] = _p_above(gaps, config.margin)
    view_gaps = per_seed("fully_observable") - per_seed("current")
    best = max(
        (row[key] for key in ("memoryless", f"window{config.window}", "recurrent", "fully_observable")), key=_rank
    )
    row["verdict"] = _verdict(gaps, window_gaps, view_gaps, best, row["measure"], config)
    return row


def _rank(score: float) -> float:
    return score if np.isfinite(score) else -math.inf


def _mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _half_width(values: np.ndarray) -> float:
    """Half-width of the 95 % t interval of the mean (NaN with fewer than 2 values)."""
    from scipy import stats

    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, finite.size - 1) * finite.std(ddof=1) / math.sqrt(finite.size))


def _p_above(values: np.ndarray, margin: float) -> float:
    """One-sided p of a t-test that the mean exceeds ``margin``."""
    from scipy import stats

    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return float("nan")
    if np.ptp(finite) < 1e-12:  # no spread: the t statistic is undefined, the answer is not
        return 0.0 if finite.mean() > margin else 1.0
    return float(stats.ttest_1samp(finite, margin, alternative="greater").pvalue)


#: The control on the estimators: some estimator (in full view, or on the agent's view)
#: must read a factor at least this well (R^2, or balanced accuracy) before a missing gap
#: says anything about the env.
CEILING = {"R^2": 0.5, "balanced accuracy": 0.75}


def _verdict(
    gaps: np.ndarray,
    window_gaps: np.ndarray,
    view_gaps: np.ndarray,
    best: float,
    measure: str,
    config: ValidationConfig,
) -> str:
    """``gaps``: recurrent minus memoryless per seed; ``window_gaps``: recurrent minus
    window; ``view_gaps``: fully observable minus memoryless (what the view lacks);
    ``best``: the best estimator's mean score (the control)."""
    finite = gaps[np.isfinite(gaps)]
    if finite.size == 0:
        return "not scored (the factor does not vary in the test sequences)"
    if finite.size < 3:
        return "inconclusive (fewer than 3 seeds)"
    if _p_above(gaps, config.margin) < 0.05:
        if _p_above(window_gaps, config.margin) < 0.05:
            return f"needs memory beyond the last {config.window} steps"
        return f"needs memory (the last {config.window} steps not shown to fall short)"
    if not best >= CEILING[measure]:
        return "inconclusive (no estimator reads it, even in full view, at this budget)"
    if _p_above(view_gaps, config.margin) < 0.05:
        return "inconclusive (the view lacks it, but the recurrent estimator does not recover it at this budget)"
    if _p_above(-gaps, -config.margin) < 0.05:  # the gap is shown to stay below the margin
        return "no memory gap (the current view carries it)"
    return "inconclusive (the gap varies between seeds: shown neither above nor below the margin)"


def format_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    window = next(key for key in rows[0] if key.startswith("window") and key != "window_gap")
    bins = [f"gap_{bin_label(low, high)}" for low, high in BINS]
    seen = [f"gap_{seen_label(low, high)}" for low, high in SEEN_BINS]
    header = ["factor", "measure", "memoryless", window, "recurrent", "fully observable", "gap (95 % CI)"]
    header += [f"gap, {b[4:]} steps since change" for b in bins]
    header += [f"gap, seen {b[9:]} steps ago" if "never" not in b else "gap, not yet seen" for b in seen]
    header += ["p (gap > margin)", "verdict"]
    bins += seen
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["factor"], row["measure"]]
        cells += [_fmt(row[key]) for key in ("memoryless", window, "recurrent", "fully_observable")]
        cells.append(f"{_fmt(row['gap'])} ± {_fmt(row['gap_ci95'])}")
        cells += [_fmt(row[b]) for b in bins]
        cells += [_fmt(row["p"]), row["verdict"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.3f}"


def main(argv: Optional[list[str]] = None) -> int:
    parser = OneLineArgumentParser(
        prog="pomdp-envs validate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("env_id", help="a registered id whose info follows the hidden-factor protocol")
    parser.add_argument("--seeds", type=positive_int, default=3, help="estimator seeds (3 or more for a verdict)")
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="standard")
    parser.add_argument("--steps", type=positive_int, help="steps per sequence (default: the time limit, <= 100)")
    parser.add_argument(
        "--policy", help="the policy that collects the sequences (default: the env's validation policy)"
    )
    parser.add_argument("--window", type=int, default=4, help="steps the window estimator sees (>= 2)")
    parser.add_argument("--margin", type=float, default=0.05, help="smallest gap that counts")
    args = parser.parse_args(argv)

    def go() -> int:
        torch.set_num_threads(1)
        config = ValidationConfig(
            args.env_id, args.seeds, args.budget, args.steps, args.policy, args.window, args.margin
        )
        rows = validate(config, say=lambda line: print(line, file=sys.stderr, flush=True))
        print(
            f"# {args.env_id}: memory gaps of its hidden factors ({config.seeds} seeds, budget {config.budget}, "
            f"policy {config.data_policy()})"
        )
        print(format_table(rows))
        return 0

    return run_command("pomdp-envs validate", go)

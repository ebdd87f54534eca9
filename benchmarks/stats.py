"""Verdicts on the papers' claims from runs over seeds, with scipy's tests.

Every verdict needs at least ``MIN_SEEDS`` runs per group; with fewer it is
*inconclusive* and says so. Otherwise a claim is *supported* when the data reject the
opposite at ``ALPHA`` (one-sided), and *not supported* when they do not; a claim the data
contradict significantly says that too.

* Prediction errors and gate statistics: Welch's t-test (``scipy.stats.ttest_ind`` with
  unequal variances), one-sample t-tests against a stated level, Spearman's rank
  correlation for trends, a one-way ANOVA for "similar".
* RL scores (success rates, objects per episode) over few seeds: a 95 % bootstrap
  interval of the difference of means, resampling each group's seeds
  (``scipy.stats.bootstrap``, percentile method).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

ALPHA = 0.05
MIN_SEEDS = 3
SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "**not supported**", "inconclusive"
BOOTSTRAP_RESAMPLES = 10_000


@dataclasses.dataclass(frozen=True)
class Verdict:
    verdict: str
    measured: str  # the numbers behind it, for the report


def finite(values: Sequence[float]) -> np.ndarray:
    array = np.asarray([value for value in values if value is not None], dtype=float)
    return array[np.isfinite(array)]


def mean_stderr(values: Sequence[float]) -> str:
    """``mean ± standard error (n)`` of the finite values."""
    array = finite(values)
    if array.size == 0:
        return "-"
    text = _number(array.mean())
    if array.size > 1:
        text += f" ± {_number(array.std(ddof=1) / np.sqrt(array.size))}"
    return f"{text} (n={array.size})"


def _number(x: float) -> str:
    return f"{x:.2e}" if 0 < abs(x) < 0.01 or abs(x) >= 1e4 else f"{x:.3f}"


def _too_few(groups: dict[str, np.ndarray]) -> str | None:
    short = [f"{name} {values.size}" for name, values in groups.items() if values.size < MIN_SEEDS]
    return f"fewer than {MIN_SEEDS} seeds ({', '.join(short)})" if short else None


def _listing(groups: dict[str, np.ndarray]) -> str:
    return "; ".join(f"{name} {mean_stderr(values)}" for name, values in groups.items())


def better_than(
    ours: tuple[str, Sequence[float]], others: dict[str, Sequence[float]], lower_is_better: bool
) -> Verdict:
    """Is ``ours`` better than every one of ``others`` (Welch's t-test, one-sided)?"""
    from scipy import stats

    name, mine = ours[0], finite(ours[1])
    theirs = {other: finite(values) for other, values in others.items()}
    groups = {name: mine, **theirs}
    if (reason := _too_few(groups)) is not None or not theirs:
        return Verdict(INCONCLUSIVE, f"{_listing(groups)}: {reason or 'nothing to compare with'}")
    worst_p, contradicted, parts = 0.0, [], []
    for other, values in theirs.items():
        difference = mine.mean() - values.mean()
        stderr = np.hypot(mine.std(ddof=1) / np.sqrt(mine.size), values.std(ddof=1) / np.sqrt(values.size))
        claimed = "less" if lower_is_better else "greater"
        opposite = "greater" if lower_is_better else "less"
        p = float(stats.ttest_ind(mine, values, equal_var=False, alternative=claimed).pvalue)
        p_opposite = float(stats.ttest_ind(mine, values, equal_var=False, alternative=opposite).pvalue)
        worst_p = max(worst_p, p if np.isfinite(p) else 1.0)
        if p_opposite < ALPHA:
            contradicted.append(other)
        parts.append(f"{name} − {other} = {_number(difference)} ± {_number(stderr)}, p = {p:.3g}")
    verdict = SUPPORTED if worst_p < ALPHA else NOT_SUPPORTED
    if contradicted:
        verdict += f" ({', '.join(contradicted)} significantly better)"
    return Verdict(verdict, f"{_listing(groups)}. Welch: " + "; ".join(parts))


def above(name: str, values: Sequence[float], level: float, what: str) -> Verdict:
    """Is the mean of ``values`` above ``level`` (one-sample t-test, one-sided)?"""
    from scipy import stats

    array = finite(values)
    if (reason := _too_few({name: array})) is not None:
        return Verdict(INCONCLUSIVE, f"{what} {mean_stderr(array)}: {reason}")
    p = float(stats.ttest_1samp(array, level, alternative="greater").pvalue)
    verdict = SUPPORTED if p < ALPHA else NOT_SUPPORTED
    return Verdict(verdict, f"{name} {what} {mean_stderr(array)} vs {level:g}: t-test p = {p:.3g}")


def decreasing(x: Sequence[float], y: Sequence[float], what: str) -> Verdict:
    """Does ``y`` fall as ``x`` rises (Spearman's rank correlation, one-sided)?"""
    from scipy import stats

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    levels = np.unique(x)
    counts = {f"{level:g}": int(np.sum(x == level)) for level in levels}
    groups = {f"{what} at {level:g}": y[x == level] for level in levels}
    if (reason := _too_few(groups)) is not None or levels.size < 3:
        return Verdict(INCONCLUSIVE, f"{_listing(groups)}: {reason or 'fewer than 3 levels'} {counts}")
    result = stats.spearmanr(x, y, alternative="less")
    verdict = SUPPORTED if result.pvalue < ALPHA else NOT_SUPPORTED
    return Verdict(verdict, f"{_listing(groups)}. Spearman rho = {result.statistic:.2f}, p = {result.pvalue:.3g}")


def similar(groups: dict[str, Sequence[float]]) -> Verdict:
    """Are the groups' means alike: no difference a one-way ANOVA detects at ``ALPHA``.
    A weak test with few seeds: it is a failure to find a difference."""
    from scipy import stats

    arrays = {name: finite(values) for name, values in groups.items()}
    if (reason := _too_few(arrays)) is not None:
        return Verdict(INCONCLUSIVE, f"{_listing(arrays)}: {reason}")
    p = float(stats.f_oneway(*arrays.values()).pvalue)
    verdict = SUPPORTED if p >= ALPHA else NOT_SUPPORTED
    return Verdict(verdict, f"{_listing(arrays)}. ANOVA p = {p:.3g}")


def all_of(*verdicts: Verdict) -> Verdict:
    """One verdict for a claim made of parts: supported if every part is, inconclusive
    if a part is and none fails."""
    names = [v.verdict for v in verdicts]
    if any(name.startswith(NOT_SUPPORTED) for name in names):
        verdict = NOT_SUPPORTED
    elif INCONCLUSIVE in names:
        verdict = INCONCLUSIVE
    else:
        verdict = SUPPORTED
    return Verdict(verdict, " | ".join(v.measured for v in verdicts))


def bootstrap_difference(
    ours: tuple[str, Sequence[float]],
    other: tuple[str, Sequence[float]],
    higher_is_better: bool = True,
    non_inferior: bool = False,
    margin: float = 0.0,
    seed: int = 0,
) -> Verdict:
    """RL scores: the 95 % bootstrap interval of mean(ours) − mean(other). A claim that
    ours is better is supported when the interval lies above 0 (below 0 for lower is
    better); a claim that ours is at least as good (``non_inferior``) when the interval
    lies above −``margin``: ours is at worst ``margin`` worse."""
    from scipy import stats

    mine, theirs = finite(ours[1]), finite(other[1])
    groups = {ours[0]: mine, other[0]: theirs}
    if (reason := _too_few(groups)) is not None:
        return Verdict(INCONCLUSIVE, f"{_listing(groups)}: {reason}")
    sign = 1.0 if higher_is_better else -1.0
    difference = float(mine.mean() - theirs.mean())
    if np.ptp(np.concatenate([mine, theirs])) == 0:
        low = high = difference
    else:
        result = stats.bootstrap(
            (mine, theirs),
            lambda a, b, axis=-1: a.mean(axis=axis) - b.mean(axis=axis),
            n_resamples=BOOTSTRAP_RESAMPLES,
            method="percentile",
            vectorized=True,
            random_state=np.random.default_rng(seed),
        )
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    gain_low, gain_high = sorted((sign * low, sign * high))
    if non_inferior:
        verdict = SUPPORTED if gain_low > -margin else NOT_SUPPORTED
    else:
        verdict = SUPPORTED if gain_low > 0 else NOT_SUPPORTED
    return Verdict(
        verdict,
        f"{_listing(groups)}. {ours[0]} − {other[0]} = {_number(difference)}, "
        f"95 % bootstrap CI [{_number(low)}, {_number(high)}]" + (f", margin {margin:g}" if non_inferior else ""),
    )

"""The Markdown report of a suite run: measured tables, plots, and for each env the
papers' claim it checks with whether this run supports it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks import dreamer, mpc, ppo, prediction
from benchmarks.common import Row, read_csv, save_figure


SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "**not supported**", "inconclusive"


@dataclasses.dataclass(frozen=True)
class Claim:
    env: str
    source: str
    text: str
    benchmark: str  # the CSV it is checked on
    check: Callable[[list[Row]], tuple[str, str] | None]  # (verdict, measured); None: not measured in this run


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A group's mean over runs and the standard error of that mean."""

    mean: float
    stderr: float


def _estimate(rows: list[Row], key: str, run_stderr: Callable[[Row], float] | None = None, **where) -> Estimate:
    """Mean of ``key`` over the matching runs. Its standard error is the larger of the
    spread between seeds and the runs' own sampling error (``run_stderr``, e.g. the
    binomial error of a success rate over a run's episodes); 0 when neither is known."""
    runs = [row for row in rows if all(row.get(k) == v for k, v in where.items())
            and isinstance(row.get(key), float) and np.isfinite(row[key])]
    if not runs:
        return Estimate(float("nan"), float("nan"))
    values = np.array([row[key] for row in runs])
    between = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
    within = 0.0
    if run_stderr is not None:
        within = float(np.sqrt(sum(run_stderr(row) ** 2 for row in runs)) / len(runs))
    return Estimate(float(values.mean()), max(between, within))


def _binomial_stderr(rate_key: str, count_key: str) -> Callable[[Row], float]:
    def stderr(row: Row) -> float:
        rate, count = row[rate_key], row.get(count_key)
        return float(np.sqrt(rate * (1 - rate) / count)) if isinstance(count, float) and count > 0 else 0.0
    return stderr


def _poisson_stderr(mean_key: str, count_key: str) -> Callable[[Row], float]:
    def stderr(row: Row) -> float:
        # A sample mean of 0 over n episodes still leaves an error of 1/n, not none.
        mean, count = row[mean_key], row.get(count_key)
        return float(np.sqrt(max(mean, 1.0 / count) / count)) if isinstance(count, float) and count > 0 else 0.0
    return stderr


def _verdict(gain: float, margin: float, strict: bool) -> str:
    """``gain``: how much better ours is than the best other (negative: worse).
    A strict claim ("better than") needs a gain beyond the noise margin; a
    non-inferiority claim ("at least as good") fails only when ours is worse
    beyond it."""
    if gain < -margin or (gain <= 0 and margin == 0 and strict):
        return NOT_SUPPORTED
    if not strict or gain > margin:
        return SUPPORTED
    return INCONCLUSIVE


def _compare(rows: list[Row], key: str, group: str, ours: str, others: tuple[str, ...], lower_is_better: bool,
             strict: bool = True, run_stderr: Callable[[Row], float] | None = None,
             **where) -> tuple[str, str] | None:
    """Is ``ours`` better (``strict``) or at least as good as every one of ``others``
    on ``key``, by more than twice the standard error of the difference?"""
    mine = _estimate(rows, key, run_stderr, **{group: ours}, **where)
    theirs = {name: _estimate(rows, key, run_stderr, **{group: name}, **where) for name in others}
    theirs = {name: value for name, value in theirs.items() if np.isfinite(value.mean)}
    if not np.isfinite(mine.mean) or not theirs:
        return None
    sign = -1.0 if lower_is_better else 1.0
    best_name = max(theirs, key=lambda name: sign * theirs[name].mean)
    best = theirs[best_name]
    gain = sign * (mine.mean - best.mean)
    margin = 2 * float(np.hypot(mine.stderr, best.stderr))
    listing = ", ".join(f"{name} {_fmt(value)}" for name, value in theirs.items())
    verdict = _verdict(gain, margin, strict)
    if margin == 0:
        verdict += " (one run each, no error estimate)"
    return verdict, f"{ours} {_fmt(mine)} vs {listing}"


def _fmt(value: Estimate) -> str:
    def number(x: float) -> str:
        return f"{x:.2e}" if 0 < abs(x) < 0.01 else f"{x:.3f}"
    return number(value.mean) + (f" ± {number(value.stderr)}" if value.stderr > 0 else "")


def _column_stderr(row: Row) -> float:
    """The run's own standard error, as the MPC benchmark writes it."""
    value = row.get("stderr")
    return value if isinstance(value, float) and np.isfinite(value) else 0.0


RNNS = ("lstm", "gru", "elman")
MPC_STDERR = _column_stderr
PPO_STDERR = _binomial_stderr("final_success_rate", "final_episodes")
DREAMER_STDERR = _poisson_stderr("final_objects_scored", "final_episodes")
CLAIMS = [
    Claim("rrc", "GateL0RD paper, Sec. 6.2", "GateL0RD's generalisation error on RRC (uniform actions) stays lowest "
          "while GRU/LSTM/Elman rise", "prediction",
          lambda rows: _compare(rows, "gen_mse", "core", "gatel0rd", RNNS, True, env="rrc")),
    Claim("rrc", "GateL0RD paper, Sec. 6.2", "GateL0RD's latent encodes whether the robot is controlled "
          "(highest balanced accuracy of a linear probe)", "prediction",
          lambda rows: _compare(rows, "probe/robot_controlled", "core", "gatel0rd", RNNS, False, env="rrc")),
    Claim("rrc", "GateL0RD paper, Sec. 6.2", "MPC through GateL0RD reaches the goal more often than through GRU/LSTM",
          "mpc", lambda rows: _compare(rows, "success_rate", "model", "gatel0rd", ("gru", "lstm"), False,
                                       run_stderr=MPC_STDERR, task="rrc")),
    Claim("shepherd", "GateL0RD paper, Sec. 6.3", "GateL0RD predicts Shepherd sequences with the lowest error "
          "(it remembers the occluded sheep)", "prediction",
          lambda rows: _compare(rows, "test_mse", "core", "gatel0rd", RNNS, True, env="shepherd")),
    Claim("shepherd", "GateL0RD paper, Sec. 6.3", "Only GateL0RD solves Shepherd by MPC, in over 50 % of episodes",
          "mpc", lambda rows: _shepherd_mpc(rows)),
    Claim("billiard", "GateL0RD paper, Sec. 6.1", "GateL0RD predicts the billiard ball at least as well as the RNNs",
          "prediction", lambda rows: _compare(rows, "test_mse", "core", "gatel0rd", RNNS, True, strict=False,
                                              env="billiard")),
    Claim("fetch", "GateL0RD paper, Sec. 6.1", "GateL0RD generalises best to a later grasp in Fetch Pick&Place",
          "prediction", lambda rows: _compare(rows, "gen_mse", "core", "gatel0rd", RNNS, True, env="fetch")),
    Claim("minigrid", "GateL0RD paper, Sec. 6.4", "PPO with a GateL0RD memory learns DoorKey-5x5 at least as well "
          "as with an LSTM (final success rate)", "ppo",
          lambda rows: _compare(rows, "final_success_rate", "core", "gatel0rd", ("lstm",), False, strict=False,
                                run_stderr=PPO_STDERR, task="DoorKey-5x5")),
    Claim("minigrid", "GateL0RD paper, Sec. 6.4", "... and MemoryS7", "ppo",
          lambda rows: _compare(rows, "final_success_rate", "core", "gatel0rd", ("lstm",), False, strict=False,
                                run_stderr=PPO_STDERR, task="MemoryS7")),
    Claim("shapeherd", "VSG paper, Sec. 5.1", "A VSG agent scores more objects per episode than an RSSM "
          "(DreamerV2) agent", "dreamer",
          lambda rows: _compare(rows, "final_objects_scored", "model", "vsg", ("rssm",), False,
                                run_stderr=DREAMER_STDERR)),
    Claim("shapeherd", "VSG paper, Sec. 5.1", "A VSG agent scores more objects than a random policy", "dreamer",
          lambda rows: _compare(rows, "final_objects_scored", "model", "vsg", ("random",), False,
                                run_stderr=DREAMER_STDERR)),
]


def _shepherd_mpc(rows: list[Row]) -> tuple[str, str] | None:
    rates = {model: _estimate(rows, "success_rate", MPC_STDERR, task="shepherd", model=model)
             for model in ("gatel0rd", "gru", "lstm", "true")}
    if not all(np.isfinite(rates[model].mean) for model in ("gatel0rd", "gru", "lstm")):
        return None
    above_half = _verdict(rates["gatel0rd"].mean - 0.5, 2 * rates["gatel0rd"].stderr, strict=True)
    beats_rnns = _compare(rows, "success_rate", "model", "gatel0rd", ("gru", "lstm"), False,
                          run_stderr=MPC_STDERR, task="shepherd")
    assert beats_rnns is not None
    verdicts = {above_half, beats_rnns[0]}
    verdict = NOT_SUPPORTED if NOT_SUPPORTED in verdicts else INCONCLUSIVE if INCONCLUSIVE in verdicts else SUPPORTED
    return verdict, beats_rnns[1] + f" (true model {_fmt(rates['true'])})"


def write_report(out: Path) -> Path:
    """Write ``out/report.md`` (and its plots) from the CSVs a suite run left in ``out``."""
    meta = json.loads((out / "run.json").read_text())
    tables = {name: read_csv(out / f"{name}.csv") for name in ("speed", "prediction", "mpc", "ppo", "dreamer")
              if (out / f"{name}.csv").exists()}
    lines = [f"# Benchmark report: `{meta['suite']}` suite", "",
             f"Run on {meta['date']} ({meta['machine']}; {meta['workers']} workers, launcher {meta['launcher']}), "
             f"envs {', '.join(meta['envs'])}, {meta['seeds']} seed(s). Stage times: "
             + ", ".join(f"{k} {v / 60:.1f} min" for k, v in meta["stage_seconds"].items()) + ".",
             "Regenerate with `python -m benchmarks run --suite " + meta["suite"] + "`; values in the tables are "
             "mean ± std over seeds (a single value for one seed).", "",
             "A claim is *supported* when the measured difference exceeds twice its standard error (from the spread "
             "over seeds and, where a run has one, its own sampling error over episodes), *not supported* when it "
             "goes the other way by as much, and *inconclusive* in between. Claims in the claims table show "
             "mean ± standard error; with one seed and no per-run error no noise estimate exists.", "", "## Claims checked", "",
             "| env | claim | source | measured | verdict |", "|---|---|---|---|---|"]
    for claim in CLAIMS:
        if claim.env not in meta["envs"]:
            continue
        result = claim.check(tables.get(claim.benchmark, []))
        verdict, measured = ("not measured in this suite", "-") if result is None else result
        lines.append(f"| {claim.env} | {claim.text} | {claim.source} | {measured} | {verdict} |")
    lines.append("")
    lines += _sections(out, tables)
    failures = [line for lines_ in meta["failures"].values() for line in lines_]
    if failures:
        lines += ["## Failed runs", "", *[f"- {line}" for line in failures], ""]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _sections(out: Path, tables: dict[str, list[Row]]) -> list[str]:
    lines: list[str] = []
    if "speed" in tables:
        lines += ["## Speed (env-steps per second)", "", "| env | mode | env-steps/s | compared with | ratio |",
                  "|---|---|---:|---|---:|"]
        lines += [f"| {r['env']} | {r['mode']} | {r['steps_per_s']:,.0f} | {r['compared_with']} | {r['ratio']:.2f} |"
                  for r in tables["speed"]]
        lines.append("")
    if "prediction" in tables:
        _plot_prediction(out)
        lines += ["## Prediction (autoregressive MSE, gate openings, latent probes)", "",
                  prediction.format_table(tables["prediction"]), "",
                  "![prediction learning curves](prediction_curves.png)", ""]
    if "mpc" in tables:
        lines += ["## Model-predictive control (iCEM success rate)", "", mpc.format_table(tables["mpc"]), ""]
    if "ppo" in tables:
        lines += ["## Recurrent PPO on MiniGrid", "", ppo.format_table(tables["ppo"]), "",
                  "![PPO success](ppo_success.png)", ""]
    if "dreamer" in tables:
        lines += ["## Dreamer-style agents on ShapeHerd", "", dreamer.format_table(tables["dreamer"]), "",
                  "![ShapeHerd objects scored](dreamer_objects.png)", ""]
    return lines


def _plot_prediction(out: Path) -> None:
    """Test and generalisation error over training epochs, one panel per env."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = sorted((out / "runs" / "prediction").glob("*/*/seed*/metrics.csv"))
    envs = sorted({path.parts[-4] for path in runs})
    if not envs:
        return
    figure, axes = plt.subplots(1, len(envs), figsize=(4.2 * len(envs), 3.4), squeeze=False)
    for axis, env in zip(axes[0], envs):
        for path in runs:
            if path.parts[-4] != env:
                continue
            rows = read_csv(path)
            line, = axis.plot([r["epoch"] for r in rows], [r["test_mse"] for r in rows],
                              label=f"{path.parts[-3]} {path.parts[-2]}")
            axis.plot([r["epoch"] for r in rows], [r["gen_mse"] for r in rows], linestyle=":", color=line.get_color())
        axis.set_yscale("log")
        axis.set_title(f"{env} (solid test, dotted generalisation)", fontsize=9)
        axis.set_xlabel("epoch")
        axis.legend(fontsize=7)
    axes[0][0].set_ylabel("autoregressive MSE")
    save_figure(figure, out / "prediction_curves.png", dpi=90)

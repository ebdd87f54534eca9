"""The Markdown report of a suite run: measured tables, plots, and for each env the
papers' claim it checks with whether this run supports it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks import dreamer, mpc, ppo, prediction
from benchmarks.common import Row, read_csv


@dataclasses.dataclass(frozen=True)
class Claim:
    env: str
    source: str
    text: str
    benchmark: str  # the CSV it is checked on
    check: Callable[[list[Row]], tuple[bool, str] | None]  # None: not measured in this run


def _mean(rows: list[Row], key: str, **where) -> float:
    values = [float(row[key]) for row in rows
              if all(row.get(k) == v for k, v in where.items()) and isinstance(row.get(key), float)]
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def _compare(rows: list[Row], key: str, group: str, ours: str, others: tuple[str, ...], lower_is_better: bool,
             **where) -> tuple[bool, str] | None:
    mine = _mean(rows, key, **{group: ours}, **where)
    theirs = {name: _mean(rows, key, **{group: name}, **where) for name in others}
    theirs = {name: value for name, value in theirs.items() if np.isfinite(value)}
    if not np.isfinite(mine) or not theirs:
        return None
    best_other = min(theirs.values()) if lower_is_better else max(theirs.values())
    holds = mine <= best_other if lower_is_better else mine >= best_other
    listing = ", ".join(f"{name} {_fmt(value)}" for name, value in theirs.items())
    return holds, f"{ours} {_fmt(mine)} vs {listing}"


def _fmt(value: float) -> str:
    return f"{value:.2e}" if 0 < abs(value) < 0.01 else f"{value:.3f}"


RNNS = ("lstm", "gru", "elman")
CLAIMS = [
    Claim("rrc", "GateL0RD paper, Sec. 6.2", "GateL0RD's generalisation error on RRC (uniform actions) stays lowest "
          "while GRU/LSTM/Elman rise", "prediction",
          lambda rows: _compare(rows, "gen_mse", "core", "gatel0rd", RNNS, True, env="rrc")),
    Claim("rrc", "GateL0RD paper, Sec. 6.2", "GateL0RD's latent encodes whether the robot is controlled "
          "(highest linear-probe R^2)", "prediction",
          lambda rows: _compare(rows, "probe_r2/robot_controlled", "core", "gatel0rd", RNNS, False, env="rrc")),
    Claim("rrc", "GateL0RD paper, Sec. 6.2", "MPC through GateL0RD reaches the goal more often than through GRU/LSTM",
          "mpc", lambda rows: _compare(rows, "success_rate", "model", "gatel0rd", ("gru", "lstm"), False, task="rrc")),
    Claim("shepherd", "GateL0RD paper, Sec. 6.3", "GateL0RD predicts Shepherd sequences with the lowest error "
          "(it remembers the occluded sheep)", "prediction",
          lambda rows: _compare(rows, "test_mse", "core", "gatel0rd", RNNS, True, env="shepherd")),
    Claim("shepherd", "GateL0RD paper, Sec. 6.3", "Only GateL0RD solves Shepherd by MPC, in over 50 % of episodes",
          "mpc", lambda rows: _shepherd_mpc(rows)),
    Claim("billiard", "GateL0RD paper, Sec. 6.1", "GateL0RD predicts the billiard ball at least as well as the RNNs",
          "prediction", lambda rows: _compare(rows, "test_mse", "core", "gatel0rd", RNNS, True, env="billiard")),
    Claim("fetch", "GateL0RD paper, Sec. 6.1", "GateL0RD generalises best to a later grasp in Fetch Pick&Place",
          "prediction", lambda rows: _compare(rows, "gen_mse", "core", "gatel0rd", RNNS, True, env="fetch")),
    Claim("minigrid", "GateL0RD paper, Sec. 6.4", "PPO with a GateL0RD memory learns DoorKey-5x5 at least as well "
          "as with an LSTM (final success rate)", "ppo",
          lambda rows: _compare(rows, "final_success_rate", "core", "gatel0rd", ("lstm",), False, task="DoorKey-5x5")),
    Claim("minigrid", "GateL0RD paper, Sec. 6.4", "... and MemoryS7", "ppo",
          lambda rows: _compare(rows, "final_success_rate", "core", "gatel0rd", ("lstm",), False, task="MemoryS7")),
    Claim("shapeherd", "VSG paper, Sec. 5.1", "A VSG agent scores more objects per episode than an RSSM "
          "(DreamerV2) agent", "dreamer",
          lambda rows: _compare(rows, "final_objects_scored", "model", "vsg", ("rssm",), False)),
    Claim("shapeherd", "VSG paper, Sec. 5.1", "A VSG agent scores more objects than a random policy", "dreamer",
          lambda rows: _compare(rows, "final_objects_scored", "model", "vsg", ("random",), False)),
]


def _shepherd_mpc(rows: list[Row]) -> tuple[bool, str] | None:
    rates = {model: _mean(rows, "success_rate", task="shepherd", model=model) for model in ("gatel0rd", "gru", "lstm")}
    if not all(np.isfinite(v) for v in rates.values()):
        return None
    holds = rates["gatel0rd"] > 0.5 and max(rates["gru"], rates["lstm"]) < rates["gatel0rd"]
    true_rate = _mean(rows, "success_rate", task="shepherd", model="true")
    return holds, ", ".join(f"{k} {v:.2f}" for k, v in rates.items()) + f" (true model {true_rate:.2f})"


def write_report(out: Path) -> Path:
    """Write ``out/report.md`` (and its plots) from the CSVs a suite run left in ``out``."""
    meta = json.loads((out / "run.json").read_text())
    tables = {name: read_csv(out / f"{name}.csv") for name in ("speed", "prediction", "mpc", "ppo", "dreamer")
              if (out / f"{name}.csv").exists()}
    lines = [f"# Benchmark report: `{meta['suite']}` suite", "",
             f"Run on {meta['date']} ({meta['machine']}; {meta['workers']} workers, launcher {meta['launcher']}), "
             f"envs {', '.join(meta['envs'])}, {meta['seeds']} seed(s). Stage times: "
             + ", ".join(f"{k} {v / 60:.1f} min" for k, v in meta["stage_seconds"].items()) + ".",
             "Regenerate with `python -m benchmarks run --suite " + meta["suite"] + "`; values are mean ± std over "
             "seeds (a single value for one seed).", "", "## Claims checked", "",
             "| env | claim | source | measured | verdict |", "|---|---|---|---|---|"]
    for claim in CLAIMS:
        if claim.env not in meta["envs"]:
            continue
        result = claim.check(tables.get(claim.benchmark, []))
        if result is None:
            measured, verdict = "-", "not measured in this suite"
        else:
            holds, measured = result
            verdict = "supported" if holds else "**not supported**"
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
    figure.tight_layout()
    figure.savefig(out / "prediction_curves.png", dpi=90)
    plt.close(figure)

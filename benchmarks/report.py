"""The Markdown report of a suite run: measured tables, plots, and each of the papers'
claims, in the papers' words, with the measurement and test that decide it
(``benchmarks.stats``)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks import dreamer, mpc, prediction, rl
from benchmarks.common import Row, as_float, read_csv, save_figure
from benchmarks.stats import (
    ALPHA,
    MIN_SEEDS,
    Verdict,
    above,
    all_of,
    better_than,
    bootstrap_difference,
    decreasing,
    mean_stderr,
    similar,
)
from benchmarks.suite import ESTIMATES_FILE

Tables = dict[str, list[Row]]


@dataclasses.dataclass(frozen=True)
class Claim:
    env: str
    source: str
    text: str  # as the paper states it
    check: Callable[[Tables], Verdict | None]  # None: not measured in this run


def values(rows: list[Row], key: str, **where) -> list[float]:
    """``key`` of every row matching ``where`` (NaN where a row lacks it)."""
    return [as_float(row.get(key)) for row in rows if all(row.get(k) == v for k, v in where.items())]


RNNS = ("lstm", "gru", "elman")
#: "Reaches the LSTM's success rate": at worst this much lower (a non-inferiority margin).
SUCCESS_MARGIN = 0.05
#: "Well above the base rate": gate openings at least this many times more precise than chance.
LIFT_LEVEL = 2.0


def _predicted(tables: Tables, env: str) -> list[Row] | None:
    rows = [row for row in tables.get("prediction", []) if row.get("env") == env]
    return rows or None


def _paper_lambda(env: str) -> float:
    from baselines.predictors.envs import PREDICTOR_ENVS

    return PREDICTOR_ENVS[env].defaults.reg_lambda


def _lowest(env: str, key: str, regime: str = "ss", others: tuple[str, ...] = RNNS):
    """GateL0RD at the paper's lambda has a lower ``key`` than each of ``others``."""

    def check(tables: Tables) -> Verdict | None:
        rows = _predicted(tables, env)
        if rows is None:
            return None
        ours = values(rows, key, core="gatel0rd", regime=regime, reg_lambda=_paper_lambda(env))
        theirs = {core: values(rows, key, core=core, regime=regime) for core in others}
        verdict = better_than(("gatel0rd", ours), theirs, lower_is_better=True)
        yardsticks = [
            f"{row['core']} {as_float(row.get(key)):.3g}"
            for row in rows
            if row.get("regime") == "-" and np.isfinite(as_float(row.get(key)))
        ]
        if yardsticks:
            verdict = Verdict(verdict.verdict, verdict.measured + ". Without learning: " + ", ".join(yardsticks))
        return verdict

    return check


def _events(env: str, lift_key: str, reg_lambda: float | None = None):
    """GateL0RD's gate openings are well above the base rate of events (lift > LIFT_LEVEL),
    at ``reg_lambda`` (default: the env's paper lambda)."""

    def check(tables: Tables) -> Verdict | None:
        rows = _predicted(tables, env)
        if rows is None:
            return None
        where = dict(core="gatel0rd", regime="ss", reg_lambda=_paper_lambda(env) if reg_lambda is None else reg_lambda)
        verdict = above("gatel0rd", values(rows, lift_key, **where), LIFT_LEVEL, "lift")
        extra = (
            f"; gate rate {mean_stderr(values(rows, 'gate_rate', **where))}, dimensions used "
            f"{mean_stderr(values(rows, 'active_dims', **where))}, openings per sequence "
            f"{mean_stderr(values(rows, 'gate_openings', **where))}"
        )
        return Verdict(verdict.verdict, verdict.measured + extra)

    return check


def _lambda_openings(tables: Tables) -> Verdict | None:
    rows = _predicted(tables, "billiard")
    if rows is None:
        return None
    sweep = [row for row in rows if row.get("core") == "gatel0rd" and row.get("regime") == "ss"]
    return decreasing(
        [as_float(r["reg_lambda"]) for r in sweep], [as_float(r.get("gate_openings")) for r in sweep], "openings"
    )


def _lambda_errors(tables: Tables) -> Verdict | None:
    rows = _predicted(tables, "billiard")
    if rows is None:
        return None
    where = dict(core="gatel0rd", regime="ss")
    small = {f"λ={lam:g}": values(rows, "test_mse", reg_lambda=lam, **where) for lam in prediction.LAMBDA_SWEEP[:-1]}
    large = prediction.LAMBDA_SWEEP[-1]
    worse = better_than(
        ("λ=0.001", values(rows, "test_mse", reg_lambda=1e-3, **where)),
        {f"λ={large:g}": values(rows, "test_mse", reg_lambda=large, **where)},
        lower_is_better=True,
    )
    return all_of(similar(small), worse)


def _rise(row: Row) -> float:
    return as_float(row.get("gen_mse")) - as_float(row.get("gen_mse_min"))


def _generalisation_curves(tables: Tables) -> Verdict | None:
    rows = _predicted(tables, "rrc")
    if rows is None:
        return None
    ours = dict(core="gatel0rd", regime="ss", reg_lambda=_paper_lambda("rrc"))
    rises = {
        core: [
            _rise(r)
            for r in rows
            if r.get("core") == core
            and r.get("regime") == "ss"
            and (core != "gatel0rd" or r.get("reg_lambda") == ours["reg_lambda"])
        ]
        for core in ("gatel0rd", "gru", "lstm")
    }
    rise = better_than(
        ("gatel0rd rise", rises["gatel0rd"]),
        {f"{core} rise": rises[core] for core in ("gru", "lstm")},
        lower_is_better=True,
    )
    final = better_than(
        ("gatel0rd", values(rows, "gen_mse", **ours)),
        {core: values(rows, "gen_mse", core=core, regime="ss") for core in ("gru", "lstm")},
        lower_is_better=True,
    )
    return all_of(
        Verdict(rise.verdict, "rise (final − minimum over training): " + rise.measured),
        Verdict(final.verdict, "final: " + final.measured),
    )


def _mpc_better(task: str):
    def check(tables: Tables) -> Verdict | None:
        rows = [row for row in tables.get("mpc", []) if row.get("task") == task]
        if not rows:
            return None
        ours = ("gatel0rd", values(rows, "success_rate", model="gatel0rd"))
        parts = [
            bootstrap_difference(ours, (core, values(rows, "success_rate", model=core))) for core in ("gru", "lstm")
        ]
        if task == "shepherd":
            parts.insert(0, above("gatel0rd", ours[1], 0.5, "success rate"))
        verdict = all_of(*parts)
        return Verdict(
            verdict.verdict,
            verdict.measured + f"; true model {mean_stderr(values(rows, 'success_rate', model='true'))}",
        )

    return check


def _claim_rows(rows: list[Row], task: str) -> list[Row]:
    """The rows of ``task`` on the agent's view (the Fig. 6 set-up)."""
    return [row for row in rows if row.get("task") == task and row.get("view", rl.AGENT_VIEW) == rl.AGENT_VIEW]


def _ppo_success(task: str):
    def check(tables: Tables) -> Verdict | None:
        rows = _claim_rows(tables.get("rl", []), task)
        if not rows:
            return None
        return bootstrap_difference(
            ("gatel0rd", values(rows, "final_success_rate", core="gatel0rd")),
            ("lstm", values(rows, "final_success_rate", core="lstm")),
            non_inferior=True,
            margin=SUCCESS_MARGIN,
        )

    return check


def _ppo_frames(task: str):
    def check(tables: Tables) -> Verdict | None:
        rows = _claim_rows(rl.frames_to_success(tables.get("rl_curves", [])), task)
        if not rows:
            return None
        verdict = bootstrap_difference(
            ("gatel0rd", values(rows, "frames_to_success", core="gatel0rd")),
            ("lstm", values(rows, "frames_to_success", core="lstm")),
            higher_is_better=False,
        )
        reached = {core: int(sum(values(rows, "reached", core=core))) for core in ("gatel0rd", "lstm")}
        return Verdict(verdict.verdict, verdict.measured + f"; runs reaching {rl.SUCCESS_THRESHOLD:g}: {reached}")

    return check


def _agents_beat_rssm(model: str):
    def check(tables: Tables) -> Verdict | None:
        rows = tables.get("dreamer", [])
        if not any(row.get("model") == model for row in rows):
            return None
        verdict = bootstrap_difference(
            (model, values(rows, "final_objects_scored", model=model)),
            ("rssm", values(rows, "final_objects_scored", model="rssm")),
        )
        scale = ", ".join(
            f"{row['model']} {as_float(row.get('final_objects_scored')):.2f} ± "
            f"{as_float(row.get('final_objects_stderr')):.2f} over {int(as_float(row.get('final_episodes')))} episodes"
            for row in rows
            if row.get("model") in dreamer.SCRIPTED
        )
        return Verdict(verdict.verdict, verdict.measured + (f"; scale: {scale}" if scale else ""))

    return check


GATEL0RD = "GateL0RD paper"
CLAIMS = [
    Claim(
        "billiard",
        f"{GATEL0RD}, Sec. 6.1, Fig. 3a",
        "Trained with teacher forcing, only GateL0RD (λ = 0.001) "
        "makes reasonable autoregressive predictions; GRU, LSTM and Elman do not (lower 50-step error)",
        _lowest("billiard", "test_mse", regime="tf"),
    ),
    Claim(
        "billiard",
        f"{GATEL0RD}, Sec. 6.1, Fig. 3b",
        "With scheduled sampling GateL0RD (λ = 0.001) still achieves the lowest mean prediction error",
        _lowest("billiard", "test_mse"),
    ),
    Claim(
        "billiard",
        f"{GATEL0RD}, Sec. 6.1, Fig. 3d",
        "A higher λ results in fewer gate openings (λ in {0, 1e-4, 1e-3, 1e-2, 1e-1}, scheduled sampling)",
        _lambda_openings,
    ),
    Claim(
        "billiard",
        f"{GATEL0RD}, Sec. 6.1, Fig. 3c",
        "Similar predictions for λ in [0, 0.01]; overly strong regularisation (λ = 0.1) degrades performance",
        _lambda_errors,
    ),
    Claim(
        "billiard",
        f"{GATEL0RD}, Sec. 6.5",
        "GateL0RD's latent state changes at the events: gate openings "
        f"coincide with ball collisions (precision more than {LIFT_LEVEL:g}x the base rate)",
        _events("billiard", "gate_lift"),
    ),
    Claim(
        "billiard",
        f"{GATEL0RD}, Sec. 6.5, Fig. 7a",
        "With λ = 0.01, the lambda of the paper's example, the gates open around the ball's collisions "
        f"(precision more than {LIFT_LEVEL:g}x the base rate)",
        _events("billiard", "gate_lift", reg_lambda=0.01),
    ),
    Claim(
        "rrc",
        f"{GATEL0RD}, Sec. 6.2, Fig. 4a",
        "GateL0RD has the lowest prediction error on the test data",
        _lowest("rrc", "test_mse"),
    ),
    Claim(
        "rrc",
        f"{GATEL0RD}, Sec. 6.2, Fig. 4b",
        "On the generalisation data (uniform actions) the errors of GRU "
        "and LSTM rise during training while GateL0RD's stays low",
        _generalisation_curves,
    ),
    Claim(
        "rrc",
        f"{GATEL0RD}, Sec. 6.5",
        "GateL0RD's latent state changes when control of the robot changes "
        f"(precision more than {LIFT_LEVEL:g}x the base rate)",
        _events("rrc", "gate_lift/robot_controlled"),
    ),
    Claim(
        "rrc",
        f"{GATEL0RD}, Sec. 6.2",
        "MPC through GateL0RD reaches the goal more often than through GRU/LSTM",
        _mpc_better("rrc"),
    ),
    Claim(
        "shepherd",
        f"{GATEL0RD}, Sec. 6.3, Fig. 5a",
        "GateL0RD has the lowest 100-step prediction error",
        _lowest("shepherd", "test_mse"),
    ),
    Claim(
        "shepherd",
        f"{GATEL0RD}, Sec. 6.3, Fig. 5b",
        "Only GateL0RD learns to predict the sheep's position when it reappears (sheep-reappearance error)",
        _lowest("shepherd", "sheep_reappearance_error"),
    ),
    Claim(
        "shepherd",
        f"{GATEL0RD}, Sec. 6.3",
        "Only GateL0RD solves Shepherd by MPC, in over 50 % of episodes",
        _mpc_better("shepherd"),
    ),
    Claim("fetch", f"{GATEL0RD}, Sec. 6.1", "GateL0RD generalises best to a later grasp", _lowest("fetch", "gen_mse")),
    Claim(
        "fetch",
        f"{GATEL0RD}, Sec. 6.5",
        f"GateL0RD opens its gate at the grasp (precision more than {LIFT_LEVEL:g}x the base rate of grasp changes)",
        _events("fetch", "gate_lift/object_grasped"),
    ),
    Claim(
        "minigrid",
        f"{GATEL0RD}, Sec. 6.4, Fig. 6",
        "PPO with GateL0RD reaches the LSTM's success rate or higher (DoorKey-5x5)",
        _ppo_success("DoorKey-5x5"),
    ),
    Claim(
        "minigrid",
        f"{GATEL0RD}, Sec. 6.4, Fig. 6",
        f"... and reaches a success rate of {rl.SUCCESS_THRESHOLD:g} in fewer frames (DoorKey-5x5)",
        _ppo_frames("DoorKey-5x5"),
    ),
    Claim(
        "minigrid",
        f"{GATEL0RD}, Sec. 6.4, Fig. 6",
        "PPO with GateL0RD reaches the LSTM's success rate or higher (MemoryS7)",
        _ppo_success("MemoryS7"),
    ),
    Claim(
        "shapeherd",
        "VSG paper, Sec. 5.1",
        "A VSG agent scores more objects per episode than DreamerV2 (RSSM)",
        _agents_beat_rssm("vsg"),
    ),
    Claim(
        "shapeherd",
        "VSG paper, Sec. 5.1",
        "An SVSG agent scores more objects per episode than DreamerV2 (RSSM)",
        _agents_beat_rssm("svsg"),
    ),
]


TABLES = (
    "speed",
    "validation",
    "prediction",
    "mpc",
    "rl",
    "rl_curves",
    "rl_scale",
    "ppo_speed",
    "dreamer",
    "dreamer_curves",
)


def read_run(folders: list[Path]) -> tuple[dict, Tables]:
    """The settings and the tables of one suite run, or of several runs of one suite
    (e.g. one per group of envs) merged: rows are concatenated, envs and times added up."""
    metas = []
    for folder in folders:
        if not (folder / "run.json").is_file():
            raise ValueError(f"{folder} holds no suite run (no run.json); give the --out of `python -m benchmarks run`")
        metas.append(json.loads((folder / "run.json").read_text()))
    suites = {meta["suite"] for meta in metas}
    if len(suites) > 1:
        raise ValueError(f"these folders hold runs of different suites: {sorted(suites)}")
    tables: Tables = {}
    estimates = {}
    for folder in folders:
        for name in TABLES:
            if (folder / f"{name}.csv").exists():
                tables.setdefault(name, []).extend(read_csv(folder / f"{name}.csv"))
        if (folder / ESTIMATES_FILE).is_file():
            estimates.update({row["stage"]: row for row in json.loads((folder / ESTIMATES_FILE).read_text())})
    merged = {
        "suite": metas[0]["suite"],
        "estimates": list(estimates.values()),
        "parts": metas,
        "envs": [env for meta in metas for env in meta["envs"]],
        "wall_seconds": sum(meta.get("wall_seconds", sum(meta["stage_seconds"].values())) for meta in metas),
        "failures": [line for meta in metas for lines in meta["failures"].values() for line in lines],
    }
    return merged, tables


def _seeds_text(part: dict) -> str:
    seeds = f"{part['seeds']} seed(s)"
    other = {env: n for env, n in part.get("predictor_seeds", {}).items() if n != part["seeds"]}
    return seeds + (f" ({', '.join(f'{env} {n}' for env, n in other.items())})" if other else "")


def write_report(out: Path, parts: list[Path] | None = None) -> Path:
    """Write ``out/report.md`` (and its plots) from the CSVs a suite run left in ``out``,
    or, given ``parts``, from the runs in those folders merged."""
    meta, tables = read_run(parts or [out])
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# Benchmark report: `{meta['suite']}` suite", ""]
    if meta["suite"] == "quick":
        lines += [
            "**A smoke check.** One seed at a small budget: it shows that every stage runs. Its verdicts "
            f"are expected to be inconclusive (a verdict needs at least {MIN_SEEDS} seeds).",
            "",
        ]
    if meta["suite"] == "paper":
        lines += [
            "**The GateL0RD paper's protocol at its budget.** Each env's predictors train with the epochs, "
            "batches, set sizes and scheduled-sampling schedule of the paper's code "
            "(`benchmarks.prediction.paper_budget`). Test errors are over the whole test sets; the paper's "
            "Robot Remote Control code scored its validation and test errors on the last batch only.",
            "",
        ]
    lines += [f"Total wall time {meta['wall_seconds'] / 60:.1f} min.", ""]
    for part in meta["parts"]:
        lines.append(
            f"- `{part.get('command') or 'python -m benchmarks run --suite ' + part['suite']}`: "
            f"{part['date']}, {part['machine']}, {part['workers']} workers ({part['launcher']}), "
            f"envs {', '.join(part['envs'])}, {_seeds_text(part)}; the last sitting's stages "
            + ", ".join(f"{k} {v / 60:.1f} min" for k, v in part["stage_seconds"].items())
        )
    lines.append("")
    lines += _estimate_section(meta)
    lines += _validation_section(tables)
    lines += _memory_in_prediction(tables)
    lines += [
        "Tables show mean ± std over seeds (a single value for one seed); the claims table mean ± standard "
        "error (n = seeds).",
        "",
        f"**Verdicts.** Each claim is tested as the paper words it, on at least {MIN_SEEDS} seeds per model "
        f"(with fewer it is *inconclusive*). *Supported*: the data reject the opposite at p < {ALPHA:g} "
        "(one-sided): Welch's t-test between models for prediction errors, a one-sample t-test for a level "
        "(gate-opening lift), Spearman's rank correlation for a trend, and for RL scores (success rates, "
        "objects per episode) a 95 % bootstrap interval of the difference over seeds that excludes 0 "
        f'(for "at least as good": that excludes being worse by more than {SUCCESS_MARGIN:g}). '
        '*Not supported*: the test does not find it at this budget. "similar" passes when a one-way ANOVA '
        "finds no difference, a weak test with few seeds.",
        "",
        "## Claims checked",
        "",
        "| env | claim | source | measured | verdict |",
        "|---|---|---|---|---|",
    ]
    for claim in CLAIMS:
        if claim.env not in meta["envs"]:
            continue
        result = claim.check(tables)
        verdict, measured = ("not measured in this suite", "-") if result is None else (result.verdict, result.measured)
        # A claim made of parts separates them with "|": escaped, it stays in its cell.
        measured = measured.replace("|", "\\|")
        lines.append(f"| {claim.env} | {claim.text} | {claim.source} | {measured} | {verdict} |")
    lines.append("")
    lines += _sections(out, tables)
    if meta["failures"]:
        lines += ["## Failed runs", "", *[f"- {line}" for line in meta["failures"]], ""]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _estimate_section(meta: dict) -> list[str]:
    """The cost ``--estimate`` recorded in the run's folder, of the stages run here and of
    those only estimated."""
    if not meta["estimates"]:
        return []
    lines = [
        "## Cost",
        "",
        "Estimated by `--estimate` (a few updates of every job timed on the machine named, times the "
        "suite's budget); a cluster through `--launcher ray`, one worker per job, takes about the longest "
        "job's time.",
        "",
        "| stage | runs | CPU hours | wall hours (workers) | longest job hours | | estimated on |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for row in meta["estimates"]:
        ran = row["env"] in meta["envs"]
        lines.append(
            f"| {row['stage']} | {row['runs']} | {row['cpu_hours']:,.1f} | {row['wall_hours']:,.1f} "
            f"({row['workers']}) | {row['longest_job_hours']:,.1f} | {'run here' if ran else 'not run'} | "
            f"{row['date']}, {row['machine']} |"
        )
    return [*lines, ""]


def _validation_section(tables: Tables) -> list[str]:
    """The report's first verdicts: does each env need memory of each hidden factor?"""
    if "validation" not in tables:
        return []
    from baselines.validation.protocol import CEILING
    from benchmarks.env_validation import format_report

    return [
        "## Environment validation",
        "",
        "Per hidden factor, estimators trained with the true factor as label read it from what an agent sees: "
        "without memory (the current step), from the last steps (window), with a GRU over the whole history "
        "(recurrent), and from the last steps of the fully observable variant (the ceiling); scored on held-out "
        "sequences (R^2, or balanced accuracy for discrete factors; mean over seeds). The control on the "
        f"estimators: some estimator must read the factor (R^2 >= {CEILING['R^2']}, balanced accuracy >= "
        f"{CEILING['balanced accuracy']}) before a missing gap says anything about the env. Each stops early on "
        "held-out training sequences; discrete "
        "factors train with class-balanced cross-entropy; on images the memoryless estimator trains the "
        "frame encoder that the others read frozen. ShapeHerd is validated on `object_cells` (which cells of a "
        "3 x 3 grid over the arena hold an object) instead of its per-slot object factors. "
        "The gap is recurrent minus memoryless with its 95 % t "
        "interval over seeds, also by steps since the factor last changed and by how long ago it was last "
        "readable from the view (the memoryless estimator read it right then; 'not yet seen' before that). "
        "*Needs memory*: the gap exceeds 0.05 at p < 0.05 (one-sided t-test, at least 3 seeds). Each id's data "
        "come from its registry entry's validation policy, named per table. "
        "`python -m benchmarks.env_validation` and `pomdp-envs validate ID` compute the same.",
        "",
        format_report(tables["validation"], level="###"),
    ]


def _memory_in_prediction(tables: Tables) -> list[str]:
    """Next-observation prediction with and without memory, on the partial and the fully
    observable variant: does memory lower the error where the view hides something?"""
    rows = [row for row in tables.get("prediction", []) if row.get("core") == "mlp"]
    if not rows:
        return []
    lines = [
        "## Memory in next-observation prediction",
        "",
        "Autoregressive test error of the memoryless predictor (`mlp`: the same f_pre and f_post around one "
        "layer of the current input) against the recurrent ones, on each env as it is (`ss`) and on its fully "
        "observable variant (`ss-full`, errors on the original observation entries). The verdict asks whether "
        "the GRU predicts better than the memoryless core (Welch, one-sided, at least "
        f"{MIN_SEEDS} seeds). On the fully observable variant the predictors also predict the appended "
        "factors and, closed-loop, read their own predictions of them back, so its errors need not be lower.",
        "",
        "| env | variant | mlp | gru | gatel0rd | GRU below memoryless? |",
        "|---|---|---|---|---|---|",
    ]
    for env in dict.fromkeys(row["env"] for row in rows):
        env_rows = _predicted(tables, env) or []
        for variant in ("ss", "ss-full"):
            where = dict(regime=variant)
            memoryless = values(env_rows, "test_mse", core="mlp", **where)
            if not memoryless:
                continue
            gru = values(env_rows, "test_mse", core="gru", **where)
            gated = values(env_rows, "test_mse", core="gatel0rd", reg_lambda=_paper_lambda(env), **where)
            verdict = better_than(("gru", gru), {"mlp": memoryless}, lower_is_better=True)
            lines.append(
                f"| {env} | {variant} | {mean_stderr(memoryless)} | {mean_stderr(gru)} | {mean_stderr(gated)} | "
                f"{verdict.verdict} |"
            )
    return lines + [""]


def _sections(out: Path, tables: Tables) -> list[str]:
    lines: list[str] = []
    if "speed" in tables:
        lines += [
            "## Speed (env-steps per second)",
            "",
            "| env | mode | env-steps/s | compared with | ratio |",
            "|---|---|---:|---|---:|",
        ]
        lines += [
            f"| {r['env']} | {r['mode']} | {r['steps_per_s']:,.0f} | {r['compared_with']} | {r['ratio']:.2f} |"
            for r in tables["speed"]
        ]
        lines.append("")
    if "prediction" in tables:
        _plot_prediction(tables["prediction"], out / "prediction_curves.png")
        lines += [
            "## Prediction (autoregressive MSE, gate statistics, latent probes)",
            "",
            "`regime`: `ss` scheduled sampling, `tf` teacher forcing; `copy-last` and `reflecting` predict "
            "without learning. `gen_mse_min`: the lowest generalisation error over training.",
            "",
            prediction.format_table(tables["prediction"]),
            "",
            "![prediction learning curves](prediction_curves.png)",
            "",
        ]
        trends = _claim_trends(tables["prediction"], out / "claim_curves.png")
        if trends:
            lines += [
                "### The claims' statistics over training",
                "",
                "Every evaluation writes the statistics the claims use; each is given at the first and the last "
                "evaluation (mean over seeds), with its trend over the evaluations (Spearman's rank correlation "
                "with the update count; rising or falling at p < 0.05) and how far the runs got into the "
                "paper's budget. GateL0RD at the paper's lambda (and at 0.01 on Billiard Ball), scheduled sampling.",
                "",
                "| env | statistic | model | first | last | trend | updates (share of the paper's) |",
                "|---|---|---|---:|---:|---|---:|",
                *trends,
                "",
                "![the claims' statistics over training; dashed: the paper's budget](claim_curves.png)",
                "",
            ]
    if "mpc" in tables:
        lines += ["## Model-predictive control (iCEM success rate)", "", mpc.format_table(tables["mpc"]), ""]
    if "rl" in tables:
        if "rl_curves" in tables:
            rl.plot_curves(tables["rl_curves"], out / "rl_return.png")
        lines += [
            "## Reinforcement learning: memory's effect on return",
            "",
            "Recurrent PPO (`baselines.agents.ppo`, the GateL0RD paper code's MiniGrid settings on every task, "
            "nothing tuned per task) on the agent's view without memory, with a GRU and GateL0RD (MiniGrid: "
            "also an LSTM), and without memory on the full view; the random policy and the scripted oracle "
            "(it reads the hidden state) give the scale. Final return: finished training episodes of the last "
            "10 % of updates. An agent has *learned* when its final return exceeds the random policy's by "
            f"{rl.LEARNED_SHARE:.0%} of the oracle's gain over random (95 % bootstrap interval over seeds). A verdict "
            "reads *memory improves return* when a recurrent agent's final return beats the memoryless one's "
            "(95 % bootstrap interval of the difference over seeds above 0) and the full-view agent has learned; "
            "*not learned at this budget* when no agent has.",
            "",
            rl.format_table(tables["rl"], tables.get("rl_scale", []), rl.run_budgets(tables["rl"])),
            "",
            "![return over env steps](rl_return.png)",
            "",
        ]
    if "ppo_speed" in tables:
        from benchmarks import ppo_speed

        setting = tables["ppo_speed"][0]
        lines += [
            "### PPO's speed beside SB3-contrib's RecurrentPPO",
            "",
            f"`python -m benchmarks.ppo_speed`: {setting['env_id']}, {int(setting['num_envs'])} envs x "
            f"{int(setting['num_steps'])} steps, one thread, cases alternating in rounds (median rate, median and "
            "range of the per-round ratio). `-sb3-work` rows do SB3's update work (10 epochs, 128-step minibatches).",
            "",
            ppo_speed.format_table(tables["ppo_speed"]),
            "",
        ]
    if "dreamer" in tables:
        if "dreamer_curves" in tables:
            dreamer.plot_curves(tables["dreamer_curves"], tables["dreamer"], out / "dreamer_objects.png")
        steps = sorted(
            {
                int(as_float(row.get("env_steps")))
                for row in tables["dreamer"]
                if np.isfinite(as_float(row.get("env_steps")))
            }
        )
        budget = ", ".join(f"{step:,} env steps ({4 * step:,} frames at action repeat 4)" for step in steps)
        lines += [
            "## Dreamer-style agents on ShapeHerd",
            "",
            f"Budget per agent: {budget or 'not recorded'}; the VSG paper trains 2,500,000 frames. `random` and "
            "`oracle` are the uniform random and the scripted policy (full episodes), the bottom and top of the scale.",
            "",
            dreamer.format_table(tables["dreamer"]),
            "",
            "![ShapeHerd objects scored](dreamer_objects.png)",
            "",
        ]
    return lines


#: What the claims read from each evaluation row, per core: GateL0RD's gate lift, every core's probes.
def _curve_statistics(row: Row) -> list[str]:
    return [key for key in row if key.startswith("probe/") or key.startswith("gate_lift")]


def _claim_trends(rows: list[Row], path: Path) -> list[str]:
    """Table lines of each claim statistic's first and last value and trend over training,
    per env and model, and a figure of the curves with the paper's budget marked."""
    import matplotlib.pyplot as plt
    from scipy import stats

    from baselines.predictors.envs import PREDICTOR_ENVS

    curves: dict[tuple[str, str], list[list[Row]]] = {}
    for row in rows:
        folder = row.get("run_dir")
        if row.get("regime") != "ss" or not isinstance(folder, str):
            continue
        lambdas = (_paper_lambda(row["env"]), 0.01) if row["env"] == "billiard" else (_paper_lambda(row["env"]),)
        if row["core"] == "gatel0rd" and as_float(row["reg_lambda"]) not in lambdas:
            continue
        metrics_csv, options = Path(folder) / "metrics.csv", Path(folder) / "options.json"
        if not metrics_csv.is_file() or not options.is_file():
            continue
        batches = json.loads(options.read_text())["batches_per_epoch"] or 1
        model = row["core"] if row["core"] != "gatel0rd" else f"gatel0rd λ={as_float(row['reg_lambda']):g}"
        curve = [{**r, "updates": r["epoch"] * batches} for r in read_csv(metrics_csv)]
        curves.setdefault((row["env"], model), []).append(curve)
    lines, panels = [], []
    for (env, model), runs in sorted(curves.items()):
        length = min(len(run) for run in runs)
        updates = [runs[0][i]["updates"] for i in range(length)]
        defaults = PREDICTOR_ENVS[env].defaults
        paper = defaults.paper_epochs * defaults.batches_per_epoch
        for key in _curve_statistics(runs[0][0]):
            mean = np.nanmean([[as_float(run[i].get(key)) for i in range(length)] for run in runs], axis=0)
            finite = np.isfinite(mean)
            trend = "-"
            if finite.sum() >= 3 and np.ptp(mean[finite]) > 0:
                rho, p = stats.spearmanr(np.array(updates)[finite], mean[finite])
                word = "rising" if rho > 0 and p < ALPHA else "falling" if rho < 0 and p < ALPHA else "no trend"
                trend = f"{word} (ρ {rho:.2f}, p {p:.2g})"
            lines.append(
                f"| {env} | {key} | {model} | {mean[0]:.3g} | {mean[-1]:.3g} | {trend} | "
                f"{int(updates[-1]):,} ({100 * updates[-1] / paper:.3g} %) |"
            )
            panels.append((env, key, model, updates, mean, paper))
    if panels:
        keys = sorted({(env, key) for env, key, *_ in panels})
        columns = min(4, len(keys))
        figure, axes = plt.subplots(
            (len(keys) + columns - 1) // columns,
            columns,
            figsize=(4 * columns, 3 * ((len(keys) + columns - 1) // columns)),
            squeeze=False,
        )
        for axis, (env, key) in zip(axes.flat, keys):
            for panel_env, panel_key, model, updates, mean, paper in panels:
                if (panel_env, panel_key) == (env, key):
                    axis.plot(updates, mean, marker=".", label=model)
            axis.axvline(paper, linestyle="--", color="grey")
            axis.set_xscale("log")
            axis.set_title(f"{env}: {key}", fontsize=9)
            axis.set_xlabel("updates")
            axis.legend(fontsize=6)
        for axis in list(axes.flat)[len(keys) :]:
            axis.axis("off")
        save_figure(figure, path, dpi=80)
    return lines


def _plot_prediction(rows: list[Row], path: Path) -> None:
    """Test (solid) and generalisation (dotted) error over training, mean over seeds,
    one panel per env and regime, GateL0RD at the paper's lambda."""
    import matplotlib.pyplot as plt

    runs: dict[tuple, list[Path]] = {}
    for row in rows:
        folder = row.get("run_dir")
        if not isinstance(folder, str) or not (Path(folder) / "metrics.csv").exists():
            continue
        if row["core"] == "gatel0rd" and row["reg_lambda"] != _paper_lambda(row["env"]):
            continue
        runs.setdefault((row["env"], row["regime"]), []).append(Path(folder))
    if not runs:
        return
    panels = sorted(runs)
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for axis, panel in zip(axes[0], panels):
        by_core: dict[str, list[list[Row]]] = {}
        for folder in runs[panel]:
            by_core.setdefault(folder.parent.name, []).append(read_csv(folder / "metrics.csv"))
        for core, curves in sorted(by_core.items()):
            length = min(len(curve) for curve in curves)
            epochs = [curves[0][i]["epoch"] for i in range(length)]
            means = {
                key: np.mean([[curve[i][key] for i in range(length)] for curve in curves], axis=0)
                for key in ("test_mse", "gen_mse")
            }
            (line,) = axis.plot(epochs, means["test_mse"], label=core)
            axis.plot(epochs, means["gen_mse"], linestyle=":", color=line.get_color())
        axis.set_yscale("log")
        axis.set_title(f"{panel[0]}, {panel[1]} (solid test, dotted gen.)", fontsize=9)
        axis.set_xlabel("epoch")
        axis.legend(fontsize=7)
    axes[0][0].set_ylabel("autoregressive MSE")
    save_figure(figure, path, dpi=90)

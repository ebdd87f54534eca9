"""Write the environment pages of the docs site: ``docs/environments/<short name>.md`` for
every registered id and the gallery ``docs/environments/index.md``.

Each page is built from the registry entry (id, description, policies, upstream name),
the env's spaces and ``hidden_space``, its class docstring (the spec sheet) and what the
committed standard report measured for it (memory verdicts, reference models, RL and
Dreamer rows), read from the result files, so that no number on a page is typed by hand.

    python docs/_scripts/gen_env_pages.py            # what `make docs` runs first
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import math
import re
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import gymnasium as gym  # noqa: E402

from benchmarks.common import read_csv  # noqa: E402
from pomdp_envs.registration import ENTRIES, EnvEntry, load_entry_point  # noqa: E402

DOCS = ROOT / "docs"
PAGES = DOCS / "environments"
GIFS = DOCS / "_static" / "gifs"
STANDARD = ROOT / "benchmarks" / "results" / "standard"


@dataclasses.dataclass
class Results:
    """The committed standard report's rows that env pages show."""

    validation: list[dict[str, Any]]
    prediction: list[dict[str, Any]]
    rl: list[dict[str, Any]]
    rl_scale: list[dict[str, Any]]
    dreamer: list[dict[str, Any]]
    reference: list[Any]  # baselines.predictors.reference.ReferenceModel

    @classmethod
    def load(cls, standard: Path = STANDARD) -> Results:
        from baselines.predictors.reference import reference_models

        def rows(path: Path) -> list[dict[str, Any]]:
            return read_csv(path) if path.is_file() else []

        return cls(
            validation=rows(standard / "validation" / "validation.csv"),
            prediction=rows(standard / "predictors" / "prediction.csv"),
            rl=[row for path in sorted(standard.glob("rl/*/rl.csv")) for row in rows(path)],
            rl_scale=[row for path in sorted(standard.glob("rl/*/rl_scale.csv")) for row in rows(path)],
            dreamer=rows(standard / "agents" / "dreamer.csv"),
            reference=reference_models(),
        )


def gif_name(entry: EnvEntry) -> str:
    return f"{entry.short_name}.gif"


def spaces_table(entry: EnvEntry) -> str:
    env = gym.make(entry.id)
    try:
        rows = [
            ("make", f'`gymnasium.make("{entry.id}")`'),
            ("class", f"`{entry.entry_point.replace(':', '.')}`"),
            ("observation space", f"`{env.observation_space}`"),
            ("action space", f"`{env.action_space}`"),
            ("time limit", f"{entry.max_episode_steps} steps" if entry.max_episode_steps else "the env's own"),
            ("native vector env", "yes" if entry.vector_entry_point else "no"),
            ("policies", ", ".join(f"`{name}`" for name in ("random", *entry.policies))),
            ("validation policy", f"`{entry.validation_policy}`"),
        ]
        if entry.upstream_name or entry.upstream_id:
            rows.insert(2, ("upstream name", entry.upstream_name or f"`{entry.upstream_id}`"))
        if entry.extra:
            rows.append(("install", f'`pip install "pomdp-envs[{entry.extra}]"`'))
        hidden = env.unwrapped.hidden_space
    finally:
        env.close()
    lines = ["| | |", "|---|---|", *(f"| {key} | {value} |" for key, value in rows)]
    lines += ["", 'Hidden factors (`hidden_space`, reported in `info["hidden"]`):', ""]
    lines += ["| factor | space |", "|---|---|"]
    lines += [f"| `{name}` | `{space}` |" for name, space in hidden.spaces.items()]
    return "\n".join(lines)


def docstring_markdown(entry: EnvEntry) -> str:
    """The class docstring as Markdown under the page's "Specification" heading: its
    headings one level down, RST's double backticks made single and Sphinx roles
    (``:mod:`x` ``) made code, as the docstring reads in a terminal."""
    text = inspect.cleandoc(load_entry_point(entry.entry_point).__doc__ or "")
    text = re.sub(r"^(#+) ", r"#\1 ", text, flags=re.M)
    text = re.sub(r":\w+:`([^`]+)`", r"`\1`", text.replace("``", "`"))
    return text


def validation_section(entry: EnvEntry, results: Results) -> list[str]:
    rows = [row for row in results.validation if row["env"] == entry.id]
    if not rows:
        return ["Not validated in the committed standard report."]
    first = rows[0]
    window = next(key for key in first if key.startswith("window") and key != "window_gap")
    lines = [
        f"Standard validation (`pomdp-envs validate {entry.id}`): policy `{first['policy']}`, "
        f"{int(first['seeds'])} seeds, budget `{first['budget']}`; the gap by steps since a change and "
        "since last seen is in the [standard report](../reports/standard.md). What each column means: "
        "[Validating an environment](../guides/validation.md).",
        "",
        f"| factor | measure | memoryless | {window} | recurrent | fully observable | gap (95 % CI) | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        scores = " | ".join(_number(row[key]) for key in ("memoryless", window, "recurrent", "fully_observable"))
        gap = f"{_number(row['gap'])} ± {_number(row['gap_ci95'])}"
        lines.append(f"| {row['factor']} | {row['measure']} | {scores} | {gap} | {row['verdict']} |")
    return lines


def _number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) and math.isfinite(value) else "-"


#: The prediction benchmark's training regimes, as its rows name them.
REGIMES = {
    "ss": "scheduled sampling",
    "tf": "teacher forcing",
    "ss-full": "scheduled sampling, fully observable variant",
    "-": "not trained",
}


def prediction_section(entry: EnvEntry, results: Results) -> list[str]:
    rows = [row for row in results.prediction if row["env"] == entry.short_name]
    if not rows:
        return []
    lines = [
        "### Sequence predictors",
        "",
        "The standard suite's prediction benchmark (`python -m benchmarks.prediction`; the claims it "
        "decides are in the [standard report](../reports/standard.md)): errors on the test and "
        "generalisation sets, means over seeds (`mlp` is the memoryless control; `copy-last` and "
        "`reflecting` are untrained references).",
        "",
        "| core | regime | lambda | seeds | test MSE | generalisation MSE | gate openings |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    groups = dict.fromkeys((row["core"], row["regime"], row["reg_lambda"]) for row in rows)
    for core, regime, reg_lambda in groups:
        own = [row for row in rows if (row["core"], row["regime"], row["reg_lambda"]) == (core, regime, reg_lambda)]

        def mean(key: str) -> str:
            values = [row[key] for row in own if isinstance(row.get(key), float) and math.isfinite(row[key])]
            return f"{statistics.mean(values):.3g}" if values else "-"

        openings = mean("gate_openings") if core == "gatel0rd" else "-"
        lines.append(
            f"| {core} | {REGIMES.get(regime, regime)} | {reg_lambda:g} | {len(own)} | {mean('test_mse')} | "
            f"{mean('gen_mse')} | {openings} |"
        )
    return lines


def reference_section(entry: EnvEntry, results: Results) -> list[str]:
    from baselines.predictors.reference import format_table

    models = [model for model in results.reference if model.env == entry.short_name]
    if not models:
        return []
    return [
        "### Reference sequence predictors",
        "",
        "Shipped trained models (`baselines.predictors.reference.load_reference`), scored on their runs' test sets:",
        "",
        format_table(models),
    ]


def rl_section(entry: EnvEntry, results: Results) -> list[str]:
    from benchmarks import rl

    tasks = [task for task, (env_id, _) in rl.TASKS.items() if env_id == entry.id]
    rows = [row for row in results.rl if row["task"] in tasks]
    if not rows:
        return []
    scale = [row for row in results.rl_scale if row["task"] in tasks]
    return ["### Reinforcement learning (PPO)", "", rl.format_table(rows, scale, rl.run_budgets(rows))]


def dreamer_section(entry: EnvEntry, results: Results) -> list[str]:
    if entry.id != "pomdp_envs/ShapeHerd-v1" or not results.dreamer:
        return []
    lines = [
        "### Dreamer-style agents",
        "",
        "| agent | seeds | env steps | objects scored per episode (mean over seeds) |",
        "|---|---:|---:|---:|",
    ]
    for model in dict.fromkeys(row["model"] for row in results.dreamer):
        own = [row for row in results.dreamer if row["model"] == model]
        scored = statistics.mean(row["final_objects_scored"] for row in own)
        steps = own[0]["env_steps"]
        steps_text = f"{int(steps):,}" if isinstance(steps, float) else "-"
        lines.append(f"| {model} | {len(own)} | {steps_text} | {scored:.2f} |")
    return lines


def env_page(entry: EnvEntry, results: Results) -> str:
    measured = validation_section(entry, results)
    for section in (prediction_section, reference_section, rl_section, dreamer_section):
        part = section(entry, results)
        if part:
            measured += ["", *part]
    lines = [
        f"# {entry.name}",
        "",
        entry.description,
        "",
        f"![An episode of {entry.name}](../_static/gifs/{gif_name(entry)})",
        "",
        spaces_table(entry),
        "",
        "## Measured in the standard report",
        "",
        *measured,
        "",
        "## Specification",
        "",
        "(From the class docstring.)",
        "",
        docstring_markdown(entry),
        "",
    ]
    return "\n".join(lines)


def gallery_page(entries: tuple[EnvEntry, ...]) -> str:
    lines = [
        "# Environments",
        "",
        "Every registered id, with an episode of its validation policy. Each page gives the",
        "spaces, the hidden factors, the specification and what the standard report measured.",
        "",
        "```{toctree}",
        ":hidden:",
        "",
        *(entry.short_name for entry in entries),
        "```",
        "",
    ]
    for entry in entries:
        lines += [
            f"## [{entry.name}]({entry.short_name}.md)",
            "",
            f"[![{entry.name}](../_static/gifs/{gif_name(entry)})]({entry.short_name}.md)",
            "",
            entry.description,
            "",
        ]
    return "\n".join(lines)


def write_pages(out: Path = PAGES, results: Results | None = None) -> list[Path]:
    results = results or Results.load()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for entry in ENTRIES:
        path = out / f"{entry.short_name}.md"
        path.write_text(env_page(entry, results))
        written.append(path)
    (out / "index.md").write_text(gallery_page(ENTRIES))
    return [*written, out / "index.md"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python docs/_scripts/gen_env_pages.py", description=__doc__)
    parser.add_argument("--out", type=Path, default=PAGES)
    args = parser.parse_args(argv)
    for path in write_pages(args.out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

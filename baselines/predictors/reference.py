"""Reference models: predictors trained with the GateL0RD paper's protocol at its budget,
shipped with the package and loaded without training::

    from baselines.predictors.reference import load_reference, reference_models
    model, meta = load_reference("rrc", "gatel0rd", seed=0)  # a Predictor in eval mode
    for entry in reference_models():
        print(entry.env, entry.core, entry.seed, entry.scores["test_mse"])

    python -m baselines.predictors.reference                       # the shipped models and their scores
    python -m baselines.predictors.reference --export benchmarks/results/paper

``--export`` copies the finished runs of a ``paper`` suite run (scheduled sampling, the
env's paper lambda) into the package's ``reference_models`` folder as
``{env}-{core}-seed{seed}.pt``, beside an ``index.json`` of their scores on held-out data
and how they were trained; ``reference_path`` gives the file for the planners
(``baselines.control.mpc.run_mpc(task, model=path)``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any, Optional

from baselines.predictors.checkpoint import load_checkpoint
from baselines.predictors.predictor import Predictor
from baselines.resume import OPTIONS_FILE, SCORES_FILE
from pomdp_envs.cli_errors import OneLineArgumentParser, run_command
from pomdp_envs.files import atomic_write_text

MODELS_DIR = Path(__file__).parent / "reference_models"
INDEX_FILE = "index.json"
#: The scores an index entry keeps of a run's ``scores.json``.
KEPT_SCORES = ("test_mse", "test_mse_min", "gen_mse", "gen_mse_min", "gate_openings", "gate_lift", "epoch")


@dataclasses.dataclass(frozen=True)
class ReferenceModel:
    env: str
    core: str
    seed: int
    file: str  # below the models folder
    scores: dict[str, float]  # on the run's held-out test and generalisation splits
    trained: dict[str, Any]  # the command, date, machine and training options

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.env, self.core, self.seed)


def reference_models(directory: Optional[Path] = None) -> list[ReferenceModel]:
    """The models in ``directory`` (the shipped ones by default), as its index lists them."""
    index = _folder(directory) / INDEX_FILE
    if not index.is_file():
        return []
    return [ReferenceModel(**entry) for entry in json.loads(index.read_text())]


def reference_path(env: str, core: str = "gatel0rd", seed: int = 0, directory: Optional[Path] = None) -> Path:
    """The checkpoint file of a reference model (``ValueError`` naming the ones there are)."""
    models = {entry.key: entry for entry in reference_models(directory)}
    if (env, core, seed) not in models:
        there = ", ".join(f"{e}/{c}/seed{s}" for e, c, s in sorted(models)) or "none yet"
        raise ValueError(f"no reference model {env}/{core}/seed{seed}; there are: {there}")
    return _folder(directory) / models[(env, core, seed)].file


def load_reference(
    env: str, core: str = "gatel0rd", seed: int = 0, directory: Optional[Path] = None
) -> tuple[Predictor, dict[str, Any]]:
    """A reference model (in eval mode, on the CPU) and its checkpoint's metadata (env
    id, start steps, training options, run)."""
    return load_checkpoint(reference_path(env, core, seed, directory))


def export(suite_out: Path, directory: Optional[Path] = None) -> list[ReferenceModel]:
    """Copy the finished scheduled-sampling runs at each env's paper lambda of the suite
    run in ``suite_out`` into ``directory`` and rewrite its index (entries of other envs,
    cores or seeds are kept). Returns the exported models."""
    from baselines.predictors.envs import PREDICTOR_ENVS

    suite_out, directory = Path(suite_out), _folder(directory)
    runs = suite_out / "runs" / "prediction"
    if not runs.is_dir():
        raise ValueError(f"{suite_out} holds no prediction runs (no {runs})")
    meta_file = suite_out / "run.json"
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    directory.mkdir(parents=True, exist_ok=True)
    exported = []
    for scores_file in sorted(runs.glob(f"*/ss/*/**/{SCORES_FILE}")):
        run_dir = scores_file.parent
        options = json.loads((run_dir / OPTIONS_FILE).read_text())
        env, core, run = options["env"], options["core"], options["run"]
        paper_lambda = PREDICTOR_ENVS[env].defaults.reg_lambda if core == "gatel0rd" else 0.0
        if run["reg_lambda"] != paper_lambda or options.get("fully_observable"):
            continue
        scores = json.loads(scores_file.read_text())
        name = f"{env}-{core}-seed{run['seed']}.pt"
        shutil.copyfile(run_dir / "checkpoint.pt", directory / name)
        trained = {key: meta.get(key) for key in ("command", "date", "machine")}
        trained["options"] = {key: value for key, value in options.items() if key != "run"}
        trained["run"] = run
        exported.append(
            ReferenceModel(
                env, core, run["seed"], name, {key: scores[key] for key in KEPT_SCORES if key in scores}, trained
            )
        )
    kept = {entry.key: entry for entry in reference_models(directory)}
    kept.update({entry.key: entry for entry in exported})
    entries = [dataclasses.asdict(kept[key]) for key in sorted(kept)]
    atomic_write_text(directory / INDEX_FILE, json.dumps(entries, indent=1))
    return exported


def _folder(directory: Optional[Path]) -> Path:
    # Read at call time, not bound as a default: the package's folder can be swapped whole.
    return MODELS_DIR if directory is None else Path(directory)


def format_table(models: list[ReferenceModel]) -> str:
    lines = [
        "| env | core | seed | test MSE | generalisation MSE | gate openings | updates |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for entry in models:
        scores, options = entry.scores, entry.trained.get("options", {})
        updates = int(scores.get("epoch", 0)) * int(options.get("batches_per_epoch") or 0)
        openings = scores.get("gate_openings")
        lines.append(
            f"| {entry.env} | {entry.core} | {entry.seed} | {scores.get('test_mse', float('nan')):.3g} | "
            f"{scores.get('gen_mse', float('nan')):.3g} | {'-' if openings is None else f'{openings:.1f}'} | "
            f"{updates:,} |"
        )
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = OneLineArgumentParser(
        prog="python -m baselines.predictors.reference",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--export", type=Path, metavar="SUITE_OUT", help="copy a paper suite run's finished models")
    parser.add_argument("--directory", type=Path, help="the models folder (default: the package's)")
    args = parser.parse_args(argv)

    def go() -> int:
        if args.export is not None:
            exported = export(args.export, args.directory)
            print(f"exported {len(exported)} model(s) to {_folder(args.directory)}")
        models = reference_models(args.directory)
        print(format_table(models) if models else f"no reference models in {_folder(args.directory)}")
        return 0

    return run_command("python -m baselines.predictors.reference", go)


if __name__ == "__main__":
    raise SystemExit(main())

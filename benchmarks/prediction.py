"""Prediction benchmark: GateL0RD against LSTM, GRU and Elman RNNs on each env.

Each job trains every seed of one (env, core, input regime) together with
``baselines.predictors.train``'s batched trainer; on Billiard Ball GateL0RD is trained
for each lambda of the paper's sweep (Fig. 3c/d) in the same batch, and the whole
comparison runs twice, with scheduled sampling (``ss``) and teacher forcing (``tf``,
Fig. 3a). Every run reports, on held-out data: autoregressive MSE on the test and the
generalisation split (final and the minimum over training), gate openings per sequence,
the paper's gate statistics, linear-probe scores of each hidden factor, precision,
recall and lift of gate openings against hidden-factor changes (overall and per factor),
and on Shepherd the sheep-reappearance error. Predictors without learning (repeat the
last observation; on Billiard Ball a reflecting constant-velocity roll) are the
yardsticks printed beside them.

    python -m benchmarks.prediction --envs rrc --epochs 200 --seeds 3 --workers 2
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

from baselines.predictors.envs import PREDICTOR_ENVS
from baselines.predictors.extrapolation import copy_last_mse, reflecting_mse
from baselines.predictors.predictor import CORES
from baselines.predictors.splits import load_split
from baselines.predictors.train import TrainConfig, load_data, run_dirs, split_sizes, train_runs
from benchmarks.common import Row, fan_out, markdown_table, write_runs
from pomdp_envs.cli_errors import OneLineArgumentParser, positive_int, run_command, writable_dir

#: The lambdas of the GateL0RD paper's Billiard Ball sweep (Fig. 3c/d).
LAMBDA_SWEEP = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
#: Envs on which the comparison also runs with teacher forcing (the paper's Fig. 3a).
TEACHER_FORCING_ENVS = ("billiard",)
COLUMNS = ("test_mse", "gen_mse", "gen_mse_min", "gate_openings", "gate_rate", "dims_used", "active_dims", "gate_lift")


#: Envs whose fully observable variant the predictors can train on (hidden factors appended).
FULLY_OBSERVABLE_ENVS = ("billiard", "rrc", "shepherd")
#: The memory controls: cores trained beside the comparison, on the partial and the fully
#: observable variant (the memoryless core and two recurrent ones).
CONTROL_CORES = ("mlp", "gru", "gatel0rd")


def regime(config: TrainConfig) -> str:
    """``ss`` or ``tf``, with ``-full`` on the fully observable variant."""
    return ("tf" if config.teacher_forcing else "ss") + ("-full" if config.fully_observable else "")


def run_one(config: TrainConfig) -> list[Row]:
    """Train every run of ``config`` (one batch); one row per run."""
    rows = []
    for result in train_runs(config):
        rows.append(
            {
                "env": config.env,
                "core": config.core,
                "regime": regime(config),
                "reg_lambda": result.spec.reg_lambda,
                "seed": result.spec.seed,
                **result.scores,
                "run_dir": str(result.out_dir),
            }
        )
    return rows


#: The paper's code evaluates (and checkpoints) every 100 epochs.
PAPER_EVAL_EVERY = 100


def _budget(epochs: int, batches_per_epoch: int, num_train: int, num_test: int) -> dict:
    """The TrainConfig fields every benchmark job shares."""
    return dict(
        epochs=epochs,
        batches_per_epoch=batches_per_epoch,
        num_train=num_train,
        num_test=num_test,
        eval_every=max(1, epochs // 10),
        progress=False,
    )


def paper_budget(env: str) -> dict:
    """The TrainConfig fields of ``env``'s paper protocol: its epochs of its batches per
    epoch (so the scheduled-sampling decay is the paper's 0.998 per epoch, uncompressed),
    its training, test and generalisation set sizes, an evaluation every 100 epochs."""
    paper = PREDICTOR_ENVS[env].defaults
    return dict(
        epochs=paper.paper_epochs,
        batches_per_epoch=paper.batches_per_epoch,
        num_train=paper.paper_train,
        num_test=paper.paper_test,
        num_generalisation=paper.paper_generalisation,
        eval_every=PAPER_EVAL_EVERY,
        progress=False,
    )


def make_jobs(
    envs: list[str],
    cores: list[str],
    seeds: int,
    epochs: Optional[int],
    out: Path,
    batches_per_epoch: int = 10,
    num_train: int = 2048,
    num_test: int = 512,
    lambda_sweep: bool = True,
    teacher_forcing: bool = True,
    memory_controls: bool = False,
) -> list[TrainConfig]:
    """One job per (env, regime, core), each training seeds 0..``seeds``-1 together
    (and on Billiard Ball GateL0RD every lambda of ``LAMBDA_SWEEP`` when ``lambda_sweep``).
    With ``memory_controls``, also the memoryless core, and ``CONTROL_CORES`` on the fully
    observable variant where there is one (regime ``ss-full``). ``epochs`` None: each
    env's paper protocol (``paper_budget``) in place of the budget arguments."""
    jobs = []
    for env in envs:
        budget = paper_budget(env) if epochs is None else _budget(epochs, batches_per_epoch, num_train, num_test)
        regimes = (False, True) if teacher_forcing and env in TEACHER_FORCING_ENVS else (False,)
        for forced in regimes:
            for core in cores:
                sweep = lambda_sweep and core == "gatel0rd" and env == "billiard" and not forced
                jobs.append(
                    TrainConfig(
                        env=env,
                        core=core,
                        seeds=tuple(range(seeds)),
                        reg_lambdas=LAMBDA_SWEEP if sweep else (),
                        teacher_forcing=forced,
                        out_dir=out / env / ("tf" if forced else "ss") / core,
                        **budget,
                    )
                )
        if not memory_controls:
            continue
        controls = [(core, False) for core in CONTROL_CORES if core not in cores]
        if env in FULLY_OBSERVABLE_ENVS:
            controls += [(core, True) for core in CONTROL_CORES]
        for core, full in controls:
            jobs.append(
                TrainConfig(
                    env=env,
                    core=core,
                    seeds=tuple(range(seeds)),
                    fully_observable=full,
                    out_dir=out / env / ("ss-full" if full else "ss") / core,
                    **budget,
                )
            )
    return jobs


def make_configs(
    envs: list[str],
    cores: list[str],
    seeds: int,
    epochs: int,
    out: Path,
    batches_per_epoch: int = 10,
    num_train: int = 2048,
    num_test: int = 512,
) -> list[TrainConfig]:
    """One single-run config per (env, seed, core), scheduled sampling, the paper's
    lambda: the predictors the MPC benchmark trains on its own."""
    budget = _budget(epochs, batches_per_epoch, num_train, num_test)
    return [
        TrainConfig(env=env, core=core, seeds=(seed,), out_dir=out / env / core / f"seed{seed}", **budget)
        for env in envs
        for seed in range(seeds)
        for core in cores
    ]


def checkpoints(configs: list[TrainConfig]) -> dict[tuple[str, str, int], Path]:
    """Where the jobs leave the checkpoint of each (env, core, seed) trained with
    scheduled sampling at the env's default lambda: what the MPC stage plans with."""
    found = {}
    for config in configs:
        if config.teacher_forcing or config.fully_observable or config.core not in CORES:
            continue
        default_lambda = config.defaults.reg_lambda if config.core == "gatel0rd" else 0.0
        for spec, folder in zip(config.runs(), run_dirs(config)):
            if spec.reg_lambda == default_lambda:
                found[(config.env, config.core, spec.seed)] = folder / "checkpoint.pt"
    return found


def prepare_data(configs: list[TrainConfig]) -> None:
    """Collect every dataset once, before workers would race to write the same cache file."""
    for config in configs:
        for split, size in split_sizes(config).items():
            load_split(config.env, split, size, config.data_seed, config.cache_dir)


def reference_rows(configs: list[TrainConfig]) -> list[Row]:
    """Errors of the predictors without learning on each env's test and generalisation
    data, as rows with ``core`` "copy-last" (and "reflecting" on Billiard Ball)."""
    rows, seen = [], set()
    for config in configs:
        if config.env in seen:
            continue
        seen.add(config.env)
        data, start = load_data(config), config.start_steps
        yardsticks = {"copy-last": copy_last_mse}
        if config.env == "billiard":
            yardsticks["reflecting"] = reflecting_mse
        for name, mse in yardsticks.items():
            rows.append(
                {
                    "env": config.env,
                    "core": name,
                    "regime": "-",
                    "reg_lambda": 0.0,
                    "seed": 0,
                    "test_mse": mse(data["test"], start),
                    "gen_mse": mse(data["generalisation"], start),
                }
            )
    return rows


def run(configs: list[TrainConfig], workers: int, launcher: str = "local") -> tuple[list[Row], list[str]]:
    """Every job's rows, then the reference rows; and the failed jobs."""
    prepare_data(configs)
    rows, failed = fan_out(
        run_one,
        configs,
        workers,
        launcher=launcher,
        label=lambda c: f"prediction {c.env}/{regime(c)}/{c.core} x{len(c.runs())}",
    )
    return rows + reference_rows(configs), failed


def format_table(rows: list[Row]) -> str:
    """Mean ± std over seeds per (env, regime, core, lambda)."""
    probes = sorted({key for row in rows for key in row if key.startswith("probe/")})
    return markdown_table(
        rows,
        ("env", "regime", "core", "reg_lambda"),
        (*COLUMNS, *[c for c in ("sheep_reappearance_error",) if any(c in r for r in rows)], *probes),
    )


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(
        prog="python -m benchmarks.prediction",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--envs", nargs="+", default=sorted(PREDICTOR_ENVS), choices=sorted(PREDICTOR_ENVS))
    parser.add_argument("--cores", nargs="+", default=list(CORES), choices=CORES)
    parser.add_argument("--seeds", type=positive_int, default=3, help="seeds per job, trained together")
    parser.add_argument("--epochs", type=positive_int, default=200)
    parser.add_argument("--batches-per-epoch", type=positive_int, default=10)
    parser.add_argument("--num-train", type=positive_int, default=2048)
    parser.add_argument("--num-test", type=positive_int, default=512)
    parser.add_argument(
        "--no-lambda-sweep", action="store_true", help="Billiard Ball GateL0RD at the paper's lambda only"
    )
    parser.add_argument("--no-teacher-forcing", action="store_true", help="scheduled sampling only")
    parser.add_argument(
        "--memory-controls",
        action="store_true",
        help="also the memoryless core, and mlp/gru/gatel0rd on the fully observable variant (regime ss-full)",
    )
    parser.add_argument("--workers", type=positive_int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/local/prediction"))
    args = parser.parse_args(argv)

    def go() -> int:
        out = writable_dir(args.out)
        configs = make_jobs(
            args.envs,
            args.cores,
            args.seeds,
            args.epochs,
            out,
            args.batches_per_epoch,
            args.num_train,
            args.num_test,
            not args.no_lambda_sweep,
            not args.no_teacher_forcing,
            args.memory_controls,
        )
        rows, _ = run(configs, args.workers)
        code = write_runs(out, rows, format_table)
        print(f"wrote {out}/runs.csv and one folder per run below {out}")
        return code

    return run_command("python -m benchmarks.prediction", go)


if __name__ == "__main__":
    raise SystemExit(main())

"""MPC benchmark: iCEM success rate with GateL0RD, GRU and LSTM predictors against the
true simulator, on Robot Remote Control and Shepherd.

Per (task, core, seed) a predictor is trained (``baselines.predictors.train``, or its
checkpoint reused with ``--reuse``) and then drives ``--episodes`` seeded MPC episodes;
the true model runs the same episodes once per seed. Success rate +- std over seeds
(and the binomial standard error of one seed's episodes in ``runs.csv``).

    python -m benchmarks.mpc --tasks rrc --epochs 300 --seeds 2 --workers 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from baselines.control.mpc import TASKS, run_mpc
from baselines.predictors.train import TrainConfig, train
from benchmarks.common import Row, fan_out, markdown_table, write_runs
from benchmarks.prediction import make_configs, prepare_data
from pomdp_envs.cli_errors import command_name
from pomdp_envs.files import atomic_write_text

MPC_CORES = ("gatel0rd", "gru", "lstm")


@dataclasses.dataclass(frozen=True)
class MPCJob:
    task: str
    seed: int
    episodes: int
    train: TrainConfig | None = None  # the predictor to train; None: a given checkpoint or the true model
    reuse: bool = False
    checkpoint: Path | None = None  # a trained predictor (from the prediction stage)
    core: str | None = None  # the checkpoint's core
    result: Path | None = None  # where the finished job keeps its row; a rerun reads it instead of planning again

    @property
    def model_name(self) -> str:
        if self.train is not None:
            return self.train.core
        return "true" if self.checkpoint is None else str(self.core)


def run_job(job: MPCJob) -> Row:
    import torch

    if job.result is not None and job.result.is_file():
        return json.loads(job.result.read_text())
    torch.set_num_threads(1)
    row: Row = {"task": job.task, "model": job.model_name, "seed": job.seed}
    model = "true"
    if job.checkpoint is not None:
        if not job.checkpoint.is_file():
            raise FileNotFoundError(f"no predictor at {job.checkpoint}: its prediction job did not finish")
        model = str(job.checkpoint)
    elif job.train is not None:
        checkpoint = Path(job.train.out_dir) / "checkpoint.pt"
        if not (job.reuse and checkpoint.exists()):
            scores = train(job.train)
            row.update(test_mse=scores["test_mse"], gen_mse=scores["gen_mse"])
        model = str(checkpoint)
    # Episode seeds differ from the training data's (collected from seed 0 upwards).
    result = run_mpc(job.task, model, job.episodes, seed=1_000_000 + 1000 * job.seed)
    row.update(success_rate=result.success_rate, stderr=result.stderr, mean_success_step=result.mean_success_step)
    if job.result is not None:
        atomic_write_text(job.result, json.dumps(row, indent=2))
    return row


def make_jobs(
    tasks: list[str],
    cores: list[str],
    seeds: int,
    episodes: int,
    epochs: int,
    out: Path,
    reuse: bool = False,
    predictor_dir: Path | None = None,
    **train_options,
) -> list[MPCJob]:
    """Jobs for every (task, core, seed) and the true model; predictors are trained into
    (or, with ``reuse``, read from) ``predictor_dir``, by default ``out/predictors``."""
    configs = make_configs(tasks, cores, seeds, epochs, predictor_dir or out / "predictors", **train_options)
    jobs = [MPCJob(c.env, c.seed, episodes, c, reuse) for c in configs]
    jobs += [MPCJob(task, seed, episodes) for task in tasks for seed in range(seeds)]
    return jobs


def run(jobs: list[MPCJob], workers: int, launcher: str = "local") -> tuple[list[Row], list[str]]:
    prepare_data([job.train for job in jobs if job.train is not None])
    return fan_out(
        run_job, jobs, workers, launcher=launcher, label=lambda j: f"mpc {j.task}/{j.model_name}/seed{j.seed}"
    )


def format_table(rows: list[Row]) -> str:
    return markdown_table(rows, ("task", "model"), ("success_rate", "mean_success_step", "test_mse", "gen_mse"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=command_name(), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", nargs="+", default=sorted(TASKS), choices=sorted(TASKS))
    parser.add_argument("--cores", nargs="+", default=list(MPC_CORES), choices=MPC_CORES)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=200, help="predictor training epochs (10 batches each)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="reuse predictor checkpoints found under --out")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/local/mpc"))
    args = parser.parse_args(argv)

    jobs = make_jobs(args.tasks, args.cores, args.seeds, args.episodes, args.epochs, args.out, args.reuse)
    rows, _ = run(jobs, args.workers)
    return write_runs(args.out, rows, format_table)


if __name__ == "__main__":
    raise SystemExit(main())

"""The benchmark suites: which benchmarks run on which envs, and with what budget.

``quick`` is a smoke check (under 15 minutes on 2 cores for all envs, one seed): it shows
that every stage runs; its verdicts are expected to be inconclusive. ``standard`` (3
seeds, batched training) decides the environment validation of all 20 ids (64 minutes on 2 cores on 2026-12-07:
benchmarks/results/standard/validation/run.json) and
the prediction claims at 2,000 updates per run, run in parts if need be. ``paper`` trains
the predictors with each env's GateL0RD-paper protocol (``benchmarks.prediction.paper_budget``:
hours to days of CPU per env; for a GPU or a cluster through ``--launcher ray``), the agents
at the papers' budgets, and prints its estimated cost before it starts.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Optional

from baselines.control.mpc import TASKS as MPC_TASK_TABLE
from baselines.predictors.envs import PREDICTOR_ENVS
from baselines.predictors.predictor import CORES
from benchmarks import dreamer, env_speed, env_validation, mpc, prediction, rl
from benchmarks.common import Row, write_csv
from pomdp_envs.cli_errors import Interrupted
from pomdp_envs.files import atomic_write_text

#: Env names accepted by ``--envs``, and the registered ids each one times in ``speed``.
ENV_GROUPS = {
    "billiard": ["pomdp_envs/BilliardBall-v0"],
    "rrc": ["pomdp_envs/RobotRemoteControl-v0"],
    "shepherd": ["pomdp_envs/Shepherd-v0"],
    # DoorKey-8x8 is ShapeHerd's speed reference.
    "shapeherd": ["pomdp_envs/ShapeHerd-v1", "pomdp_envs/MiniGrid-DoorKey-8x8-v0"],
    "fetch": ["pomdp_envs/FetchPickAndPlacePO-v0"],
    "minigrid": ["pomdp_envs/MiniGrid-DoorKey-5x5-v0", "pomdp_envs/MiniGrid-MemoryS7-v0"],
}
PREDICTION_ENVS = tuple(PREDICTOR_ENVS)
#: The suite's stages, in the order they run.
STAGES = ("speed", "validation", "prediction", "mpc", "rl", "dreamer")
MPC_TASKS = tuple(MPC_TASK_TABLE)


@dataclasses.dataclass(frozen=True)
class Suite:
    name: str
    seeds: int
    speed_args: tuple[str, ...]  # extra arguments of benchmarks.env_speed
    # None: each env's paper protocol (benchmarks.prediction.paper_budget); else epochs
    # of 10 batches of 128 sequences, and the training and test set sizes.
    prediction_epochs: Optional[int]
    prediction_train: Optional[int]
    prediction_test: Optional[int]
    mpc_episodes: int  # 0: no MPC stage
    rl_budgets: tuple[tuple[str, int], ...]  # (task of benchmarks.rl, env steps per PPO run)
    rl_claim_seeds: int  # seeds of GateL0RD and the LSTM on the GateL0RD paper's Fig. 6 tasks
    dreamer_models: tuple[str, ...]
    dreamer_steps: int
    dreamer_random_episodes: int
    # The predictors' memory controls: the memoryless core, and models on the fully observable variant.
    memory_controls: bool = False
    # Seeds of the prediction and MPC stages on these envs, in place of ``seeds``.
    env_seeds: tuple[tuple[str, int], ...] = ()

    def seeds_of(self, env: str, seeds: Optional[int] = None) -> int:
        """Seeds of ``env``'s predictors: ``seeds`` where given (``--seeds``), else the suite's."""
        return seeds if seeds is not None else dict(self.env_seeds).get(env, self.seeds)


SUITES = {
    "quick": Suite(
        "quick",
        seeds=1,
        speed_args=("--quick",),
        prediction_epochs=30,
        prediction_train=512,
        prediction_test=256,
        mpc_episodes=10,
        rl_budgets=(("RobotRemoteControl", 16_384), ("DoorKey-5x5", 16_384)),
        rl_claim_seeds=1,
        dreamer_models=("vsg", "rssm"),
        dreamer_steps=3_000,
        dreamer_random_episodes=3,
        memory_controls=True,
    ),
    # 2,000 updates per predictor, 100 Dreamer updates; no MPC (its claims need predictors trained far longer,
    # see benchmarks/results/longer); PPO 1M env steps per run (500k on the two slowest envs).
    "standard": Suite(
        "standard",
        seeds=3,
        speed_args=("--quick",),
        prediction_epochs=200,
        prediction_train=2048,
        prediction_test=512,
        mpc_episodes=0,
        rl_budgets=(
            ("RobotRemoteControl", 1_000_000),
            ("Shepherd", 1_000_000),
            ("FetchPickAndPlacePO", 500_000),
            ("ShapeHerd", 500_000),
            ("DoorKey-5x5", 1_000_000),
            ("MemoryS7", 1_000_000),
            ("RedBlueDoors-6x6", 1_000_000),
        ),
        rl_claim_seeds=5,
        dreamer_models=("vsg", "svsg", "rssm"),
        dreamer_steps=3_500,
        dreamer_random_episodes=10,
        memory_controls=True,
    ),
    # The GateL0RD paper's protocol per env (245k-500k updates, its set sizes; 5 seeds on
    # RRC, whose runs spread most) and PPO for 1e7 frames; the VSG paper its agents for
    # 2.5M frames (625k env steps).
    "paper": Suite(
        "paper",
        seeds=3,
        speed_args=(),
        prediction_epochs=None,
        prediction_train=None,
        prediction_test=None,
        env_seeds=(("rrc", 5),),
        mpc_episodes=50,
        rl_budgets=(("DoorKey-5x5", 10_000_000), ("MemoryS7", 10_000_000)),
        rl_claim_seeds=5,
        dreamer_models=("vsg", "svsg", "rssm"),
        dreamer_steps=625_000,
        dreamer_random_episodes=20,
    ),
}


def run_suite(
    suite: Suite,
    envs: list[str],
    out: Path,
    seeds: int | None = None,
    workers: int = 2,
    launcher: str = "local",
    command: str = "",
    fresh: bool = False,
    stages: tuple[str, ...] = STAGES,
) -> dict[str, list[str]]:
    """Run every benchmark of ``stages`` that applies to ``envs``; CSVs go to ``out``.
    Returns the failed runs per benchmark (the others finish and are written).

    Run again with the same ``out``, suite, envs and seeds, it continues: every training
    run below ``out/runs`` that finished is kept and every unfinished one resumes from its
    checkpoint, the speed table and finished MPC evaluations are kept, and the CSVs and
    the report are rebuilt from what is on disk. Other settings are refused (one line
    naming them); ``fresh`` removes the earlier results first.
    """
    unknown = sorted(set(envs) - set(ENV_GROUPS))
    if unknown:
        raise ValueError(f"unknown envs {unknown}; choose from {sorted(ENV_GROUPS)}")
    if not stages or set(stages) - set(STAGES):
        raise ValueError(f"stages must name some of {STAGES}, got {list(stages)}")
    requested, seeds = seeds, suite.seeds if seeds is None else seeds  # the predictors' seeds: per env
    out.mkdir(parents=True, exist_ok=True)
    options = {"suite": dataclasses.asdict(suite), "envs": envs, "seeds": seeds, "stages": list(stages)}
    earlier_seconds = _start_or_continue(out, options, fresh)
    failures: dict[str, list[str]] = {}
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def stage(name: str, function) -> None:
        if name not in stages:
            return
        start = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            failures[name] = function()
        except Interrupted:
            raise  # the runs saved their work: the suite stops here, and continues when run again
        except Exception as error:  # one broken benchmark must not stop the others
            failures[name] = [f"{name}: {type(error).__name__}: {error}"]
        finally:
            timings[name] = time.perf_counter() - start
            _record_seconds(out, earlier_seconds + time.perf_counter() - started)

    # Speed first and alone: timings taken next to training runs would be meaningless.
    speed_ids = [env_id for env in envs for env_id in ENV_GROUPS[env]]
    stage("speed", lambda: _speed(suite, speed_ids, out))
    # The quick suite checks that the stage runs: one id per group; the others validate every id.
    families = [
        family for env in envs for family in env_validation.FAMILIES[env][: 1 if suite.name == "quick" else None]
    ]
    stage("validation", lambda: _validation(suite, families, seeds, workers, launcher, out))
    pred_envs = [env for env in PREDICTION_ENVS if env in envs]
    if pred_envs:
        stage("prediction", lambda: _prediction(suite, pred_envs, requested, workers, launcher, out))
    tasks = [task for task in MPC_TASKS if task in envs]
    if tasks and suite.mpc_episodes > 0:
        stage("mpc", lambda: _mpc(suite, tasks, requested, workers, launcher, out))
    rl_budgets = rl_budgets_of(suite, envs)
    if rl_budgets:
        stage("rl", lambda: _rl(suite, rl_budgets, seeds, workers, launcher, out))
    if "shapeherd" in envs:
        stage("dreamer", lambda: _dreamer(suite, seeds, workers, launcher, out))
    meta = {
        "suite": suite.name,
        "envs": envs,
        "seeds": seeds,
        "workers": workers,
        "launcher": launcher,
        "command": command,
        "wall_seconds": earlier_seconds + time.perf_counter() - started,  # every sitting's, added up
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "stages": list(stages),
        "stage_seconds": timings,  # this sitting's
        # The seeds each env's predictors and planners ran with (the suite's may vary by env).
        "predictor_seeds": {env: suite.seeds_of(env, requested) for env in [*pred_envs, *tasks]},
        "failures": failures,
        "suite_settings": dataclasses.asdict(suite),
    }
    atomic_write_text(out / "run.json", json.dumps(meta, indent=2))
    return failures


#: What a suite run writes in its ``--out`` (the report's inputs and outputs).
SUITE_FILES = ("suite.json", "run.json", "report.md", "speed.csv", "validation.csv", "prediction.csv", "mpc.csv")


def _start_or_continue(out: Path, options: dict, fresh: bool) -> float:
    """Check or record the suite's options in ``out/suite.json``; returns the wall
    seconds of earlier sittings. ``fresh`` removes earlier results first (said in a line)."""
    path = out / "suite.json"
    if fresh:
        earlier = [p for p in (out / "runs", *(out / name for name in SUITE_FILES)) if p.exists()]
        earlier += sorted(p for p in out.glob("*") if p.suffix in (".csv", ".png") and p not in earlier)
        if earlier:
            print(f"--fresh: replacing in {out}: {', '.join(p.name for p in earlier)}", flush=True)
        for p in earlier:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    if path.is_file():
        recorded = json.loads(path.read_text())
        options = json.loads(json.dumps(options))
        earlier = recorded["options"]
        differ = [key for key in options if earlier.get(key) != options[key]]
        if differ:
            # The suite's settings are a long dict: name the fields of it that differ.
            shown = []
            for key in differ:
                if key == "suite" and isinstance(earlier.get(key), dict):
                    fields = sorted(
                        k for k in {**earlier[key], **options[key]} if earlier[key].get(k) != options[key].get(k)
                    )
                    shown.append(f"suite {earlier[key].get('name')!r} settings {', '.join(fields)}")
                else:
                    shown.append(f"{key} (was {earlier.get(key)!r})")
            raise ValueError(
                f"{out} holds a suite run with other settings: {'; '.join(shown)}; "
                "rerun with its settings to continue it, or add --fresh to start over"
            )
        print(f"continuing the suite run in {out}: finished runs are kept, unfinished ones resume", flush=True)
        return float(recorded.get("seconds", 0.0))
    if (out / "runs").exists() or (out / "run.json").exists():
        raise ValueError(f"{out} holds results of a suite run without suite.json: add --fresh to replace them")
    atomic_write_text(path, json.dumps({"options": options, "seconds": 0.0}, indent=2))
    return 0.0


def _record_seconds(out: Path, seconds: float) -> None:
    path = out / "suite.json"
    recorded = json.loads(path.read_text())
    recorded["seconds"] = seconds
    atomic_write_text(path, json.dumps(recorded, indent=2))


def estimate_cost(suite: Suite, envs: list[str], seeds: int | None = None, workers: int = 2) -> list[Row]:
    """About what each stage costs on this machine: a few updates of every kind of run
    timed here, times the suite's budget. Rows of stage, runs, CPU hours and wall hours
    on ``workers`` parallel runs (MPC and the speed stage, minutes at most, left out)."""
    import tempfile

    import torch

    from baselines.agents.ppo import train as train_ppo

    requested, seeds = seeds, suite.seeds if seeds is None else seeds
    rows: list[Row] = []
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        for env in (env for env in PREDICTION_ENVS if env in envs):
            jobs = _prediction_jobs(suite, [env], requested, out)
            job_seconds = [_prediction_job_seconds(job) for job in jobs]
            runs = sum(len(job.runs()) for job in jobs)
            rows.append(
                {
                    "stage": f"prediction {env}",
                    "env": env,
                    "runs": runs,
                    "cpu_seconds": sum(job_seconds),
                    "jobs": job_seconds,
                }
            )
        for task, steps in rl_budgets_of(suite, envs).items():
            configs = rl.make_configs({task: steps}, seeds, out / "rl", suite.rl_claim_seeds)
            rollout = configs[0].num_envs * configs[0].num_steps
            seconds_of = {}
            for updates in (1, 5):  # the difference leaves out the start-up cost
                start = time.perf_counter()
                train_ppo(
                    dataclasses.replace(configs[0], total_steps=updates * rollout, out_dir=out / f"rl-{task}{updates}")
                )
                seconds_of[updates] = time.perf_counter() - start
            per_step = max(seconds_of[5] - seconds_of[1], 0.0) / (4 * rollout)
            rows.append(
                {
                    "stage": f"rl {task}",
                    "env": rl.TASKS[task][1],
                    "runs": len(configs),
                    "cpu_seconds": per_step * steps * len(configs),
                }
            )
        if "shapeherd" in envs:
            preset = "paper" if suite.name == "paper" else "cpu-small"
            configs = dreamer.make_configs(
                list(suite.dreamer_models), seeds, suite.dreamer_steps, out / "dreamer", preset
            )
            per_model = dreamer.estimate_per_model(configs)
            rows.append(
                {
                    "stage": "dreamer",
                    "env": "shapeherd",
                    "runs": len(configs),
                    "cpu_seconds": sum(per_model[config.world.model] for config in configs),
                }
            )
    for row in rows:
        row["wall_hours"] = row["cpu_seconds"] / 3600 / max(1, min(workers, row["runs"]))
        row["cpu_hours"] = row["cpu_seconds"] / 3600
        # With a worker per job (a cluster through --launcher ray): the longest job.
        row["longest_job_hours"] = max(row.pop("jobs", [row["cpu_seconds"] / max(1, row["runs"])])) / 3600
    return rows


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}, Python {platform.python_version()}"


#: Where ``--estimate`` keeps its rows in a suite's ``--out``, for the report.
ESTIMATES_FILE = "estimates.json"


def record_estimate(out: Path, rows: list[Row], workers: int) -> None:
    """Keep ``rows`` of ``estimate_cost`` in ``out/estimates.json``, each stage's latest
    (an estimate of other envs, made before or after a run, is kept beside its own)."""
    path = out / ESTIMATES_FILE
    kept = {row["stage"]: row for row in json.loads(path.read_text())} if path.is_file() else {}
    stamp = {"workers": workers, "date": time.strftime("%Y-%m-%d"), "machine": machine()}
    kept.update({row["stage"]: {**row, **stamp} for row in rows})
    atomic_write_text(path, json.dumps(list(kept.values()), indent=1))


def _prediction_job_seconds(job) -> float:
    """CPU seconds of one prediction job (its runs trained as one batch on one thread):
    a few updates and an evaluation timed on small splits, scaled to the job's budget (an
    update's cost does not depend on the training set's size; an evaluation's grows with
    the test sets')."""
    from baselines.predictors.train import StackedTrainer, _evaluate, load_data

    small = 32
    timed = dataclasses.replace(job, num_train=256, num_test=small, num_generalisation=small)
    data = load_data(timed)
    trainer = StackedTrainer(timed, data)
    trainer.update(0.5)
    start = time.perf_counter()
    for _ in range(5):
        trainer.update(0.5)
    update = (time.perf_counter() - start) / 5
    start = time.perf_counter()
    _evaluate(trainer.stacked, timed, data)
    evaluation = (time.perf_counter() - start) * (job.num_test + job.resolved_num_generalisation()) / (2 * small)
    evaluations = -(-job.epochs // job.eval_every)
    return update * job.epochs * job.resolved_batches_per_epoch() + evaluation * evaluations


def format_estimate(rows: list[Row], workers: int) -> str:
    lines = [
        f"Estimated cost on this machine ({workers} parallel runs; a cluster through --launcher ray, "
        "one worker per job: the longest job):",
        f"| stage | runs | CPU hours | wall hours on {workers} | longest job hours |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['stage']} | {r['runs']} | {r['cpu_hours']:,.1f} | {r['wall_hours']:,.1f} | {r['longest_job_hours']:,.1f} |"
        for r in rows
    ]
    total = sum(r["wall_hours"] for r in rows)
    longest = max((r["longest_job_hours"] for r in rows), default=0.0)
    lines.append(
        f"| total | {sum(r['runs'] for r in rows)} | {sum(r['cpu_hours'] for r in rows):,.1f} | {total:,.1f} | "
        f"{longest:,.1f} |"
    )
    return "\n".join(lines)


def _speed(suite: Suite, ids: list[str], out: Path) -> list[str]:
    if (out / "speed.csv").is_file():
        print(f"kept the speed table measured earlier ({out / 'speed.csv'}; delete it to measure again)")
        return []
    code = env_speed.main(["--ids", *ids, "--csv", str(out / "speed.csv"), *suite.speed_args])
    return [] if code == 0 else [f"env_speed exited with {code}"]


def _validation(suite: Suite, families: list[str], seeds: int, workers: int, launcher: str, out: Path) -> list[str]:
    # The quick suite checks that the stage runs; the others use each env's own budget.
    budget = "quick" if suite.name == "quick" else None
    rows, failed = env_validation.run(families, seeds, budget, workers, launcher, out / "runs" / "validation")
    _write(out, "validation", rows)
    return failed


def _write(out: Path, name: str, rows: list[Row]) -> None:
    if rows:
        write_csv(out / f"{name}.csv", rows)


def _prediction_jobs(suite: Suite, envs: list[str], seeds: Optional[int], out: Path) -> list:
    sizes = {}
    if suite.prediction_epochs is not None:
        sizes = dict(num_train=suite.prediction_train, num_test=suite.prediction_test)
    return [
        job
        for env in envs
        for job in prediction.make_jobs(
            [env],
            list(CORES),
            suite.seeds_of(env, seeds),
            suite.prediction_epochs,
            out / "runs" / "prediction",
            memory_controls=suite.memory_controls,
            **sizes,
        )
    ]


def _prediction(
    suite: Suite, envs: list[str], seeds: Optional[int], workers: int, launcher: str, out: Path
) -> list[str]:
    rows, failed = prediction.run(_prediction_jobs(suite, envs, seeds, out), workers, launcher)
    _write(out, "prediction", rows)
    return failed


def _mpc(suite: Suite, tasks: list[str], seeds: Optional[int], workers: int, launcher: str, out: Path) -> list[str]:
    # Plans with the predictors the prediction stage trained, so the MPC rows and the
    # prediction rows describe the same models.
    trained = prediction.checkpoints(_prediction_jobs(suite, tasks, seeds, out))
    results = out / "runs" / "mpc"
    jobs = [
        mpc.MPCJob(
            task,
            seed,
            suite.mpc_episodes,
            checkpoint=trained[(task, core, seed)],
            core=core,
            result=results / f"{task}-{core}-seed{seed}.json",
        )
        for task in tasks
        for core in mpc.MPC_CORES
        for seed in range(suite.seeds_of(task, seeds))
    ]
    jobs += [
        mpc.MPCJob(task, seed, suite.mpc_episodes, result=results / f"{task}-true-seed{seed}.json")
        for task in tasks
        for seed in range(suite.seeds_of(task, seeds))
    ]
    rows, failed = mpc.run(jobs, workers, launcher)
    _write(out, "mpc", rows)
    return failed


def rl_budgets_of(suite: Suite, envs: list[str]) -> dict[str, int]:
    """The RL stage's tasks among ``envs`` and their env steps per run."""
    return {task: steps for task, steps in suite.rl_budgets if rl.TASKS[task][1] in envs}


def _rl(suite: Suite, budgets: dict[str, int], seeds: int, workers: int, launcher: str, out: Path) -> list[str]:
    configs = rl.make_configs(budgets, seeds, out / "runs" / "rl", suite.rl_claim_seeds)
    # The scale first: minutes at most, and the report can show it while the runs go on.
    scale = rl.scale_rows(list(budgets), seeds)
    write_csv(out / "rl_scale.csv", scale)
    rows, failed = rl.run(configs, workers, launcher)
    rl.write_results(rows, out, scale)
    return failed


def _dreamer(suite: Suite, seeds: int, workers: int, launcher: str, out: Path) -> list[str]:
    preset = "paper" if suite.name == "paper" else "cpu-small"
    configs = dreamer.make_configs(
        list(suite.dreamer_models), seeds, suite.dreamer_steps, out / "runs" / "dreamer", preset
    )
    dreamer.print_estimate(configs, workers)
    rows, failed = dreamer.run(configs, workers, suite.dreamer_random_episodes, launcher)
    dreamer.write_results(rows, out / "dreamer.csv", out / "dreamer_curves.csv", out / "dreamer_objects.png")
    return failed

"""Train sequence predictors (GateL0RD, LSTM, GRU or Elman) on one environment, many
runs at once.

    python -m baselines.predictors.train --env rrc --core gatel0rd
    python -m baselines.predictors.train --env rrc --core gatel0rd --seeds 0 1 2 --reg-lambdas 0 1e-3 1e-2
    python -m baselines.predictors.train --env shepherd --core gru --epochs 50 --help

Every combination of ``--seeds``, ``--reg-lambdas`` and ``--lrs`` is one run; the runs
train together in one batched graph (``baselines.predictors.stacked``), each with its own weights,
data order, noise, optimiser state and clipping; the gradients of GateL0RD and the RNNs
come from hand-written backward passes (``baselines.predictors.by_hand``, the same numbers
as autograd's, which ``--gradients autograd`` uses instead). A single run writes ``metrics.csv``
(one row per evaluation: test and generalisation error, task loss and gate penalty),
``checkpoint.pt`` and ``scores.json`` to ``out_dir``; several runs write one folder each
below it, named after the run. Run again with the same ``out_dir`` and options, finished
runs are kept and unfinished ones continue from their last checkpoint
(``--checkpoint-every`` epochs, and on SIGTERM/SIGINT; ``baselines.resume``).

The defaults per environment are the GateL0RD paper's (``baselines.predictors.envs.PREDICTOR_ENVS``): model sizes,
the objective MSE(predicted next observation, next observation) + lambda * mean(Theta)
in observation units, Adam (eps 1e-4), gradient-norm clipping at 0.1 per run, the
learning rates, sequence lengths, and the scheduled-sampling schedule
max(floor, 0.998^epoch) with the paper's epoch (``batches_per_epoch`` batches of 128).
Only the budget is smaller: a run of ``epochs`` epochs, fewer than the paper's, follows
the same schedule compressed in time (decay 0.998^(paper epochs / epochs) per epoch), so
the real-input probability reaches its floor at the same fraction of training.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Optional

import gymnasium as gym
import numpy as np
import torch

from baselines import resume
from baselines.predictors import metrics
from baselines.predictors.by_hand import PredictorGradients
from baselines.predictors.checkpoint import save_checkpoint
from baselines.predictors.data import BILLIARD_SUBSETS, ShuffledPasses, balanced_batch_index, window
from baselines.predictors.envs import PREDICTOR_ENVS, EnvDefaults
from baselines.predictors.gatel0rd_backward import GateL0RDGradients
from baselines.predictors.predictor import ALL_CORES, MEMORYLESS, Predictor, PredictorConfig, sample_real_inputs
from baselines.predictors.rnn_backward import RNNGradients
from baselines.predictors.splits import load_split
from baselines.predictors.stacked import StackedAdam, StackedPredictor, clip_grad_norm_per_run
from baselines.resume import (
    SCORES_FILE,
    StopSignals,
    clear_state,
    due,
    is_finished,
    load_state,
    prepare_runs,
    save_state,
)
from baselines.runlog import Tracker, config_dict, write_csv
from pomdp_envs.cli_errors import command_name, run_command, writable_dir
from pomdp_envs.datasets import Sequences
from pomdp_envs.files import atomic_write_text
from pomdp_envs.wrappers.fully_observable import fully_observed_sequences

ADAM_EPS = 1e-4


#: The paper's teacher-forcing learning rates (its Billiard Ball configs), per core; the
#: memoryless control, which the paper does not train, takes the GRU's.
TEACHER_FORCING_LR = {"gatel0rd": 1e-3, "gru": 1e-3, "lstm": 1e-3, "elman": 5e-4, MEMORYLESS: 1e-3}
SS_DECAY = 0.998  # per paper epoch
# Command-line choices, derived from the env table and the cores.
Env = Literal[tuple(PREDICTOR_ENVS)]  # type: ignore[valid-type]
Core = Literal[ALL_CORES]  # type: ignore[valid-type]


@dataclasses.dataclass
class TrainConfig:
    """Options of a training job; empty tuples and ``None`` mean the environment's default."""

    env: Env = "rrc"
    core: Core = "gatel0rd"
    seeds: tuple[int, ...] = (0,)  # one run per seed (times lambdas times lrs)
    reg_lambdas: tuple[float, ...] = ()  # L0 gate penalty (GateL0RD only); () = the paper's
    lrs: tuple[float, ...] = ()  # () = the paper's for this env, core and input regime
    latent_size: Optional[int] = None
    window: int = 1  # core mlp (memoryless): the last K inputs it sees
    epochs: int = 100
    batches_per_epoch: Optional[int] = None  # None: the paper's epoch
    batch_size: int = 128
    num_train: int = 2048
    num_test: int = 512
    num_generalisation: Optional[int] = None  # None: num_test
    # "passes": each epoch's batches walk through the training set in a fresh random order
    # per pass, as many sequences of each of the env's groups in every batch (the paper's
    # data loaders: RRC 64 control + 64 no-control); "with-replacement": rows drawn
    # independently (balanced on Billiard Ball only), as earlier versions did.
    batch_order: Literal["passes", "with-replacement"] = "passes"
    teacher_forcing: bool = False  # False: scheduled sampling
    # Train on the fully observable variant (the hidden factors appended to each observation,
    # pomdp_envs.wrappers.FullyObservable; vector-observation envs); errors are reported on
    # the original observation entries, comparable with the partial runs'.
    fully_observable: bool = False
    ss_decay: Optional[float] = None  # per epoch; None: the paper's schedule over `epochs`
    ss_floor: Optional[float] = None
    grad_clip: float = 0.1
    eval_every: int = 10
    data_seed: int = 0  # the datasets are the same for every run, as in the paper
    threads: int = 1  # small models on a busy CPU run fastest on one thread
    workers: int = 1  # processes the runs are split across, each training its share as one batch
    device: str = "cpu"  # "cuda" where a GPU is present
    # The batched trainer's gradients: "by-hand", a hand-written backward pass (the same
    # gradients, several times fewer ops; GateL0RD and the RNNs), or "autograd" (always for
    # the memoryless core).
    gradients: Literal["by-hand", "autograd"] = "by-hand"
    compile: bool = False  # torch.compile the autograd loss (minutes of compilation per shape)
    track: bool = False  # also write TensorBoard event files beside each run's metrics.csv
    checkpoint_every: int = 20  # epochs between checkpoints (0: only at the end and on SIGTERM/SIGINT)
    fresh: bool = False  # replace the runs in out_dir instead of continuing them
    out_dir: Path = Path("runs/predictor")
    cache_dir: Optional[Path] = None
    progress: bool = True

    def check(self) -> None:
        """``ValueError`` with what to change, for options no run can use (called by
        ``train_runs`` before any work; not at construction, so that the command line
        reports it in one line)."""
        if self.env not in PREDICTOR_ENVS:
            raise ValueError(f"unknown env {self.env!r}; choose from {sorted(PREDICTOR_ENVS)}")
        if self.core not in ALL_CORES:
            raise ValueError(f"unknown core {self.core!r}; choose from {ALL_CORES}")
        if self.window < 1 or (self.window > 1 and self.core != MEMORYLESS):
            raise ValueError(f"window must be >= 1 and is for --core {MEMORYLESS} only")
        if not self.seeds:
            raise ValueError("seeds must name at least one seed")
        if self.workers < 1 or self.threads < 1:
            raise ValueError("workers and threads must be >= 1")
        if min(self.epochs, self.batch_size, self.num_train, self.num_test, self.eval_every) < 1:
            raise ValueError("epochs, batch_size, num_train, num_test and eval_every must be >= 1")
        if self.num_generalisation is not None and self.num_generalisation < 1:
            raise ValueError("num_generalisation must be >= 1 (or None: num_test)")
        if self.batch_order not in ("passes", "with-replacement"):
            raise ValueError(f"batch_order must be 'passes' or 'with-replacement', got {self.batch_order!r}")
        if self.checkpoint_every < 0:
            raise ValueError("checkpoint_every must be >= 0 (0: no periodic checkpoints)")
        if self.batches_per_epoch is not None and self.batches_per_epoch < 1:
            raise ValueError("batches_per_epoch must be >= 1")
        if any(lr <= 0 for lr in self.lrs) or any(value < 0 for value in self.reg_lambdas):
            raise ValueError("learning rates must be > 0 and lambdas >= 0")
        if self.gradients not in ("by-hand", "autograd"):
            raise ValueError(f"gradients must be 'by-hand' or 'autograd', got {self.gradients!r}")
        if self.fully_observable and self.env == "fetch":
            raise ValueError("fetch's fully observable variant adds upstream dimensions the datasets do not hold")
        if self.compile and self.uses_gradients_by_hand():
            raise ValueError("compile compiles the autograd loss: add --gradients autograd")

    def uses_gradients_by_hand(self) -> bool:
        return self.core in BY_HAND and self.gradients == "by-hand"

    @property
    def defaults(self) -> EnvDefaults:
        return PREDICTOR_ENVS[self.env].defaults

    @property
    def start_steps(self) -> int:
        return self.defaults.start_steps

    @property
    def seed(self) -> int:
        """The first seed: the seed of a single-run job."""
        return self.seeds[0]

    def resolved_lambdas(self) -> tuple[float, ...]:
        if self.core != "gatel0rd":
            return (0.0,)
        return self.reg_lambdas or (self.defaults.reg_lambda,)

    def resolved_lrs(self) -> tuple[float, ...]:
        if self.lrs:
            return self.lrs
        return (TEACHER_FORCING_LR[self.core] if self.teacher_forcing else self.defaults.ss_lr,)

    def resolved_num_generalisation(self) -> int:
        return self.num_test if self.num_generalisation is None else self.num_generalisation

    def resolved_batches_per_epoch(self) -> int:
        return self.batches_per_epoch or self.defaults.batches_per_epoch

    def resolved_ss_floor(self) -> float:
        return self.defaults.ss_floor if self.ss_floor is None else self.ss_floor

    def resolved_ss_decay(self) -> float:
        if self.ss_decay is not None:
            return self.ss_decay
        return SS_DECAY ** (self.defaults.paper_epochs / self.epochs)

    def predictor_config(self) -> PredictorConfig:
        env = self.defaults
        return PredictorConfig(
            core=self.core,
            latent_size=env.latent_size if self.latent_size is None else self.latent_size,
            feature_size=env.feature_size,
            init_layers=env.init_layers,
            init_inputs=env.init_inputs,
            internal_layers=env.internal_layers,
            rnn_layers=env.rnn_layers,
            window=self.window,
        )

    def runs(self) -> list[RunSpec]:
        """One run per (seed, lambda, lr), in that nesting order."""
        lambdas, lrs = self.resolved_lambdas(), self.resolved_lrs()
        specs = []
        for seed, reg_lambda, lr in itertools.product(self.seeds, lambdas, lrs):
            parts = [self.core if self.window == 1 else f"{self.core}{self.window}"]
            if len(lambdas) > 1 or self.core == "gatel0rd":
                parts.append(f"lambda{reg_lambda:g}")
            if len(lrs) > 1:
                parts.append(f"lr{lr:g}")
            parts.append(f"seed{seed}")
            specs.append(RunSpec("-".join(parts), seed, reg_lambda, lr))
        return specs


@dataclasses.dataclass(frozen=True)
class RunSpec:
    name: str
    seed: int
    reg_lambda: float
    lr: float


#: The hand-written backward pass of each core that has one.
BY_HAND: dict[str, type[PredictorGradients]] = {
    "gatel0rd": GateL0RDGradients,
    **{core: RNNGradients for core in RNNGradients.cores},
}


def gradients_by_hand(stacked: StackedPredictor) -> Optional[PredictorGradients]:
    """The hand-written loss and backward pass of ``stacked``'s core (None for a core without one)."""
    kind = BY_HAND.get(stacked.config.core)
    return None if kind is None else kind(stacked)


def real_input_probability(config: TrainConfig, epoch: int) -> float:
    """Probability of feeding the real observation in ``epoch`` (1-based): 1 for teacher
    forcing, else the scheduled-sampling schedule max(floor, decay ** epoch)."""
    if config.teacher_forcing:
        return 1.0
    return max(config.resolved_ss_floor(), config.resolved_ss_decay() ** epoch)


def build_model(config: TrainConfig, sequences: Sequences, seed: Optional[int] = None) -> Predictor:
    """A freshly initialised predictor for ``sequences``' shapes (PyTorch's default
    initialisation, from ``torch.manual_seed(seed)`` when a seed is given)."""
    if seed is not None:
        torch.manual_seed(seed)
    obs_size = sequences.observations.shape[-1]
    action_size = 0 if sequences.actions.ndim == 2 else sequences.actions.shape[-1]
    return Predictor(obs_size, action_size, config.predictor_config())


def load_data(config: TrainConfig) -> dict[str, Sequences]:
    """Train, test and generalisation splits, cut to the env's sequence length."""
    return {split: load_job_split(config, split) for split in split_sizes(config)}


def load_job_split(config: TrainConfig, split: str) -> Sequences:
    """One split as the job trains or scores on it: its size, cut to the env's sequence length."""
    steps = config.defaults.num_steps
    sequences = load_split(config.env, split, split_sizes(config)[split], config.data_seed, config.cache_dir)
    sequences = window(sequences, 0, steps) if sequences.num_steps > steps else sequences
    return fully_observed_sequences(sequences) if config.fully_observable else sequences


def split_sizes(config: TrainConfig) -> dict[str, int]:
    """Sequences of each split the job trains and scores on."""
    return {"train": config.num_train, "test": config.num_test, "generalisation": config.resolved_num_generalisation()}


def batch_groups(config: TrainConfig) -> np.ndarray:
    """(num_train,) the group of each training sequence that batches balance (the env's
    ``batch_groups``, read off the split as collected, before it is cut to the paper's
    sequence length)."""
    train = load_split(config.env, "train", config.num_train, config.data_seed, config.cache_dir)
    return PREDICTOR_ENVS[config.env].batch_groups(train)


def observed_size(config: TrainConfig, data: dict[str, Sequences]) -> int:
    """Observation entries the errors are computed on: the env's own, also when the model
    sees the fully observable variant's appended hidden factors."""
    size = data["test"].observations.shape[-1]
    if config.fully_observable:
        env = gym.make(data["test"].env_id)
        size = env.observation_space.shape[0]
        env.close()
    return size


class RunDraws:
    """One run's random draws for each update, in a fixed order from its own generator:
    batch indices, gate noise, scheduled-sampling choices. The plain and the batched
    trainer use the same draws, so a run gives the same numbers in either. ``groups`` (N,)
    are the training sequences' batch groups (``batch_order`` "passes")."""

    def __init__(
        self, config: TrainConfig, seed: int, groups: np.ndarray, num_steps: int, device: torch.device
    ) -> None:
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.config, self.num_rows, self.num_steps, self.device = config, len(groups), num_steps, device
        self.gate_noise = config.predictor_config().gate_noise if config.core == "gatel0rd" else 0.0
        self.latent_size = config.predictor_config().latent_size
        self.passes = None
        if config.batch_order == "passes":
            self.passes = ShuffledPasses(groups, config.batch_size, self.generator, device)

    def state(self) -> dict[str, Any]:
        """What decides the future draws: the generator, and the passes in progress."""
        return {"generator": self.generator.get_state(), "passes": None if self.passes is None else self.passes.state()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        if self.passes is not None:
            self.passes.load_state(state["passes"])

    def next(self, p_real: float) -> tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor]:
        cfg, g, batch = self.config, self.generator, self.config.batch_size
        if self.passes is not None:
            index = self.passes.next()
        elif cfg.env == "billiard":  # the paper's batches: 8 of each of 16 sub-datasets
            index = balanced_batch_index(self.num_rows, len(BILLIARD_SUBSETS), batch, g, self.device)
        else:
            index = torch.randint(self.num_rows, (batch,), generator=g, device=self.device)
        noise = None
        if self.gate_noise > 0:
            noise = self.gate_noise * torch.randn(
                batch, self.num_steps, self.latent_size, generator=g, device=self.device
            )
        use_real = sample_real_inputs(batch, self.num_steps, p_real, g, self.device)
        return index, noise, use_real


@dataclasses.dataclass
class RunResult:
    spec: RunSpec
    out_dir: Path
    scores: dict[str, float]
    status: str = "new"  # "new", "resumed at epoch E, batch B" or "finished earlier"


def train(config: TrainConfig) -> dict[str, float]:
    """Train a job of exactly one run; return its final scores (also in ``scores.json``)."""
    results = train_runs(config)
    if len(results) != 1:
        raise ValueError(f"train() runs one run, the config has {len(results)}; use train_runs()")
    return results[0].scores


class StackedTrainer:
    """Every run of ``config`` as one ``StackedPredictor`` with its optimiser and draws;
    ``update`` performs one training step of all runs."""

    def __init__(self, config: TrainConfig, data: dict[str, Sequences], specs: Optional[list[RunSpec]] = None) -> None:
        self.config, self.device = config, torch.device(config.device)
        self.specs = config.runs() if specs is None else specs
        self.observations, self.actions = (
            None if t is None else t.to(self.device) for t in metrics.as_tensors(data["train"])
        )
        num_steps = self.observations.shape[1] - 1
        self.models = [build_model(config, data["train"], spec.seed).to(self.device) for spec in self.specs]
        self.stacked = StackedPredictor(self.models)
        self.optimizer = StackedAdam(self.stacked, torch.tensor([spec.lr for spec in self.specs]), eps=ADAM_EPS)
        self.lambdas = torch.tensor([spec.reg_lambda for spec in self.specs], device=self.device)
        groups = batch_groups(config)
        self.draws = [RunDraws(config, spec.seed, groups, num_steps, self.device) for spec in self.specs]
        self.loss_fn = torch.compile(_stacked_loss, dynamic=False) if config.compile else _stacked_loss
        self.by_hand = gradients_by_hand(self.stacked) if config.uses_gradients_by_hand() else None

    def update(self, p_real: float) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of every run; returns the (R,) task losses and gate penalties."""
        index, noise, use_real = zip(*(run.next(p_real) for run in self.draws))
        index = torch.stack(index)
        actions = None if self.actions is None else self.actions[index]
        noise = None if noise[0] is None else torch.stack(noise)
        batch = (self.observations[index], actions, torch.stack(use_real), noise, self.lambdas, self.config.start_steps)
        if self.by_hand is not None:
            task, penalty = self.by_hand(*batch)  # sets the gradients
        else:
            self.stacked.zero_grad()
            task, penalty = self.loss_fn(self.stacked, *batch)
            with warnings.catch_warnings():
                # The gradients are views into one flat buffer, on purpose (see baselines.predictors.stacked).
                warnings.filterwarnings("ignore", message="grad and param do not obey the gradient layout contract")
                (task + penalty).sum().backward()
        clip_grad_norm_per_run(self.stacked, self.config.grad_clip)
        self.optimizer.step()
        return task.detach(), penalty.detach()

    def trained_model(self, run: int) -> Predictor:
        model = self.models[run]
        model.load_state_dict(self.stacked.run_state_dict(run))
        return model

    def run_state(self, run: int) -> dict[str, Any]:
        """What decides run ``run``'s future updates: weights, Adam state, its generator."""
        return {
            "weights": self.stacked.flat[run].clone().cpu(),
            "exp_avg": self.optimizer.exp_avg[run].clone().cpu(),
            "exp_avg_sq": self.optimizer.exp_avg_sq[run].clone().cpu(),
            "adam_steps": self.optimizer.steps,
            "draws": self.draws[run].state(),
        }

    def load_run_state(self, run: int, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.stacked.flat[run].copy_(state["weights"])
            self.optimizer.exp_avg[run].copy_(state["exp_avg"])
            self.optimizer.exp_avg_sq[run].copy_(state["exp_avg_sq"])
        self.optimizer.steps = state["adam_steps"]
        self.draws[run].load_state(state["draws"])


def train_runs(config: TrainConfig) -> list[RunResult]:
    """Train every run of ``config``, as one batch or split across ``config.workers``
    processes (a batch each); write and return each run's results, in ``runs()`` order.

    A run's numbers do not depend on the runs it is batched with, so the split changes
    only the speed: on a CPU, two one-thread processes of R / 2 runs each make more
    updates per second than one process of R runs on two threads.

    Run again with the same ``out_dir`` and options, finished runs are kept (their
    ``status`` says so) and unfinished ones continue from their checkpoints
    (``baselines.resume``); runs checkpointed at different points train in separate batches.
    """
    config.check()
    writable_dir(config.out_dir)
    specs, out_dirs = config.runs(), run_dirs(config)
    prepare_runs([(out_dir, run_options(config, spec)) for spec, out_dir in zip(specs, out_dirs)], config.fresh)
    results: dict[int, RunResult] = {}
    positions: dict[tuple[int, int], list[int]] = {}
    for i, out_dir in enumerate(out_dirs):
        if is_finished(out_dir):
            scores = json.loads((out_dir / SCORES_FILE).read_text())
            results[i] = RunResult(specs[i], out_dir, scores, "finished earlier")
        else:
            state = load_state(out_dir)
            position = (0, 0) if state is None else (state["epoch"], state["batch"])
            positions.setdefault(position, []).append(i)
    if positions:
        load_data(config)  # collect the splits once, before the workers read them from the cache
    work = []
    for group in positions.values():
        for part in split_runs(group, min(config.workers, len(group))):
            work.append(part)
    if len(work) == 1:
        parts = [_train_group(config, [specs[i] for i in work[0]], [out_dirs[i] for i in work[0]])]
    elif work:
        with StopSignals(forward=True) as stop:
            parts = in_processes(
                _train_group,
                [
                    (config, [specs[i] for i in group], [out_dirs[i] for i in group], position)
                    for position, group in enumerate(work)
                ],
                processes=min(config.workers, len(work)),
            )
        stop.raise_if_requested(str(config.out_dir))
    else:
        parts = []
    for group, part in zip(work, parts):
        results.update(zip(group, part))
    return [results[i] for i in range(len(specs))]


def run_options(config: TrainConfig, spec: RunSpec) -> dict[str, Any]:
    """What decides one run's numbers: the job's options less the other runs of the job
    (so a job may grow seeds and keep the runs it has), and the run's own."""
    options = resume.run_options(config, also_ignore=("seeds", "reg_lambdas", "lrs"))
    options["run"] = dataclasses.asdict(spec)
    return options


def split_runs(items: list, workers: int) -> list[list]:
    """``items`` dealt round-robin into ``workers`` groups (sizes differ by at most one)."""
    return [items[w::workers] for w in range(workers)]


def in_processes(function: Callable[..., Any], arguments: list[tuple], processes: Optional[int] = None) -> list[Any]:
    """``function(*args)`` for each tuple of ``arguments`` in spawned processes (not
    forked: a fork would copy torch's thread pools), at most ``processes`` at a time (one
    per tuple by default), results in order."""
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(processes or len(arguments), mp_context=context) as pool:
        return list(pool.map(function, *zip(*arguments)))


def _train_group(config: TrainConfig, specs: list[RunSpec], out_dirs: list[Path], position: int = 0) -> list[RunResult]:
    """Train ``specs`` as one batch, writing run ``i``'s results to ``out_dirs[i]``; runs
    with a checkpoint (all at the same point) continue from it."""
    torch.set_num_threads(config.threads)
    data = load_data(config)
    trainer = StackedTrainer(config, data, specs)
    device = trainer.device
    states = [load_state(out_dir) for out_dir in out_dirs]
    rows: list[list[dict[str, float]]] = [[] for _ in specs]
    epoch, batch, seconds_before = 1, 0, 0.0
    task_sum = torch.zeros(len(specs), device=device)
    penalty_sum = torch.zeros(len(specs), device=device)
    if states[0] is not None:
        epoch, batch, seconds_before = states[0]["epoch"], states[0]["batch"], states[0]["seconds"]
        for r, state in enumerate(states):
            trainer.load_run_state(r, state["run"])
            rows[r] = state["rows"]
            task_sum[r], penalty_sum[r] = state["task_sum"], state["penalty_sum"]
    status = "new" if states[0] is None else f"resumed at epoch {epoch}, batch {batch}"
    observed = observed_size(config, data)
    trackers = [Tracker(out_dir) for out_dir in out_dirs] if config.track else []
    batches = config.resolved_batches_per_epoch()
    bar = None
    if config.progress:
        from tqdm import tqdm

        bar = tqdm(
            total=config.epochs,
            initial=epoch - 1,
            desc=f"{config.env}/{config.core} x{len(specs)}",
            unit="epoch",
            position=position,
        )
    start = time.perf_counter()
    where = str(out_dirs[0].parent if len(out_dirs) > 1 else out_dirs[0])

    def checkpoint() -> None:
        seconds = seconds_before + time.perf_counter() - start
        for r, out_dir in enumerate(out_dirs):
            state = {
                "epoch": epoch,
                "batch": batch,
                "seconds": seconds,
                "run": trainer.run_state(r),
                "rows": rows[r],
                "task_sum": float(task_sum[r]),
                "penalty_sum": float(penalty_sum[r]),
            }
            save_state(out_dir, state)
            write_csv(out_dir / "metrics.csv", rows[r])

    with StopSignals() as stop:
        while epoch <= config.epochs:
            p_real = real_input_probability(config, epoch)
            while batch < batches:
                task, penalty = trainer.update(p_real)
                task_sum += task
                penalty_sum += penalty
                batch += 1
                if batch < batches:
                    stop.stop_if_requested(checkpoint, where)
            if epoch % config.eval_every == 0 or epoch == config.epochs:
                evaluation = _evaluate(trainer.stacked, config, data, observed)
                seconds = seconds_before + time.perf_counter() - start
                task_mean, penalty_mean = (task_sum / batches).tolist(), (penalty_sum / batches).tolist()
                for r, row in enumerate(evaluation):
                    row.update(
                        epoch=epoch,
                        train_task_loss=task_mean[r],
                        train_gate_penalty=penalty_mean[r],
                        real_input_prob=p_real,
                        seconds=seconds,
                    )
                    rows[r].append(row)
                    if trackers:
                        trackers[r].write(row, epoch)
                if bar is not None:
                    best = min(range(len(specs)), key=lambda r: evaluation[r]["test_mse"])
                    bar.set_postfix(best_test_mse=f"{evaluation[best]['test_mse']:.2e}")
            # The next epoch starts here: a checkpoint taken now resumes at its first batch.
            finished, epoch, batch = epoch, epoch + 1, 0
            task_sum.zero_()
            penalty_sum.zero_()
            if bar is not None:
                bar.update()
            if due(finished, finished - 1, config.checkpoint_every) or finished == config.epochs:
                checkpoint()  # at the end too, so a stop while scoring does not retrain
            stop.stop_if_requested(checkpoint, where)
    if bar is not None:
        bar.close()
    for tracker in trackers:
        tracker.close()
    return [
        _finish(config, data, trainer, r, spec, out_dir, rows[r], status)
        for r, (spec, out_dir) in enumerate(zip(specs, out_dirs))
    ]


def _finish(
    config: TrainConfig,
    data: dict[str, Sequences],
    trainer: StackedTrainer,
    run: int,
    spec: RunSpec,
    out_dir: Path,
    rows: list[dict[str, float]],
    status: str,
) -> RunResult:
    """Write a trained run's metrics, model and scores (``scores.json`` last: it marks the
    run finished), then drop its resume checkpoint."""
    model = trainer.trained_model(run)
    write_csv(out_dir / "metrics.csv", rows)
    save_checkpoint(
        out_dir / "checkpoint.pt",
        model,
        data["train"].env_id,
        config.start_steps,
        config_dict(config),
        dataclasses.asdict(spec),
    )
    scores = dict(rows[-1])
    # The curves' minima: an error that rises during training ends above them.
    scores.update({f"{name}_min": min(row[name] for row in rows) for name in ("test_mse", "gen_mse")})
    model = model.cpu()
    scores.update(metrics.latent_scores(model, data["test"], config.start_steps))
    for name, score in PREDICTOR_ENVS[config.env].scores.items():
        scores[name] = score(model, data["test"], config.start_steps)
    atomic_write_text(out_dir / SCORES_FILE, json.dumps(scores, indent=2))
    clear_state(out_dir)
    return RunResult(spec, out_dir, scores, status)


def _stacked_loss(
    stacked: StackedPredictor,
    observations: torch.Tensor,
    actions: Optional[torch.Tensor],
    use_real: torch.Tensor,
    noise: Optional[torch.Tensor],
    lambdas: torch.Tensor,
    start_steps: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-run task loss (MSE of the next observation, observation units) and gate
    penalty lambda * mean(Theta), each (R,)."""
    out = stacked(observations, actions, use_real, noise, start_steps)
    task = torch.mean((out["predictions"] - observations[:, :, 1:]) ** 2, dim=(1, 2, 3))
    penalty = lambdas * out["gates"].mean(dim=(1, 2, 3))
    return task, penalty


@torch.no_grad()
def _evaluate(
    stacked: StackedPredictor, config: TrainConfig, data: dict[str, Sequences], observed: Optional[int] = None
) -> list[dict[str, float]]:
    """Closed-loop errors (and GateL0RD's gate openings) of every run on the test and
    generalisation splits, from one batched pass each."""
    device, runs = stacked.flat.device, stacked.num_runs
    observed = observed_size(config, data) if observed is None else observed
    rows: list[dict[str, float]] = [{} for _ in range(runs)]
    for split, name in (("test", "test_mse"), ("generalisation", "gen_mse")):
        observations, actions = (None if t is None else t.to(device) for t in metrics.as_tensors(data[split]))
        observations = observations.expand(runs, *observations.shape)
        actions = None if actions is None else actions.expand(runs, *actions.shape)
        use_real = torch.zeros(runs, observations.shape[1], observations.shape[2] - 1, dtype=torch.bool, device=device)
        out = stacked(observations, actions, use_real, None, config.start_steps)
        skip, seen = config.start_steps - 1, observed
        errors = torch.mean(
            (out["predictions"][:, :, skip:, :seen] - observations[:, :, 1 + skip :, :seen]) ** 2, dim=(1, 2, 3)
        )
        openings = out["gates"].amax(dim=3).sum(dim=2).mean(dim=1)
        for r in range(runs):
            rows[r][name] = float(errors[r])
            if split == "test" and config.core == "gatel0rd":
                rows[r]["gate_openings"] = float(openings[r])
    # The claims' statistics at every evaluation, for their curves over training: probes of
    # each hidden factor and gate lift (overall and per factor), from latents read on real
    # inputs, as the final scores read them.
    test = data["test"]
    observations, actions = (None if t is None else t.to(device) for t in metrics.as_tensors(test))
    observations = observations.expand(runs, *observations.shape)
    actions = None if actions is None else actions.expand(runs, *actions.shape)
    use_real = torch.ones(runs, observations.shape[1], observations.shape[2] - 1, dtype=torch.bool, device=device)
    out = stacked(observations, actions, use_real, None, config.start_steps)
    latents, gates = out["latents"].cpu().numpy(), out["gates"].cpu().numpy()
    for r in range(runs):
        run_gates = gates[r] if config.core == "gatel0rd" else None
        scores = metrics.scores_of_latents(latents[r], run_gates, test, config.start_steps)
        rows[r].update({key: value for key, value in scores.items() if key.startswith(CURVE_STATISTICS)})
    return rows


#: Columns of every evaluation row beside the errors (prefixes): the claims' statistics.
CURVE_STATISTICS = ("probe/", "gate_lift")


def run_dirs(config: TrainConfig) -> list[Path]:
    """Where each run of ``config`` writes: ``out_dir`` for a single run, else one folder
    per run below it, named after the run."""
    out, specs = Path(config.out_dir), config.runs()
    return [out] if len(specs) == 1 else [out / spec.name for spec in specs]


class PlainTrainer:
    """The reference trainer: the config's first run as a plain ``Predictor`` with
    ``torch.optim.Adam`` and ``clip_grad_norm_``. The batched trainer must give the same
    numbers for the same run; the speed benchmark measures both."""

    def __init__(self, config: TrainConfig, data: dict[str, Sequences]) -> None:
        self.config, device = config, torch.device(config.device)
        self.spec = config.runs()[0]
        self.observations, self.actions = (
            None if t is None else t.to(device) for t in metrics.as_tensors(data["train"])
        )
        self.model = build_model(config, data["train"], self.spec.seed).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.spec.lr, eps=ADAM_EPS)
        self.draws = RunDraws(config, self.spec.seed, batch_groups(config), self.observations.shape[1] - 1, device)

    def update(self, p_real: float) -> tuple[torch.Tensor, torch.Tensor]:
        index, noise, use_real = self.draws.next(p_real)
        observations = self.observations[index]
        actions = None if self.actions is None else self.actions[index]
        out = self.model(observations, actions, start_steps=self.config.start_steps, noise=noise, use_real=use_real)
        task = torch.mean((out["predictions"] - observations[:, 1:]) ** 2)
        penalty = self.spec.reg_lambda * out["gates"].mean()
        self.optimizer.zero_grad()
        (task + penalty).backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return task.detach(), penalty.detach()


def main() -> int:
    import tyro

    config = tyro.cli(TrainConfig, prog=command_name())

    def run() -> None:
        results = train_runs(config)
        for result in results:
            shown = {k: v for k, v in result.scores.items() if not k.startswith("probe/")}
            print(
                result.spec.name,
                f"({result.status})",
                json.dumps({k: round(v, 6) if isinstance(v, float) else v for k, v in shown.items()}),
            )
            done = "kept" if result.status == "finished earlier" else "wrote"
            print(f"  {done} {result.out_dir}/metrics.csv, checkpoint.pt, scores.json")
        print(f"wrote {len(results)} run(s) to {config.out_dir}")

    return run_command("python -m baselines.predictors.train", run)


if __name__ == "__main__":
    raise SystemExit(main())

"""Train a sequence predictor (GateL0RD, LSTM, GRU or Elman) on one environment.

    python -m baselines.train_predictor --env rrc --core gatel0rd
    python -m baselines.train_predictor --env shepherd --core gru --epochs 50 --help

Writes ``metrics.csv`` (one row per evaluation), ``checkpoint.pt`` and ``scores.json``
(final test/generalisation errors, gate openings and latent-vs-truth scores) to
``out_dir``. Defaults per environment follow the GateL0RD paper, except the training
budget, which is sized for a CPU.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import torch

from baselines import metrics
from baselines.data import BILLIARD_SUBSETS, balanced_batch_index, load_split
from baselines.predictor import Predictor, PredictorConfig
from baselines.runlog import config_dict, write_csv
from pomdp_envs.datasets import Sequences


@dataclasses.dataclass(frozen=True)
class EnvDefaults:
    """The paper's per-environment settings."""

    latent_size: int
    feature_size: int
    core_layers: int
    init_layers: int
    start_steps: int
    reg_lambda: float
    lr: float
    ss_floor: float


ENV_DEFAULTS = {
    "billiard": EnvDefaults(8, 16, 3, 3, 2, 1e-3, 5e-4, 0.0),
    "rrc": EnvDefaults(8, 8, 1, 2, 1, 1e-3, 5e-3, 0.02),
    "shepherd": EnvDefaults(8, 16, 1, 3, 2, 1e-4, 1e-3, 0.05),
    "fetch": EnvDefaults(16, 16, 1, 2, 1, 1e-4, 5e-3, 0.05),
}


@dataclasses.dataclass
class TrainConfig:
    """Options of a training run; ``None`` means the environment's default."""

    env: Literal["billiard", "rrc", "shepherd", "fetch"] = "rrc"
    core: Literal["gatel0rd", "lstm", "gru", "elman"] = "gatel0rd"
    reg_lambda: Optional[float] = None  # L0 gate penalty (GateL0RD only)
    lr: Optional[float] = None
    latent_size: Optional[int] = None
    epochs: int = 100
    batches_per_epoch: int = 10
    batch_size: int = 128
    num_train: int = 2048
    num_test: int = 512
    teacher_forcing: bool = False  # False: scheduled sampling
    ss_decay: Optional[float] = None  # per epoch; None reaches the floor at half the epochs
    ss_floor: Optional[float] = None
    grad_clip: float = 0.1
    eval_every: int = 10
    seed: int = 0
    threads: int = 1  # small models on a busy CPU run fastest on one thread
    out_dir: Path = Path("runs/predictor")
    cache_dir: Optional[Path] = None
    progress: bool = True

    def resolved(self) -> TrainConfig:
        """A copy with every ``None`` replaced by the environment's default."""
        if self.env not in ENV_DEFAULTS:
            raise ValueError(f"unknown env {self.env!r}; choose from {sorted(ENV_DEFAULTS)}")
        env = ENV_DEFAULTS[self.env]
        floor = env.ss_floor if self.ss_floor is None else self.ss_floor
        decay = self.ss_decay
        if decay is None:
            decay = max(floor, 0.05) ** (1.0 / max(1, self.epochs // 2))
        return dataclasses.replace(
            self,
            reg_lambda=env.reg_lambda if self.reg_lambda is None else self.reg_lambda,
            lr=env.lr if self.lr is None else self.lr,
            latent_size=env.latent_size if self.latent_size is None else self.latent_size,
            ss_floor=floor,
            ss_decay=decay,
        )

    def predictor_config(self) -> PredictorConfig:
        env = ENV_DEFAULTS[self.env]
        assert self.latent_size is not None
        return PredictorConfig(
            core=self.core,
            latent_size=self.latent_size,
            feature_size=env.feature_size,
            core_layers=env.core_layers,
            init_layers=env.init_layers,
        )

    @property
    def start_steps(self) -> int:
        return ENV_DEFAULTS[self.env].start_steps


def real_input_probability(config: TrainConfig, epoch: int) -> float:
    """Probability of feeding the real observation: 1 for teacher forcing, else the
    scheduled-sampling schedule max(floor, decay ** epoch)."""
    if config.teacher_forcing:
        return 1.0
    assert config.ss_decay is not None and config.ss_floor is not None
    return max(config.ss_floor, config.ss_decay**epoch)


def build_model(config: TrainConfig, sequences: Sequences) -> Predictor:
    obs_size = sequences.observations.shape[-1]
    action_size = 0 if sequences.actions.ndim == 2 else sequences.actions.shape[-1]
    return Predictor(obs_size, action_size, config.predictor_config())


def train(config: TrainConfig) -> dict[str, float]:
    """Run one training; return the final scores (also written to ``scores.json``)."""
    config = config.resolved()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)

    train_set = load_split(config.env, "train", config.num_train, config.seed, config.cache_dir)
    test_set = load_split(config.env, "test", config.num_test, config.seed, config.cache_dir)
    gen_set = load_split(config.env, "generalisation", config.num_test, config.seed, config.cache_dir)
    model = build_model(config, train_set)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, eps=1e-4)
    observations, actions = metrics.as_tensors(train_set)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    rows: list[dict[str, float]] = []
    epochs = range(1, config.epochs + 1)
    if config.progress:
        from tqdm import tqdm

        epochs = tqdm(epochs, desc=f"{config.env}/{config.core}", unit="epoch")
    start = time.perf_counter()
    for epoch in epochs:
        p_real = real_input_probability(config, epoch)
        losses = []
        for _ in range(config.batches_per_epoch):
            if config.env == "billiard":  # the paper's batches: 8 of each of 16 sub-datasets
                index = balanced_batch_index(len(observations), len(BILLIARD_SUBSETS), config.batch_size, generator)
            else:
                index = torch.randint(len(observations), (config.batch_size,), generator=generator)
            batch_actions = None if actions is None else actions[index]
            out = model(observations[index], batch_actions, p_real, config.start_steps, generator)
            # The task loss is measured on the change of observation in output units
            # (change / output_scale), the scale at which the paper sets its lambdas.
            error = (out["predictions"] - observations[index, 1:]) / model.config.output_scale
            loss = torch.mean(error**2)
            if config.core == "gatel0rd":
                loss = loss + config.reg_lambda * out["gates"].mean()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            losses.append(loss.item())
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            row = _evaluate(model, config, test_set, gen_set)
            row.update(epoch=epoch, train_loss=float(np.mean(losses)), real_input_prob=p_real,
                       seconds=time.perf_counter() - start)
            rows.append(row)
            if config.progress:
                epochs.set_postfix(test_mse=f"{row['test_mse']:.2e}", gen_mse=f"{row['gen_mse']:.2e}")
    write_csv(out_dir / "metrics.csv", rows)
    save_checkpoint(out_dir / "checkpoint.pt", model, config, train_set.env_id)

    scores = dict(rows[-1])
    scores.update(metrics.latent_scores(model, test_set, config.start_steps))
    (out_dir / "scores.json").write_text(json.dumps(scores, indent=2))
    return scores


def _evaluate(model: Predictor, config: TrainConfig, test_set: Sequences, gen_set: Sequences) -> dict[str, float]:
    row = {
        "test_mse": metrics.autoregressive_mse(model, test_set, config.start_steps),
        "gen_mse": metrics.autoregressive_mse(model, gen_set, config.start_steps),
    }
    if metrics.has_gates(model):
        gates = metrics.run(model, test_set, real_input_prob=0.0, start_steps=config.start_steps)["gates"]
        row["gate_openings"] = metrics.gate_openings_per_sequence(gates)
    return row


def save_checkpoint(path: Path, model: Predictor, config: TrainConfig, env_id: str) -> None:
    torch.save(
        {
            "model_state": model.state_dict(),
            "predictor_config": dataclasses.asdict(model.config),
            "obs_size": model.obs_size,
            "action_size": model.action_size,
            "env_id": env_id,
            "start_steps": config.start_steps,
            "train_config": config_dict(config),
        },
        path,
    )


def load_checkpoint(path: str | Path) -> tuple[Predictor, dict]:
    """The trained predictor (in eval mode) and the checkpoint's metadata."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    model = Predictor(data["obs_size"], data["action_size"], PredictorConfig(**data["predictor_config"]))
    model.load_state_dict(data["model_state"])
    model.eval()
    return model, data


def main() -> None:
    import tyro

    scores = train(tyro.cli(TrainConfig))
    print(json.dumps(scores, indent=2))


if __name__ == "__main__":
    main()

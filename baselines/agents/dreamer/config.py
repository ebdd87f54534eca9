"""Options of a Dreamer run and the named presets (the VSG paper's sizes, CPU-sized ones)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from baselines.agents.world_model import WorldModelConfig, for_model


@dataclasses.dataclass(frozen=True)
class DreamerConfig:
    """Options of a run (defaults: the VSG paper's ShapeHerd settings; see ``PRESETS``)."""

    env_id: str = "pomdp_envs/ShapeHerd-v1"
    dense_reward: bool = False  # ShapeHerd only: True adds the early-scoring bonus (the paper uses +1 per object)
    world: WorldModelConfig = WorldModelConfig()
    total_steps: int = 625_000  # env steps (x action repeat 4 = 2.5M frames on ShapeHerd)
    prefill: int = 2_500  # env steps of uniform random actions before training
    train_every: int = 5  # env steps per update
    batch_size: int = 16
    sequence_length: int = 50
    model_lr: float = 1e-4
    actor_lr: float = 8e-5
    critic_lr: float = 2e-4
    adam_eps: float = 1e-5
    grad_clip: float = 100.0
    weight_decay: float = 1e-6  # every weight is multiplied by (1 - this) after each update
    imagine_horizon: int = 15
    discount: float = 0.99  # also scales the discount head's target: (1 - terminal) * discount
    lambda_: float = 0.95
    actor_entropy: float = 1e-4  # the VSG paper's (its code's ShapeHerd config: 2e-3)
    slow_critic_every: int = 100  # updates between copies of the critic into the slow critic
    actor_units: int = 400
    actor_layers: int = 4
    log_every: int = 5_000  # env steps between metric rows
    seed: int = 0
    threads: int = 2
    device: str = "cpu"  # "cuda" where a GPU is present
    amp: bool = False  # bfloat16 autocast of the forward passes (CUDA only)
    track: bool = False  # also write TensorBoard event files to out_dir
    capture_video: bool = False  # record the last training episode to out_dir/videos
    checkpoint_every: int = 2_500  # env steps between checkpoints (0: only on SIGTERM/SIGINT)
    fresh: bool = False  # replace the run in out_dir instead of continuing it
    out_dir: Path = Path("runs/dreamer")
    progress: bool = True

    def __post_init__(self) -> None:
        if min(self.total_steps, self.train_every, self.batch_size, self.sequence_length, self.imagine_horizon) < 1:
            raise ValueError("total_steps, train_every, batch_size, sequence_length, imagine_horizon must be >= 1")
        if self.prefill < self.sequence_length:
            raise ValueError("prefill must cover at least one sequence_length")
        if not 0.0 <= self.weight_decay < 1.0:
            raise ValueError("weight_decay must lie in [0, 1)")
        if self.checkpoint_every < 0:
            raise ValueError("checkpoint_every must be >= 0 (0: no periodic checkpoints)")
        if self.amp and not self.device.startswith("cuda"):
            raise ValueError("amp needs a CUDA device (--device cuda); on the CPU it gives nothing")


PRESETS = {
    # The VSG paper's ShapeHerd settings (its code's model/critic/actor learning rates,
    # the paper's actor entropy 1e-4). For SVSG pass the world model through
    # ``baselines.agents.world_model.for_model`` (Gaussian state, free nats 1.0).
    "paper": DreamerConfig(),
    # Differs on purpose, to fit a CPU: 2.4M parameters (RSSM, VSG; SVSG 1.4M) instead
    # of ~30M (deter/hidden 200, 16x16 latent, CNN depth 16, 2x200 heads), sequences of
    # 32, an update every 10 env steps, model lr 3e-4 and actor lr 1e-4 (the paper's
    # table; its code uses 1e-4 / 8e-5), 30k env steps. One update takes about a second
    # on 2 CPU cores, so the default budget (2,750 updates) runs in under an hour.
    "cpu-small": DreamerConfig(
        world=WorldModelConfig(deter=200, hidden=200, stoch=16, classes=16, cnn_depth=16, mlp_units=200, mlp_layers=2),
        total_steps=30_000,
        prefill=2_500,
        train_every=10,
        batch_size=16,
        sequence_length=32,
        model_lr=3e-4,
        actor_lr=1e-4,
        critic_lr=2e-4,
        actor_units=200,
        actor_layers=2,
        log_every=2_500,
    ),
}
# SVSG as the VSG paper runs it at each size: one Gaussian state, free nats 1.0.
PRESETS.update(
    {
        f"{name}-svsg": dataclasses.replace(preset, world=for_model(preset.world, "svsg"))
        for name, preset in list(PRESETS.items())
    }
)

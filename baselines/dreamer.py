"""A Dreamer-style agent (DreamerV2 recipe) on an RSSM, VSG or SVSG world model.

    python -m baselines.dreamer cpu-small --world.model vsg          # ShapeHerd, sized for a CPU
    python -m baselines.dreamer paper --world.model rssm             # the paper's sizes
    python -m baselines.dreamer paper-svsg                           # SVSG: Gaussian state, free nats 1
    python -m baselines.dreamer cpu-small --env-id pomdp_envs/RobotRemoteControl-v0 --help

The agent collects episodes with its current policy (uniform random actions during
``prefill``) into a seeded replay of whole episodes, and every ``train_every`` env steps
makes one update: the world model on a batch of ``batch_size`` x ``sequence_length``
windows, then actor and critic on ``imagine_horizon``-step rollouts of the prior from
every posterior state of that batch (lambda-returns bootstrapped with a slow critic
copy, actor trained by back-propagating returns through the dynamics, entropy bonus).

Writes ``metrics.csv`` (one row per ``log_every`` env steps: episodes, return and
objects scored of the episodes finished since the last row, world-model losses, KL,
gate rate, actor/critic losses), ``checkpoint.pt``, ``scores.json`` and ``curve.png``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path
from typing import Optional

import gymnasium as gym
import numpy as np
import torch
from torch import nn

import pomdp_envs  # noqa: F401  (registers the ids)
from baselines.runlog import Tracker, check_device, config_dict, episode_mean, save_figure, write_csv
from baselines.world_model import LatentState, WorldModel, WorldModelConfig, elu_mlp, for_model
from pomdp_envs import scoring
from pomdp_envs.datasets import Sequences


@dataclasses.dataclass(frozen=True)
class DreamerConfig:
    """Options of a run (defaults: the VSG paper's ShapeHerd settings; see ``PRESETS``)."""

    env_id: str = "pomdp_envs/ShapeHerd-v0"
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
    out_dir: Path = Path("runs/dreamer")
    progress: bool = True

    def __post_init__(self) -> None:
        if min(self.total_steps, self.train_every, self.batch_size, self.sequence_length, self.imagine_horizon) < 1:
            raise ValueError("total_steps, train_every, batch_size, sequence_length, imagine_horizon must be >= 1")
        if self.prefill < self.sequence_length:
            raise ValueError("prefill must cover at least one sequence_length")
        if not 0.0 <= self.weight_decay < 1.0:
            raise ValueError("weight_decay must lie in [0, 1)")
        if self.amp and not self.device.startswith("cuda"):
            raise ValueError("amp needs a CUDA device (--device cuda); on the CPU it gives nothing")


PRESETS = {
    # The VSG paper's ShapeHerd settings (its code's model/critic/actor learning rates,
    # the paper's actor entropy 1e-4). For SVSG pass the world model through
    # ``baselines.world_model.for_model`` (Gaussian state, free nats 1.0).
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


class TruncatedNormal(torch.distributions.Distribution):
    """Normal(mean, std) truncated to [low, high], reparametrised through the inverse
    CDF (DreamerV2's actor distribution; its samples are kept a hair inside the bounds)."""

    arg_constraints: dict = {}
    has_rsample = True

    def __init__(
        self, mean: torch.Tensor, std: torch.Tensor, low: float = -1.0, high: float = 1.0, margin: float = 1e-6
    ) -> None:
        self.mean_, self.std_, self.low, self.high, self.margin = mean, std, low, high, margin
        normal = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(std))
        self._normal = normal
        self._alpha, self._beta = (low - mean) / std, (high - mean) / std
        self._cdf_alpha, self._cdf_beta = normal.cdf(self._alpha), normal.cdf(self._beta)
        self._mass = (self._cdf_beta - self._cdf_alpha).clamp(min=1e-8)
        super().__init__(batch_shape=mean.shape, validate_args=False)

    def rsample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        shape = self._extended_shape(sample_shape)
        uniform = torch.rand(shape, dtype=self.mean_.dtype, device=self.mean_.device)
        quantile = (self._cdf_alpha + uniform * self._mass).clamp(1e-6, 1 - 1e-6)
        value = self.mean_ + self.std_ * self._normal.icdf(quantile)
        clipped = value.clamp(self.low + self.margin, self.high - self.margin)
        return value + (clipped - value).detach()

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return self._normal.log_prob((value - self.mean_) / self.std_) - torch.log(self.std_ * self._mass)

    def entropy(self) -> torch.Tensor:
        density = lambda x: torch.exp(self._normal.log_prob(x))  # noqa: E731
        return torch.log(np.sqrt(2 * np.pi * np.e) * self.std_ * self._mass) + (
            self._alpha * density(self._alpha) - self._beta * density(self._beta)
        ) / (2 * self._mass)

    @property
    def mode(self) -> torch.Tensor:
        return self.mean_.clamp(self.low, self.high)


class Actor(nn.Module):
    """The DreamerV2 actor: a Normal on [-1, 1]^A truncated to the box, mean tanh(.),
    std 2 sigmoid(./2) + 0.1."""

    def __init__(self, feature_size: int, action_size: int, units: int, layers: int) -> None:
        super().__init__()
        self.net = elu_mlp([feature_size] + [units] * layers + [2 * action_size])

    def forward(self, features: torch.Tensor) -> TruncatedNormal:
        mean, raw_std = self.net(features).float().chunk(2, -1)
        return TruncatedNormal(torch.tanh(mean), 2 * torch.sigmoid(raw_std / 2) + 0.1)

    @staticmethod
    def sample(dist: TruncatedNormal) -> torch.Tensor:
        return dist.rsample()


class Replay:
    """Finished episodes, sampled as uniform windows of fixed length with a seeded generator."""

    def __init__(self, seed: int) -> None:
        self.episodes: list[dict[str, np.ndarray]] = []
        self.rng = np.random.default_rng(seed)
        self.steps = 0

    def add(self, episode: dict[str, np.ndarray]) -> None:
        self.episodes.append(episode)
        self.steps += len(episode["reward"])

    def can_sample(self, length: int) -> bool:
        return any(len(ep["reward"]) >= length for ep in self.episodes)

    def sample(self, batch_size: int, length: int) -> dict[str, torch.Tensor]:
        usable = [ep for ep in self.episodes if len(ep["reward"]) >= length]
        windows = np.array([len(ep["reward"]) - length + 1 for ep in usable], dtype=float)
        picks = self.rng.choice(len(usable), size=batch_size, p=windows / windows.sum())
        batch: dict[str, list[np.ndarray]] = {key: [] for key in usable[0]}
        for pick in picks:
            start = self.rng.integers(0, windows[pick])
            for key, values in usable[pick].items():
                batch[key].append(values[start : start + length])
        out = {key: torch.as_tensor(np.stack(values)) for key, values in batch.items()}
        out["is_first"][:, 0] = True  # a window starts from a fresh state
        return out


class Dreamer:
    """World model, actor and critic with their optimisers."""

    def __init__(self, config: DreamerConfig, obs_shape: tuple[int, ...], action_size: int) -> None:
        self.config, self.device = config, torch.device(config.device)
        self.world = WorldModel(config.world, obs_shape, action_size).to(self.device)
        feature = config.world.feature_size
        self.actor = Actor(feature, action_size, config.actor_units, config.actor_layers).to(self.device)
        self.critic = elu_mlp([feature] + [config.actor_units] * config.actor_layers + [1]).to(self.device)
        self.slow_critic = copy.deepcopy(self.critic).requires_grad_(False)
        adam = dict(eps=config.adam_eps)
        self.model_opt = torch.optim.Adam(self.world.parameters(), lr=config.model_lr, **adam)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr, **adam)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr, **adam)
        self.updates = 0

    def num_parameters(self) -> int:
        return sum(p.numel() for module in (self.world, self.actor, self.critic) for p in module.parameters())

    def autocast(self):
        """bfloat16 autocast on CUDA with ``amp``; a no-op otherwise."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.amp)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        batch = {key: value.to(self.device, non_blocking=True) for key, value in batch.items()}
        # DreamerV2's discount target: 0 at a terminal step, else the discount itself.
        batch["discount"] = batch["discount"] * cfg.discount
        with self.autocast():
            loss, posts, metrics = self.world.loss(batch)
        self._step(self.model_opt, loss, self.world)
        start = {key: posts[key].detach().flatten(0, 1) for key in ("stoch", "deter") if key in posts}
        with self.autocast():
            metrics.update(self._behaviour(start))
        self.updates += 1
        if self.updates % cfg.slow_critic_every == 0:
            self.slow_critic.load_state_dict(self.critic.state_dict())
        return metrics

    def _step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor, module: nn.Module) -> None:
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(module.parameters(), self.config.grad_clip)
        optimizer.step()
        if self.config.weight_decay:
            with torch.no_grad():
                for parameter in module.parameters():
                    parameter.mul_(1.0 - self.config.weight_decay)

    def _behaviour(self, start: LatentState) -> dict[str, float]:
        """Actor and critic on imagined rollouts from ``start``."""
        cfg = self.config
        dynamics = self.world.dynamics
        self.world.requires_grad_(False)  # gradients flow through the model, not into it
        try:
            state, features, entropies = start, [dynamics.feature(start)], []
            for _ in range(cfg.imagine_horizon):
                dist = self.actor(features[-1].detach())
                entropies.append(dist.entropy().sum(-1))
                state = dynamics.img_step(state, Actor.sample(dist))
                features.append(dynamics.feature(state))
            feats = torch.stack(features)  # (H + 1, N, F)
            rewards = self.world.reward_head(feats[1:]).squeeze(-1)
            if self.world.discount_head is not None:  # trained on targets already scaled by the discount
                discounts = torch.sigmoid(self.world.discount_head(feats[1:]).squeeze(-1))
            else:
                discounts = torch.full_like(rewards, cfg.discount)
            values = self.slow_critic(feats).squeeze(-1)
            returns = lambda_returns(rewards, values[1:], discounts, cfg.lambda_)
            weights = torch.cumprod(torch.cat([torch.ones_like(discounts[:1]), discounts[:-1]]), 0).detach()
            entropy = torch.stack(entropies)
            actor_loss = -(weights * (returns + cfg.actor_entropy * entropy)).mean()
            self._step(self.actor_opt, actor_loss, self.actor)
        finally:
            self.world.requires_grad_(True)
        value_prediction = self.critic(feats[:-1].detach()).squeeze(-1)
        critic_loss = (weights * 0.5 * (value_prediction - returns.detach()) ** 2).mean()
        self._step(self.critic_opt, critic_loss, self.critic)
        return {
            "actor_loss": actor_loss.item(),
            "critic_loss": critic_loss.item(),
            "imagined_return": returns.mean().item(),
            "actor_entropy": entropy.mean().item(),
        }


def lambda_returns(
    rewards: torch.Tensor, next_values: torch.Tensor, discounts: torch.Tensor, lambda_: float
) -> torch.Tensor:
    """R_t = r_t + d_t ((1 - lambda) v_{t+1} + lambda R_{t+1}), R_H bootstrapped with v_H.

    All (H, N); ``rewards[t]``, ``discounts[t]`` and ``next_values[t]`` belong to the step
    from imagined state t to t + 1.
    """
    returns = []
    last = next_values[-1]
    for t in reversed(range(len(rewards))):
        last = rewards[t] + discounts[t] * ((1 - lambda_) * next_values[t] + lambda_ * last)
        returns.append(last)
    return torch.stack(returns[::-1])


class ActionMap:
    """Maps the actor's [-1, 1]^A to the env's Box bounds."""

    def __init__(self, space: gym.Space) -> None:
        if not isinstance(space, gym.spaces.Box):
            raise ValueError(f"the Dreamer agent needs a Box action space, got {space}")
        self.low, self.high = space.low.astype(np.float64), space.high.astype(np.float64)
        self.size = int(np.prod(space.shape))

    def to_env(self, action: np.ndarray) -> np.ndarray:
        return (self.low + (action + 1.0) / 2.0 * (self.high - self.low)).astype(np.float32)


def make_env(config: DreamerConfig, render_mode: str | None = None) -> gym.Env:
    kwargs = {"dense_reward": config.dense_reward} if "ShapeHerd" in config.env_id else {}
    return gym.make(config.env_id, render_mode=render_mode, **kwargs)


def check_budget(config: DreamerConfig, episode_limit: int | None) -> None:
    """``ValueError`` when no update could happen: updates need a finished episode in
    the replay, so the budget must outlast the prefill and the first episode."""
    first_update = max(config.prefill, episode_limit or 0) + config.train_every
    if config.total_steps < first_update:
        raise ValueError(
            f"total_steps {config.total_steps} is too small to train: the first update comes after the prefill "
            f"({config.prefill} steps) and the first finished episode ({episode_limit or 'unknown'} steps); "
            f"give at least {first_update} steps"
        )


def train(config: DreamerConfig) -> dict[str, float]:
    """Train one agent; return the final scores (also written to ``scores.json``)."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    check_device(config.device)
    env = make_env(config, render_mode="rgb_array" if config.capture_video else None)
    check_budget(config, env.spec.max_episode_steps if env.spec else None)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if config.capture_video:  # training episodes on a capped cubic schedule, as CleanRL records them
        env = gym.wrappers.RecordVideo(env, str(out_dir / "videos"), name_prefix="train")
    actions = ActionMap(env.action_space)
    agent = Dreamer(config, env.observation_space.shape, actions.size)
    device = agent.device
    replay = Replay(config.seed)
    rng = np.random.default_rng(config.seed)
    tracker = Tracker(out_dir) if config.track else None

    rows: list[dict[str, float]] = []
    pending: dict[str, list[float]] = {}
    finished: list[dict[str, float]] = []
    episode = _Episode(*env.reset(seed=config.seed), action_size=actions.size)
    state, previous_action = None, torch.zeros(1, actions.size, device=device)
    start_time = time.perf_counter()
    steps = range(1, config.total_steps + 1)
    if config.progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc=f"dreamer {config.world.model}", unit="step", mininterval=2.0)
    for step in steps:
        if step <= config.prefill:
            action = rng.uniform(-1.0, 1.0, actions.size)
        else:
            with torch.no_grad(), agent.autocast():
                embed = agent.world.encoder(torch.as_tensor(episode.last_observation[None], device=device))
                if state is None:
                    state = agent.world.dynamics.initial(1, device)
                state, _ = agent.world.dynamics.obs_step(state, previous_action, embed)
                state = {key: state[key] for key in ("stoch", "deter") if key in state}
                action = Actor.sample(agent.actor(agent.world.dynamics.feature(state)))[0].float().cpu().numpy()
        previous_action = torch.as_tensor(action, dtype=torch.float32, device=device)[None]
        observation, reward, terminated, truncated, info = env.step(actions.to_env(action))
        episode.append(observation, action, reward, terminated, info)
        if terminated or truncated:
            replay.add(episode.arrays())
            finished.append(episode.summary())
            episode = _Episode(*env.reset(), action_size=actions.size)
            state, previous_action = None, torch.zeros(1, actions.size, device=device)
        if step >= config.prefill and step % config.train_every == 0 and replay.can_sample(config.sequence_length):
            for key, value in agent.update(replay.sample(config.batch_size, config.sequence_length)).items():
                pending.setdefault(key, []).append(value)
        if step % config.log_every == 0 or step == config.total_steps:
            row = _log_row(step, agent.updates, time.perf_counter() - start_time, finished, pending)
            rows.append(row)
            if tracker is not None:
                tracker.write(row, step)
            finished, pending = [], {}
            if config.progress and np.isfinite(row["objects_scored"]):
                steps.set_postfix(objects=f"{row['objects_scored']:.2f}", image=f"{row.get('image_loss', np.nan):.1f}")
    env.close()
    if tracker is not None:
        tracker.close()
    write_csv(out_dir / "metrics.csv", rows)
    torch.save(
        {
            "world": agent.world.state_dict(),
            "actor": agent.actor.state_dict(),
            "critic": agent.critic.state_dict(),
            "config": config_dict(config),
        },
        out_dir / "checkpoint.pt",
    )
    scores = final_scores(rows, agent.num_parameters())
    (out_dir / "scores.json").write_text(json.dumps(scores, indent=2))
    plot_curve(rows, out_dir / "curve.png", f"{config.env_id.split('/')[-1]} {config.world.model}")
    return scores


class _Episode:
    """One episode in the replay's layout: action, reward and discount at index t are those
    that led to observation t (zeros, 0 and 1 at the first step)."""

    def __init__(self, observation: np.ndarray, info: dict, action_size: int) -> None:
        self.observations = [observation]
        self.actions = [np.zeros(action_size, dtype=np.float32)]
        self.rewards, self.discounts = [0.0], [1.0]
        self.last_info = info

    @property
    def last_observation(self) -> np.ndarray:
        return self.observations[-1]

    def append(self, observation: np.ndarray, action: np.ndarray, reward: float, terminated: bool, info: dict) -> None:
        self.observations.append(observation)
        self.actions.append(np.asarray(action, dtype=np.float32))
        self.rewards.append(float(reward))
        self.discounts.append(0.0 if terminated else 1.0)
        self.last_info = info

    def arrays(self) -> dict[str, np.ndarray]:
        is_first = np.zeros(len(self.rewards), dtype=bool)
        is_first[0] = True
        observations = np.stack(self.observations)
        if observations.dtype != np.uint8:
            observations = observations.astype(np.float32)
        return {
            "observation": observations,
            "action": np.stack(self.actions),
            "reward": np.asarray(self.rewards, dtype=np.float32),
            "discount": np.asarray(self.discounts, dtype=np.float32),
            "is_first": is_first,
        }

    def summary(self) -> dict[str, float]:
        hidden = self.last_info.get("hidden", {})
        scored = float(np.sum(hidden["object_scored"])) if "object_scored" in hidden else float("nan")
        return {"return": float(np.sum(self.rewards)), "objects_scored": scored, "length": len(self.rewards) - 1}


def _log_row(
    step: int, updates: int, seconds: float, finished: list[dict[str, float]], pending: dict[str, list[float]]
) -> dict[str, float]:
    row = {"env_steps": step, "updates": updates, "seconds": seconds, "episodes": len(finished)}
    for key in ("return", "objects_scored"):
        row[key] = float(np.mean([ep[key] for ep in finished])) if finished else float("nan")
    row.update({key: float(np.mean(values)) for key, values in pending.items()})
    return row


def final_scores(rows: list[dict[str, float]], parameters: int, last_rows: int = 3) -> dict[str, float]:
    """Means over the episodes logged in the last ``last_rows`` rows, and the last losses."""
    tail = rows[-last_rows:]
    scores = {
        "env_steps": rows[-1]["env_steps"],
        "updates": rows[-1]["updates"],
        "parameters": parameters,
        "final_return": episode_mean(tail, "return"),
        "final_objects_scored": episode_mean(tail, "objects_scored"),
        "final_episodes": sum(row["episodes"] for row in tail),
        "seconds": rows[-1]["seconds"],
    }
    for key in ("image_loss", "kl", "gate_rate"):
        values = [row[key] for row in rows if key in row and np.isfinite(row[key])]
        if values:
            scores[f"first_{key}"], scores[f"final_{key}"] = values[0], values[-1]
    return scores


def plot_curve(rows: list[dict[str, float]], path: Path, title: str) -> None:
    import matplotlib.pyplot as plt

    steps = [row["env_steps"] for row in rows]
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    key = "objects_scored" if any(np.isfinite(row["objects_scored"]) for row in rows) else "return"
    axes[0].plot(steps, [row[key] for row in rows], marker=".")
    axes[0].set_ylabel(key.replace("_", " ") + " per episode")
    axes[1].plot(steps, [row.get("image_loss", np.nan) for row in rows], marker=".")
    axes[1].set_ylabel("reconstruction loss")
    for axis in axes:
        axis.set_xlabel("env steps")
    figure.suptitle(title)
    save_figure(figure, path)


def probe_scores(world: WorldModel, sequences: Sequences) -> dict[str, float]:
    """``pomdp_envs.scoring`` probes from the posterior features to each true hidden
    factor (R^2, or balanced accuracy for discrete factors), on offline sequences of a
    vector env (``baselines.data.load_split``): the same scores the GateL0RD predictors
    get, so the latents can be compared."""
    observations = torch.as_tensor(sequences.observations, dtype=torch.float32)
    batch, steps = observations.shape[:2]
    actions = torch.zeros(batch, steps, world.action_size)
    if sequences.actions.ndim == 3 and world.action_size:
        actions[:, 1:] = torch.as_tensor(sequences.actions, dtype=torch.float32)
    is_first = torch.zeros(batch, steps, dtype=torch.bool)
    is_first[:, 0] = True
    with torch.no_grad():
        posts, _ = world.dynamics.observe(world.encoder(observations), actions, is_first)
        features = world.dynamics.feature(posts).numpy()
    return scoring.score_latents(features, sequences, start_steps=1)


def estimate_seconds(config: DreamerConfig, updates: int = 3) -> float:
    """About how long ``config``'s whole budget takes here, from ``time_parts``. Acting
    with the model after the prefill is not counted."""
    step_seconds, update_seconds = time_parts(config, updates)
    num_updates = max(0, config.total_steps - config.prefill) // config.train_every
    return config.total_steps * step_seconds + num_updates * update_seconds


def time_parts(config: DreamerConfig, updates: int = 3) -> tuple[float, float]:
    """Seconds per env step (random actions) and per update (after one warm-up), timed
    on one window of random steps."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    env = make_env(config)
    actions = ActionMap(env.action_space)
    agent = Dreamer(config, env.observation_space.shape, actions.size)
    episode = _Episode(*env.reset(seed=config.seed), action_size=actions.size)
    rng = np.random.default_rng(config.seed)
    start = time.perf_counter()
    for _ in range(config.sequence_length):
        action = rng.uniform(-1.0, 1.0, actions.size)
        observation, reward, terminated, _, info = env.step(actions.to_env(action))
        episode.append(observation, action, reward, False, info)
    step_seconds = (time.perf_counter() - start) / config.sequence_length
    env.close()
    replay = Replay(config.seed)
    replay.add(episode.arrays())
    agent.update(replay.sample(config.batch_size, config.sequence_length))
    if agent.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(updates):
        agent.update(replay.sample(config.batch_size, config.sequence_length))
    if agent.device.type == "cuda":
        torch.cuda.synchronize()
    return step_seconds, (time.perf_counter() - start) / updates


def main(argv: Optional[list[str]] = None) -> int:
    import tyro

    from pomdp_envs.cli_errors import run_command

    def run() -> None:
        config = tyro.extras.overridable_config_cli(
            {name: (name, preset) for name, preset in PRESETS.items()}, args=argv
        )
        print(json.dumps(train(config), indent=2))
        print(
            f"wrote {config.out_dir}/metrics.csv, checkpoint.pt, scores.json, curve.png"
            + (" and TensorBoard events" if config.track else "")
        )

    return run_command("python -m baselines.dreamer", run)


if __name__ == "__main__":
    raise SystemExit(main())

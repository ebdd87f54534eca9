"""Recurrent PPO on every controllable id, with a GateL0RD, GRU or LSTM memory or none.

    python -m baselines.agents.ppo --env-id pomdp_envs/MiniGrid-DoorKey-5x5-v0 --core gatel0rd
    python -m baselines.agents.ppo --env-id pomdp_envs/RobotRemoteControl-v0 --core gru
    python -m baselines.agents.ppo --env-id pomdp_envs/Shepherd-v0 --core none --fully-observable
    python -m baselines.agents.ppo --help

The algorithm is in this one file, in torch; the memory cells come from ``baselines.cells`` and
the run folder from ``baselines.runlog``. The agent: an encoder chosen by the observation
(an MLP of a vector scaled by its bounds, a conv net of MiniGrid's symbolic grid, a strided
conv net of 64x64 pixels), a core (GateL0RD, whose L0 gate penalty ``reg_lambda`` is added to
the loss, a GRU, an LSTM, or ``none``: one tanh layer of the current features, the
memoryless control), and actor and critic heads. ``Discrete`` actions: a categorical
policy. ``Box`` actions: a Gaussian with a learned, state-independent log standard
deviation over [-1, 1] per dimension; a sample is clipped to [-1, 1] and mapped affinely
onto the box before the env sees it (CleanRL's continuous PPO clips in the same way), and the
update scores the unclipped sample.

Rollouts of ``num_steps`` per env come from the id's native vector env where it has one,
else from a ``SyncVectorEnv``; both reset an env on the step after its episode ends
(Gymnasium's default ``NEXT_STEP`` autoreset: that step ignores the action, returns the
reset observation and reward 0). Such reset steps are masked out of the loss and count
as env steps. The recurrent state is zeroed before every step that starts an episode,
both while acting and when the rollout is replayed for the update. Minibatches are whole
env sequences (split by env), each replayed from the state the rollout started with.
A finished episode is a success when the env's ``info["is_success"]`` holds at its last
step.

Defaults are the GateL0RD paper code's MiniGrid PPO (16 envs x 128 steps, 4 epochs,
minibatches of 256 steps, lr 1e-3, Adam eps 1e-8, clipped value loss, the MiniGrid layers'
unit-row initialisation). Deliberate differences: gradients flow through the whole
128-step rollout (the paper's torch-ac truncates at ``recurrence`` steps, a value its code
does not fix) and GateL0RD acts without gate noise (the update replays each rollout and
needs the log-probabilities it acted with). Other envs use the same settings: nothing is
tuned per env.

Writes ``metrics.csv`` (one row per update: steps, episodes finished, success rate
and mean return of those episodes, losses, gate rate), ``checkpoint.pt`` and
``scores.json`` to ``out_dir``; run again with the same ``out_dir``, an interrupted run
continues from its last checkpoint (``--checkpoint-every`` env steps, and on SIGTERM/SIGINT).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from torch import nn

import pomdp_envs  # noqa: F401  (registers the ids)
from baselines.cells import GateL0RDCell, State, TorchRNNCell, WindowCell, gate_activity
from baselines.resume import (
    StopSignals,
    clear_state,
    due,
    generator_states,
    open_run,
    restore_generator_states,
    run_options,
    save_state,
)
from baselines.runlog import Tracker, check_device, config_dict, episode_mean, record_video, write_csv, write_run
from pomdp_envs.cli_errors import command_name, run_command, writable_dir
from pomdp_envs.wrappers import FullyObservable

# Largest values of MiniGrid's (object, colour, state) channels, to scale inputs to [0, 1].
_VIEW_SCALE = torch.tensor([10.0, 5.0, 2.0])
#: Frames at least this many pixels on a side are images; smaller ones are MiniGrid's grids.
PIXEL_MIN_SIDE = 32
#: Size of every encoder's output (the paper's MiniGrid embedding of a 7x7 view).
FEATURES = 64

CORES = ("gatel0rd", "gru", "lstm")  # the memories the agent offers
MEMORYLESS = "none"  # the control: a feedforward policy of the current observation


@dataclasses.dataclass
class PPOConfig:
    """Options of a PPO run (defaults: the GateL0RD paper code's MiniGrid set-up, see the
    module docstring for the differences)."""

    env_id: str = "pomdp_envs/MiniGrid-DoorKey-5x5-v0"  # any id with actions (not Billiard Ball)
    core: Literal[(*CORES, MEMORYLESS)] = "gatel0rd"  # type: ignore[valid-type]  # the agent's memory; none: no memory
    total_steps: int = 200_000  # env steps over all envs (reset steps included)
    num_envs: int = 16  # parallel envs
    num_steps: int = 128  # rollout length per env and update
    lr: float = 1e-3  # Adam learning rate
    adam_eps: float = 1e-8  # Adam epsilon (torch-ac's)
    anneal_lr: bool = True  # decay the learning rate linearly to 0
    update_epochs: int = 4  # passes over each rollout
    num_minibatches: int = 8  # each holds num_envs / num_minibatches whole env sequences (256 steps)
    gamma: float = 0.99  # discount
    gae_lambda: float = 0.95  # GAE lambda
    clip_coef: float = 0.2  # PPO ratio clipping, also of the value change (clip_value_loss)
    clip_value_loss: bool = True  # torch-ac's clipped value loss
    ent_coef: float = 0.01  # entropy bonus
    vf_coef: float = 0.5  # value-loss weight
    max_grad_norm: float = 0.5  # gradient-norm clipping
    reg_lambda: float = 0.01  # GateL0RD's L0 gate penalty
    hidden_size: int = 64  # size of the memory's latent state
    seed: int = 0  # seeds the envs and torch
    threads: int = 1  # torch threads
    device: str = "cpu"  # "cuda" where a GPU is present (the envs step on the CPU)
    track: bool = False  # also write TensorBoard event files to out_dir
    capture_video: bool = False  # record env 0's episodes to out_dir/videos (capped cubic schedule)
    fully_observable: bool = False  # act on the full view (pomdp_envs.wrappers.FullyObservable)
    checkpoint_every: int = 50_000  # env steps between checkpoints (0: only on SIGTERM/SIGINT)
    fresh: bool = False  # replace the run in out_dir instead of continuing it
    out_dir: Path = Path("runs/ppo")  # where metrics.csv, checkpoint.pt and scores.json go
    progress: bool = True  # show a progress bar

    def __post_init__(self) -> None:
        if self.num_envs % self.num_minibatches:
            raise ValueError("num_envs must be divisible by num_minibatches (minibatches are split by env)")
        if min(self.total_steps, self.num_envs, self.num_steps, self.update_epochs) < 1:
            raise ValueError("total_steps, num_envs, num_steps and update_epochs must be >= 1")
        if self.checkpoint_every < 0:
            raise ValueError("checkpoint_every must be >= 0 (0: no periodic checkpoints)")

    @property
    def num_updates(self) -> int:
        return max(1, self.total_steps // (self.num_envs * self.num_steps))


class VectorEncoder(nn.Module):
    """A vector observation, scaled into [-1, 1] by its box's finite bounds, through two
    tanh layers."""

    def __init__(self, space: gym.spaces.Box) -> None:
        super().__init__()
        low, high = (np.asarray(bound, dtype=np.float64) for bound in (space.low, space.high))
        finite = np.isfinite(low) & np.isfinite(high) & (high > low)
        center, half_width = np.zeros_like(low), np.ones_like(low)
        center[finite] = (low[finite] + high[finite]) / 2
        half_width[finite] = (high[finite] - low[finite]) / 2
        self.register_buffer("center", torch.as_tensor(center, dtype=torch.float32))
        self.register_buffer("half_width", torch.as_tensor(half_width, dtype=torch.float32))
        size = int(np.prod(space.shape))
        self.net = nn.Sequential(nn.Linear(size, FEATURES), nn.Tanh(), nn.Linear(FEATURES, FEATURES), nn.Tanh())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.net((observations.float() - self.center) / self.half_width)


class GridEncoder(nn.Module):
    """MiniGrid's symbolic (object, colour, state) grid: the paper's conv net on the 7x7
    view; padded convs and a max over cells on the full grid of any size."""

    def __init__(self, space: gym.spaces.Box) -> None:
        super().__init__()
        if tuple(space.shape[:2]) == (7, 7):
            self.net = nn.Sequential(  # 7x7 -> 6x6 -> 3x3 -> 2x2 -> 1x1
                nn.Conv2d(3, 16, 2),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 2),
                nn.ReLU(),
                nn.Conv2d(32, FEATURES, 2),
                nn.ReLU(),
                nn.Flatten(),
            )
        else:
            self.net = nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(16, 32, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(32, FEATURES, 3, padding=1),
                nn.ReLU(),
                nn.AdaptiveMaxPool2d(1),
                nn.Flatten(),
            )
        self.register_buffer("scale", _VIEW_SCALE.clone())

    def forward(self, grids: torch.Tensor) -> torch.Tensor:
        return self.net((grids.float() / self.scale).permute(0, 3, 1, 2))


class PixelEncoder(nn.Module):
    """An RGB frame (64x64 for ShapeHerd) through three stride-2 convs and a linear layer."""

    def __init__(self, space: gym.spaces.Box) -> None:
        super().__init__()
        convs = nn.Sequential(
            nn.Conv2d(3, 16, 4, stride=2),
            nn.ReLU(),
            nn.Conv2d(16, 32, 4, stride=2),
            nn.ReLU(),
            nn.Conv2d(32, 32, 4, stride=2),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            size = convs(torch.zeros(1, 3, *space.shape[:2])).shape[1]
        self.net = nn.Sequential(convs, nn.Linear(size, FEATURES), nn.ReLU())

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net(frames.float().permute(0, 3, 1, 2) / 255.0)


def observation_kind(space: gym.spaces.Space) -> str:
    """``vector``, ``grid`` (MiniGrid's symbolic view or full grid) or ``pixels``."""
    shape = getattr(space, "shape", None)
    if isinstance(space, gym.spaces.Box) and shape is not None and len(shape) == 1:
        return "vector"
    if isinstance(space, gym.spaces.Box) and shape is not None and len(shape) == 3 and shape[-1] == 3:
        return "pixels" if min(shape[:2]) >= PIXEL_MIN_SIDE else "grid"
    raise ValueError(f"PPO reads vector observations or (H, W, 3) frames, not {space}")


ENCODERS = {"vector": VectorEncoder, "grid": GridEncoder, "pixels": PixelEncoder}


class RecurrentAgent(nn.Module):
    """Encoder -> recurrent core -> actor and critic heads, for the given spaces."""

    def __init__(
        self,
        observation_space: gym.spaces.Space,
        action_space: gym.spaces.Space,
        core: str = "gatel0rd",
        hidden_size: int = 64,
    ) -> None:
        super().__init__()
        self.encoder = ENCODERS[observation_kind(observation_space)](observation_space)
        if core == "gatel0rd":
            self.core: nn.Module = GateL0RDCell(FEATURES, hidden_size, gate_noise=0.0)
            self.state_size = hidden_size
        elif core in ("gru", "lstm"):
            self.core = TorchRNNCell(core, FEATURES, hidden_size)
            self.state_size = (2 if core == "lstm" else 1) * hidden_size
        elif core == MEMORYLESS:  # one tanh layer of the current features: nothing carried over
            self.core = WindowCell(FEATURES, hidden_size, window=1)
            self.state_size = hidden_size
        else:
            raise ValueError(f"core must be one of {(*CORES, MEMORYLESS)}, got {core!r}")
        if isinstance(action_space, gym.spaces.Discrete):
            self.continuous, outputs = False, int(action_space.n)
        elif isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
            if not (np.isfinite(action_space.low).all() and np.isfinite(action_space.high).all()):
                raise ValueError(f"PPO needs a bounded action box, got {action_space}")
            self.continuous, outputs = True, int(action_space.shape[0])
            self.log_std = nn.Parameter(torch.zeros(outputs))
            self.action_low = np.asarray(action_space.low, dtype=np.float32)
            self.action_high = np.asarray(action_space.high, dtype=np.float32)
        else:
            raise ValueError(f"PPO acts in Discrete or 1-d Box spaces, not {action_space}")
        self.actor = nn.Sequential(nn.Linear(hidden_size, 64), nn.Tanh(), nn.Linear(64, outputs))
        self.critic = nn.Sequential(nn.Linear(hidden_size, 64), nn.Tanh(), nn.Linear(64, 1))
        if isinstance(self.encoder, GridEncoder):
            self.apply(_unit_rows)  # the paper code's MiniGrid initialisation

    def initial_state(self, batch: int) -> State:
        device = self.actor[0].weight.device
        return self.core.initial_state(torch.zeros(batch, self.state_size, device=device))

    def encode(self, observations: torch.Tensor) -> torch.Tensor:
        """(..., *observation shape) -> (..., FEATURES)."""
        lead = observations.shape[: observations.dim() - self.observation_dims]
        flat = observations.reshape(-1, *observations.shape[len(lead) :])
        return self.encoder(flat).reshape(*lead, FEATURES)

    @property
    def observation_dims(self) -> int:
        return 1 if isinstance(self.encoder, VectorEncoder) else 3

    def step(
        self, features: torch.Tensor, starts: torch.Tensor, state: State
    ) -> tuple[torch.Tensor, State, torch.Tensor]:
        """One core step; ``starts`` (B,) marks envs whose episode begins here (state zeroed).
        Returns core output, new state and gate activity (zeros for other cores)."""
        keep = (1.0 - starts.float())[:, None]
        state = tuple(part * keep for part in state)
        output, state, gate = self.core(features, state)
        activity = gate_activity(gate) if gate is not None else torch.zeros_like(output)
        return output, state, activity

    def unroll(
        self, observations: torch.Tensor, starts: torch.Tensor, state: State
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Replay (T, B) steps from ``state``: outputs (T, B, H) and gate activity (T, B, H)."""
        features = self.encode(observations)
        outputs, activities = [], []
        for t in range(observations.shape[0]):
            output, state, activity = self.step(features[t], starts[t], state)
            outputs.append(output)
            activities.append(activity)
        return torch.stack(outputs), torch.stack(activities)

    def heads(self, outputs: torch.Tensor) -> tuple[torch.distributions.Distribution, torch.Tensor]:
        """The policy (a Categorical, or a Normal whose dimensions are independent) and the value."""
        value = self.critic(outputs).squeeze(-1)
        if not self.continuous:
            return torch.distributions.Categorical(logits=self.actor(outputs)), value
        mean = self.actor(outputs)
        normal = torch.distributions.Normal(mean, self.log_std.exp().expand_as(mean))
        return torch.distributions.Independent(normal, 1), value

    def env_actions(self, actions: torch.Tensor) -> np.ndarray:
        """What the envs receive: indices, or samples clipped to [-1, 1] and mapped onto the box."""
        if not self.continuous:
            return actions.cpu().numpy()
        unit = actions.clamp(-1.0, 1.0).cpu().numpy()
        return (self.action_low + (unit + 1.0) / 2.0 * (self.action_high - self.action_low)).astype(np.float32)


def _unit_rows(module: nn.Module) -> None:
    """torch-ac's initialisation: Linear weights ~ N(0, 1), each row scaled to unit norm, zero bias."""
    if isinstance(module, nn.Linear):
        module.weight.data.normal_(0, 1)
        module.weight.data /= module.weight.data.pow(2).sum(1, keepdim=True).sqrt()
        if module.bias is not None:
            module.bias.data.fill_(0)


def check_env(env_id: str) -> None:
    """``ValueError`` unless PPO can act in ``env_id`` (Billiard Ball has no control)."""
    env = gym.make(env_id)
    observation_space, action_space = env.observation_space, env.action_space
    env.close()
    if isinstance(action_space, gym.spaces.Discrete) and action_space.n < 2:
        raise ValueError(f"{env_id} has no control (its one action is a no-op): nothing for PPO to learn")
    observation_kind(observation_space)


def make_envs(config: PPOConfig) -> gym.vector.VectorEnv:
    """``num_envs`` envs in ``NEXT_STEP`` autoreset mode that pickle (a checkpoint holds
    them): the id's native vector env, else a ``SyncVectorEnv`` whose env makers are
    partials of a module function (not closures). A run that records video uses the
    ``SyncVectorEnv`` (the native env renders no episodes to file); it steps the same
    episodes."""
    spec = gym.spec(config.env_id)
    if spec.vector_entry_point is not None and not config.capture_video:
        envs = gym.make_vec(config.env_id, config.num_envs, vectorization_mode="vector_entry_point")
        return FullyObservable(envs) if config.fully_observable else envs
    makers = [
        functools.partial(
            _make_env, config.env_id, config.capture_video and index == 0, config.out_dir, config.fully_observable
        )
        for index in range(config.num_envs)
    ]
    return gym.vector.SyncVectorEnv(makers, autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP)


def _make_env(env_id: str, record: bool, out_dir: Path, fully_observable: bool = False) -> gym.Env:
    env = gym.make(env_id, render_mode="rgb_array") if record else gym.make(env_id)
    if record:
        env = record_video(env, Path(out_dir) / "videos", "env0")
    return FullyObservable(env) if fully_observable else env


def _successes(info: dict[str, Any], done: np.ndarray) -> np.ndarray:
    """``info["is_success"]`` of the envs that just finished (False where not reported)."""
    flags = np.asarray(info.get("is_success", np.zeros(len(done))), dtype=bool)
    reported = np.asarray(info.get("_is_success", np.ones(len(done))), dtype=bool)
    return (flags & reported)[done]


def train(config: PPOConfig) -> dict[str, float]:
    """Train one agent; return the final scores (also written to ``scores.json``).

    Run again with the same ``out_dir`` and options, a finished run returns its scores
    and an unfinished one continues from its checkpoint (``baselines.resume``): agent,
    optimiser, envs, recurrent state, torch's generator and the rollout position."""
    check_env(config.env_id)
    check_device(config.device)
    out_dir = writable_dir(config.out_dir)
    finished, checkpoint_state = open_run(out_dir, run_options(config), config.fresh, "global_step")
    if finished is not None:
        return finished
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    envs = make_envs(config) if checkpoint_state is None else checkpoint_state["envs"]
    device = torch.device(config.device)
    tracker = Tracker(out_dir) if config.track else None
    observation_space, action_space = envs.single_observation_space, envs.single_action_space
    agent = RecurrentAgent(observation_space, action_space, config.core, config.hidden_size).to(device)
    optimizer = torch.optim.Adam(agent.parameters(), lr=config.lr, eps=config.adam_eps)
    T, N = config.num_steps, config.num_envs
    # The rollout lives on the device; only actions go back to the envs.
    observation_dtype = torch.uint8 if observation_space.dtype == np.uint8 else torch.float32
    observations = torch.zeros((T, N, *observation_space.shape), dtype=observation_dtype, device=device)
    action_shape, action_dtype = (
        ((T, N, *action_space.shape), torch.float32) if agent.continuous else ((T, N), torch.long)
    )
    actions = torch.zeros(action_shape, dtype=action_dtype, device=device)
    logprobs, rewards, values = (torch.zeros((T, N), device=device) for _ in range(3))
    starts, valid = torch.zeros((T, N), device=device), torch.ones((T, N), device=device)

    def as_observation(batch: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(batch), device=device).to(observation_dtype)

    if checkpoint_state is None:
        observation, _ = envs.reset(seed=config.seed)
        next_observation = as_observation(observation)
        next_start = torch.ones(N, device=device)
        # An env whose episode ended on the last step is reset by this step (NEXT_STEP).
        resetting = np.zeros(N, dtype=bool)
        state = agent.initial_state(N)
        episode_return = np.zeros(N)
        rows: list[dict[str, float]] = []
        global_step, first_update, seconds_before = 0, 1, 0.0
    else:
        agent.load_state_dict(checkpoint_state["agent"])
        optimizer.load_state_dict(checkpoint_state["optimizer"])
        next_observation = checkpoint_state["next_observation"].to(device)
        next_start = checkpoint_state["next_start"].to(device)
        resetting = checkpoint_state["resetting"]
        state = tuple(part.to(device) for part in checkpoint_state["state"])
        episode_return, rows = checkpoint_state["episode_return"], checkpoint_state["rows"]
        global_step, seconds_before = checkpoint_state["global_step"], checkpoint_state["seconds"]
        first_update = checkpoint_state["update"] + 1
        restore_generator_states(checkpoint_state["generators"])
    start_time = time.perf_counter()

    def checkpoint() -> None:
        save_state(
            out_dir,
            {
                "agent": agent.state_dict(),
                "optimizer": optimizer.state_dict(),
                "envs": envs,
                "next_observation": next_observation,
                "next_start": next_start,
                "resetting": resetting,
                "state": state,
                "episode_return": episode_return,
                "rows": rows,
                "global_step": global_step,
                "update": update,
                "seconds": seconds_before + time.perf_counter() - start_time,
                "generators": generator_states(),
            },
        )
        write_csv(out_dir / "metrics.csv", rows)

    updates = range(first_update, config.num_updates + 1)
    if config.progress:
        from tqdm import tqdm

        updates = tqdm(
            updates,
            desc=f"ppo {config.env_id.split('/')[-1]}/{config.core}",
            unit="update",
            initial=first_update - 1,
            total=config.num_updates,
        )
    with StopSignals() as stop:
        for update in updates:
            if config.anneal_lr:
                optimizer.param_groups[0]["lr"] = config.lr * (1.0 - (update - 1.0) / config.num_updates)
            rollout_state = tuple(part.clone() for part in state)
            finished_returns: list[float] = []
            finished_success: list[float] = []
            with torch.no_grad():
                for t in range(T):
                    observations[t], starts[t] = next_observation, next_start
                    valid[t] = torch.as_tensor(~resetting, dtype=torch.float32, device=device)
                    output, state, _ = agent.step(agent.encode(next_observation), next_start, state)
                    dist, value = agent.heads(output)
                    action = dist.sample()
                    actions[t], logprobs[t], values[t] = action, dist.log_prob(action), value
                    observation, reward, terminated, truncated, info = envs.step(agent.env_actions(action))
                    done = np.asarray(terminated | truncated)
                    rewards[t] = torch.as_tensor(reward, dtype=torch.float32, device=device)
                    episode_return += reward
                    finished_returns.extend(episode_return[done])
                    finished_success.extend(_successes(info, done).astype(float))
                    episode_return[done | resetting] = 0.0
                    next_observation = as_observation(observation)
                    # A reset step's observation begins the next episode; the step after an
                    # episode's end is a reset step, which the loss leaves out.
                    next_start = torch.as_tensor(done | resetting, dtype=torch.float32, device=device)
                    resetting = done
                    global_step += N
                next_value = agent.heads(agent.step(agent.encode(next_observation), next_start, state)[0])[1]
                advantages = _gae(rewards, values, starts, next_value, next_start, config.gamma, config.gae_lambda)
                returns = advantages + values

            rollout = Rollout(observations, starts, valid, actions, logprobs, values, advantages, returns)
            losses = _update(agent, optimizer, config, rollout, rollout_state)
            row = {
                "update": update,
                "global_step": global_step,
                "episodes": len(finished_returns),
                "success_rate": float(np.mean(finished_success)) if finished_success else float("nan"),
                "mean_return": float(np.mean(finished_returns)) if finished_returns else float("nan"),
                "seconds": seconds_before + time.perf_counter() - start_time,
                **losses,
            }
            rows.append(row)
            if tracker is not None:
                tracker.write(row, global_step)
            if config.progress:
                updates.set_postfix(success=f"{row['success_rate']:.2f}", ret=f"{row['mean_return']:.2f}")
            if update < config.num_updates:
                if due(global_step, global_step - T * N, config.checkpoint_every):
                    checkpoint()
                stop.stop_if_requested(checkpoint, str(out_dir))
    envs.close()
    if tracker is not None:
        tracker.close()
    checkpoint_file = {"agent_state": agent.state_dict(), "config": config_dict(config)}
    scores = final_scores(rows)
    write_run(out_dir, rows, checkpoint_file, scores)
    clear_state(out_dir)
    return scores


def _gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    starts: torch.Tensor,
    next_value: torch.Tensor,
    next_start: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """Generalised advantage estimates; a step whose successor starts a new episode (or
    is a reset step) does not bootstrap (truncations too, a simplification: the time
    limits are long beside the discount's horizon)."""
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(next_value)
    for t in reversed(range(len(rewards))):
        successor_start = next_start if t == len(rewards) - 1 else starts[t + 1]
        successor_value = next_value if t == len(rewards) - 1 else values[t + 1]
        not_done = 1.0 - successor_start
        delta = rewards[t] + gamma * successor_value * not_done - values[t]
        last = delta + gamma * lam * not_done * last
        advantages[t] = last
    return advantages


@dataclasses.dataclass
class Rollout:
    """One update's (T, N, ...) tensors; ``valid`` is 0 on reset steps."""

    observations: torch.Tensor
    starts: torch.Tensor
    valid: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def _update(
    agent: RecurrentAgent,
    optimizer: torch.optim.Optimizer,
    config: PPOConfig,
    rollout: Rollout,
    rollout_state: State,
) -> dict[str, float]:
    envs_per_batch = config.num_envs // config.num_minibatches
    stats: dict[str, list[float]] = {
        "policy_loss": [],
        "value_loss": [],
        "entropy": [],
        "gate_rate": [],
        "clip_fraction": [],
    }
    for _ in range(config.update_epochs):
        order = torch.randperm(config.num_envs)  # the CPU generator, on every device
        for first in range(0, config.num_envs, envs_per_batch):
            idx = order[first : first + envs_per_batch]
            state = tuple(part[idx] for part in rollout_state)
            mask = rollout.valid[:, idx]
            outputs, activity = agent.unroll(rollout.observations[:, idx], rollout.starts[:, idx], state)
            dist, value = agent.heads(outputs)
            new_logprob = dist.log_prob(rollout.actions[:, idx])
            ratio = torch.exp(new_logprob - rollout.logprobs[:, idx])
            adv = rollout.advantages[:, idx]
            adv_mean = _masked_mean(adv, mask)
            adv_std = _masked_mean((adv - adv_mean) ** 2, mask).sqrt()
            adv = (adv - adv_mean) / (adv_std + 1e-8)
            clipped_ratio = ratio.clamp(1 - config.clip_coef, 1 + config.clip_coef)
            policy_loss = _masked_mean(torch.max(-adv * ratio, -adv * clipped_ratio), mask)
            returns, old_values = rollout.returns[:, idx], rollout.values[:, idx]
            value_error = (value - returns) ** 2
            if config.clip_value_loss:
                clipped_value = old_values + (value - old_values).clamp(-config.clip_coef, config.clip_coef)
                value_error = torch.max(value_error, (clipped_value - returns) ** 2)
            value_loss = 0.5 * _masked_mean(value_error, mask)
            entropy = _masked_mean(dist.entropy(), mask)
            gate_rate = _masked_mean(activity.mean(-1), mask)
            loss = policy_loss + config.vf_coef * value_loss - config.ent_coef * entropy
            if config.core == "gatel0rd":
                loss = loss + config.reg_lambda * gate_rate
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm)
            optimizer.step()
            stats["policy_loss"].append(policy_loss.item())
            stats["value_loss"].append(value_loss.item())
            stats["entropy"].append(entropy.item())
            stats["gate_rate"].append(gate_rate.item())
            stats["clip_fraction"].append(_masked_mean(((ratio - 1).abs() > config.clip_coef).float(), mask).item())
    return {key: float(np.mean(values)) for key, values in stats.items()}


def final_scores(rows: list[dict[str, float]], last_fraction: float = 0.1) -> dict[str, float]:
    """Success rate and return over the episodes of the last ``last_fraction`` of updates."""
    tail = rows[-max(1, int(len(rows) * last_fraction)) :]
    return {
        "global_step": rows[-1]["global_step"],
        "final_success_rate": episode_mean(tail, "success_rate"),
        "final_return": episode_mean(tail, "mean_return"),
        "final_episodes": sum(row["episodes"] for row in tail),
        "final_gate_rate": tail[-1]["gate_rate"],
        "seconds": rows[-1]["seconds"],
    }


def main() -> int:
    import tyro

    config = tyro.cli(PPOConfig, prog=command_name())

    def run() -> None:
        print(json.dumps(train(config), indent=2))
        print(f"wrote {config.out_dir}/metrics.csv, checkpoint.pt, scores.json")

    return run_command("python -m baselines.agents.ppo", run)


if __name__ == "__main__":
    raise SystemExit(main())

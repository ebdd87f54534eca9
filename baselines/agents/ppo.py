"""Recurrent PPO on the MiniGrid memory tasks, with a GateL0RD or LSTM memory.

    python -m baselines.agents.ppo --env-id pomdp_envs/MiniGrid-DoorKey-5x5-v0 --core gatel0rd
    python -m baselines.agents.ppo --core lstm --total-steps 300000 --help

The algorithm is in this one file, in torch; the memory cells come from ``baselines.cells`` and
the run folder from ``baselines.runlog``. The agent: a small conv encoder of the 7x7x3 view, a recurrent
core (GateL0RD, whose L0 gate penalty ``reg_lambda`` is added to the loss, an LSTM, or
``none``: a feedforward layer of the current view, the memoryless control),
and actor and critic heads. Rollouts of ``num_steps`` per env come from a
``SyncVectorEnv`` in same-step autoreset mode, so the observation after a finished
episode is already the next episode's first one; the recurrent state is zeroed
before every step that starts a new episode, both while acting and when the rollout is
replayed for the update. Minibatches are whole env sequences (split by env), each
replayed from the state the rollout started with.

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
from typing import Literal

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


CORES = ("gatel0rd", "lstm")  # the memories the agent offers (the benchmarks compare these)
MEMORYLESS = "none"  # the control: a feedforward policy of the current view


@dataclasses.dataclass
class PPOConfig:
    """Options of a PPO run (defaults: the GateL0RD paper's MiniGrid set-up). GateL0RD
    runs without gate noise: the update replays each rollout and needs the
    log-probabilities it acted with."""

    env_id: str = "pomdp_envs/MiniGrid-DoorKey-5x5-v0"  # a pomdp_envs/MiniGrid-* id (7x7x3 view)
    core: Literal[(*CORES, MEMORYLESS)] = "gatel0rd"  # type: ignore[valid-type]  # the agent's memory; none: no memory
    total_steps: int = 200_000  # env steps over all envs
    num_envs: int = 16  # parallel envs
    num_steps: int = 128  # rollout length per env and update
    lr: float = 1e-3  # Adam learning rate
    anneal_lr: bool = True  # decay the learning rate linearly to 0
    update_epochs: int = 4  # passes over each rollout
    num_minibatches: int = 4  # each holds num_envs / num_minibatches whole env sequences
    gamma: float = 0.99  # discount
    gae_lambda: float = 0.95  # GAE lambda
    clip_coef: float = 0.2  # PPO ratio clipping
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
    fully_observable: bool = False  # act on the whole grid (pomdp_envs.wrappers.FullyObservable)
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


class RecurrentAgent(nn.Module):
    """Conv encoder -> recurrent core -> actor and critic heads."""

    def __init__(
        self, num_actions: int, core: str = "gatel0rd", hidden_size: int = 64, view_size: tuple[int, int] = (7, 7)
    ) -> None:
        super().__init__()
        if tuple(view_size) == (7, 7):
            self.encoder = nn.Sequential(  # 7x7 -> 6x6 -> 3x3 -> 2x2 -> 1x1
                nn.Conv2d(3, 16, 2),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 2),
                nn.ReLU(),
                nn.Conv2d(32, 64, 2),
                nn.ReLU(),
                nn.Flatten(),
            )
        else:  # the fully observable variant's whole grid, of any size: padded convs, then a max over cells
            self.encoder = nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(16, 32, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(32, 64, 3, padding=1),
                nn.ReLU(),
                nn.AdaptiveMaxPool2d(1),
                nn.Flatten(),
            )
        if core == "gatel0rd":
            self.core: nn.Module = GateL0RDCell(64, hidden_size, gate_noise=0.0)
            self.state_size = hidden_size
        elif core == "lstm":
            self.core = TorchRNNCell("lstm", 64, hidden_size)
            self.state_size = 2 * hidden_size
        elif core == MEMORYLESS:  # one tanh layer of the current features: nothing carried over
            self.core = WindowCell(64, hidden_size, window=1)
            self.state_size = hidden_size
        else:
            raise ValueError(f"core must be one of {(*CORES, MEMORYLESS)}, got {core!r}")
        self.actor = nn.Sequential(nn.Linear(hidden_size, 64), nn.Tanh(), nn.Linear(64, num_actions))
        self.critic = nn.Sequential(nn.Linear(hidden_size, 64), nn.Tanh(), nn.Linear(64, 1))

    def initial_state(self, batch: int) -> State:
        device = self.actor[0].weight.device
        return self.core.initial_state(torch.zeros(batch, self.state_size, device=device))

    def encode(self, views: torch.Tensor) -> torch.Tensor:
        """(..., 7, 7, 3) uint8 views -> (..., 64) features."""
        lead = views.shape[:-3]
        x = (views.float() / _VIEW_SCALE).reshape(-1, *views.shape[-3:]).permute(0, 3, 1, 2)
        return self.encoder(x).reshape(*lead, -1)

    def step(
        self, features: torch.Tensor, starts: torch.Tensor, state: State
    ) -> tuple[torch.Tensor, State, torch.Tensor]:
        """One core step; ``starts`` (B,) marks envs whose episode begins here (state zeroed).
        Returns core output, new state and gate activity (zeros for the LSTM)."""
        keep = (1.0 - starts.float())[:, None]
        state = tuple(part * keep for part in state)
        output, state, gate = self.core(features, state)
        activity = gate_activity(gate) if gate is not None else torch.zeros_like(output)
        return output, state, activity

    def unroll(self, views: torch.Tensor, starts: torch.Tensor, state: State) -> tuple[torch.Tensor, torch.Tensor]:
        """Replay (T, B) steps from ``state``: outputs (T, B, H) and gate activity (T, B, H)."""
        features = self.encode(views)
        outputs, activities = [], []
        for t in range(views.shape[0]):
            output, state, activity = self.step(features[t], starts[t], state)
            outputs.append(output)
            activities.append(activity)
        return torch.stack(outputs), torch.stack(activities)

    def heads(self, outputs: torch.Tensor) -> tuple[torch.distributions.Categorical, torch.Tensor]:
        return torch.distributions.Categorical(logits=self.actor(outputs)), self.critic(outputs).squeeze(-1)


def make_envs(config: PPOConfig) -> gym.vector.VectorEnv:
    """``num_envs`` copies in a ``SyncVectorEnv`` that pickles (a checkpoint holds it):
    its env makers are partials of module functions, not closures."""
    return gym.vector.SyncVectorEnv(
        [
            functools.partial(
                _make_env, config.env_id, config.capture_video and index == 0, config.out_dir, config.fully_observable
            )
            for index in range(config.num_envs)
        ],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )


def _make_env(env_id: str, record: bool, out_dir: Path, fully_observable: bool = False) -> gym.Env:
    env = gym.make(env_id, render_mode="rgb_array") if record else gym.make(env_id)
    if record:
        env = record_video(env, Path(out_dir) / "videos", "env0")
    return FullyObservable(env) if fully_observable else env


def _check_env(env_id: str) -> None:
    """``ValueError`` unless ``env_id`` has MiniGrid's 7x7x3 view and discrete actions."""
    env = gym.make(env_id)
    view, action_space = env.observation_space, env.action_space
    env.close()
    if not isinstance(action_space, gym.spaces.Discrete) or getattr(view, "shape", None) != (7, 7, 3):
        raise ValueError(
            f"PPO needs a MiniGrid id (7x7x3 view, discrete actions); {env_id} has "
            f"observations {view} and actions {action_space}"
        )


def train(config: PPOConfig) -> dict[str, float]:
    """Train one agent; return the final scores (also written to ``scores.json``).

    Run again with the same ``out_dir`` and options, a finished run returns its scores
    and an unfinished one continues from its checkpoint (``baselines.resume``): agent,
    optimiser, envs, recurrent state, torch's generator and the rollout position."""
    _check_env(config.env_id)
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
    view_size = envs.single_observation_space.shape[:2]
    agent = RecurrentAgent(int(envs.single_action_space.n), config.core, config.hidden_size, view_size).to(device)
    optimizer = torch.optim.Adam(agent.parameters(), lr=config.lr, eps=1e-5)
    T, N = config.num_steps, config.num_envs
    # The rollout lives on the device; only actions go back to the envs.
    views = torch.zeros((T, N, *envs.single_observation_space.shape), dtype=torch.uint8, device=device)
    actions = torch.zeros((T, N), dtype=torch.long, device=device)
    logprobs, rewards, values = (torch.zeros((T, N), device=device) for _ in range(3))
    starts = torch.zeros((T, N), device=device)

    if checkpoint_state is None:
        observation, _ = envs.reset(seed=config.seed)
        next_view = torch.as_tensor(observation, device=device)
        next_start = torch.ones(N, device=device)
        state = agent.initial_state(N)
        episode_return = np.zeros(N)
        rows: list[dict[str, float]] = []
        global_step, first_update, seconds_before = 0, 1, 0.0
    else:
        agent.load_state_dict(checkpoint_state["agent"])
        optimizer.load_state_dict(checkpoint_state["optimizer"])
        next_view = checkpoint_state["next_view"].to(device)
        next_start = checkpoint_state["next_start"].to(device)
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
                "next_view": next_view,
                "next_start": next_start,
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
            finished_returns, finished_success = [], []
            with torch.no_grad():
                for t in range(T):
                    views[t], starts[t] = next_view, next_start
                    output, state, _ = agent.step(agent.encode(next_view), next_start, state)
                    dist, value = agent.heads(output)
                    action = dist.sample()
                    actions[t], logprobs[t], values[t] = action, dist.log_prob(action), value
                    observation, reward, terminated, truncated, _ = envs.step(action.cpu().numpy())
                    done = terminated | truncated
                    rewards[t] = torch.as_tensor(reward, dtype=torch.float32, device=device)
                    episode_return += reward
                    for env_index in np.flatnonzero(done):
                        finished_returns.append(episode_return[env_index])
                        # MiniGrid rewards only success, with 1 - 0.9 * steps / max_steps > 0.
                        finished_success.append(float(terminated[env_index] and reward[env_index] > 0))
                    episode_return[done] = 0.0
                    next_view = torch.as_tensor(observation, device=device)
                    next_start = torch.as_tensor(done, dtype=torch.float32, device=device)
                    global_step += N
                next_value = agent.heads(agent.step(agent.encode(next_view), next_start, state)[0])[1]
                advantages = _gae(rewards, values, starts, next_value, next_start, config.gamma, config.gae_lambda)
                returns = advantages + values

            losses = _update(
                agent, optimizer, config, views, starts, actions, logprobs, advantages, returns, rollout_state
            )
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
    checkpoint_file = {
        "agent_state": agent.state_dict(),
        "config": config_dict(config),
        "num_actions": int(envs.single_action_space.n),
        "view_size": list(view_size),
    }
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
    """Generalised advantage estimates; a step whose successor starts a new episode
    does not bootstrap (truncations too, a simplification: MiniGrid's time limits are long)."""
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


def _update(
    agent: RecurrentAgent,
    optimizer: torch.optim.Optimizer,
    config: PPOConfig,
    views: torch.Tensor,
    starts: torch.Tensor,
    actions: torch.Tensor,
    logprobs: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
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
            outputs, activity = agent.unroll(views[:, idx], starts[:, idx], state)
            dist, value = agent.heads(outputs)
            new_logprob = dist.log_prob(actions[:, idx])
            ratio = torch.exp(new_logprob - logprobs[:, idx])
            adv = advantages[:, idx]
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            policy_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - config.clip_coef, 1 + config.clip_coef)).mean()
            value_loss = 0.5 * ((value - returns[:, idx]) ** 2).mean()
            entropy = dist.entropy().mean()
            gate_rate = activity.mean()
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
            stats["clip_fraction"].append(((ratio - 1).abs() > config.clip_coef).float().mean().item())
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

"""The training loop: act, store episodes, update; its log rows, scores, curve and cost."""

from __future__ import annotations

import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import pomdp_envs  # noqa: F401  (registers the ids)
from baselines.agents.dreamer.actor import ActionMap, Actor
from baselines.agents.dreamer.agent import Dreamer
from baselines.agents.dreamer.config import DreamerConfig
from baselines.agents.dreamer.replay import Episode, Replay
from baselines.runlog import Tracker, check_device, config_dict, episode_mean, save_figure, write_run


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
    episode = Episode(*env.reset(seed=config.seed), action_size=actions.size)
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
            episode = Episode(*env.reset(), action_size=actions.size)
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
    checkpoint = {
        "world": agent.world.state_dict(),
        "actor": agent.actor.state_dict(),
        "critic": agent.critic.state_dict(),
        "config": config_dict(config),
    }
    scores = final_scores(rows, agent.num_parameters())
    write_run(out_dir, rows, checkpoint, scores)
    plot_curve(rows, out_dir / "curve.png", f"{config.env_id.split('/')[-1]} {config.world.model}")
    return scores


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
    episode = Episode(*env.reset(seed=config.seed), action_size=actions.size)
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

"""The training loop: act, store episodes, update; its log rows, scores, curve and cost."""

from __future__ import annotations

import shutil
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
from baselines.runlog import (
    Tracker,
    check_device,
    config_dict,
    episode_mean,
    record_video,
    save_figure,
    write_csv,
    write_run,
)
from pomdp_envs.cli_errors import writable_dir


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
    """Train one agent; return the final scores (also written to ``scores.json``).

    Run again with the same ``out_dir`` and options, a finished run returns its scores
    and an unfinished one continues from its checkpoint (``baselines.resume``): the three
    networks and optimisers, the env, the episode in progress, the replay (its episodes
    saved once each below ``out_dir/replay``) and every random generator."""
    check_device(config.device)
    env = make_env(config, render_mode="rgb_array" if config.capture_video else None)
    check_budget(config, env.spec.max_episode_steps if env.spec else None)
    out_dir = writable_dir(config.out_dir)
    finished_scores, checkpoint_state = open_run(out_dir, run_options(config), config.fresh, "step")
    if finished_scores is not None:
        env.close()
        return finished_scores
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    if config.capture_video:  # training episodes on a capped cubic schedule, as CleanRL records them
        env = record_video(env, out_dir / "videos", "train")
    actions = ActionMap(env.action_space)
    agent = Dreamer(config, env.observation_space.shape, actions.size)
    device = agent.device
    replay = Replay(config.seed)
    rng = np.random.default_rng(config.seed)
    tracker = Tracker(out_dir) if config.track else None

    if checkpoint_state is None:
        rows: list[dict[str, float]] = []
        pending: dict[str, list[float]] = {}
        finished: list[dict[str, float]] = []
        episode = Episode(*env.reset(seed=config.seed), action_size=actions.size)
        state, previous_action = None, torch.zeros(1, actions.size, device=device)
        first_step, seconds_before = 1, 0.0
    else:
        env.close()
        env = checkpoint_state["env"]
        agent.load_state(checkpoint_state["agent"])
        replay.load(out_dir / "replay", checkpoint_state["replay"])
        rng.bit_generator.state = checkpoint_state["rng"]
        restore_generator_states(checkpoint_state["generators"])
        rows, pending, finished = checkpoint_state["rows"], checkpoint_state["pending"], checkpoint_state["finished"]
        episode = checkpoint_state["episode"]
        state = (
            None
            if checkpoint_state["state"] is None
            else {k: v.to(device) for k, v in checkpoint_state["state"].items()}
        )
        previous_action = checkpoint_state["previous_action"].to(device)
        first_step, seconds_before = checkpoint_state["step"] + 1, checkpoint_state["seconds"]
    start_time = time.perf_counter()

    def checkpoint() -> None:
        save_state(
            out_dir,
            {
                "agent": agent.state(),
                "replay": replay.save(out_dir / "replay"),
                "rng": rng.bit_generator.state,
                "generators": generator_states(),
                "env": env,
                "episode": episode,
                "state": state,
                "previous_action": previous_action,
                "rows": rows,
                "pending": pending,
                "finished": finished,
                "step": step,
                "seconds": seconds_before + time.perf_counter() - start_time,
            },
        )
        write_csv(out_dir / "metrics.csv", rows)

    steps = range(first_step, config.total_steps + 1)
    if config.progress:
        from tqdm import tqdm

        steps = tqdm(
            steps,
            desc=f"dreamer {config.world.model}",
            unit="step",
            mininterval=2.0,
            initial=first_step - 1,
            total=config.total_steps,
        )
    with StopSignals() as stop:
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
                row = _log_row(
                    step, agent.updates, seconds_before + time.perf_counter() - start_time, finished, pending
                )
                rows.append(row)
                if tracker is not None:
                    tracker.write(row, step)
                finished, pending = [], {}
                if config.progress and np.isfinite(row["objects_scored"]):
                    steps.set_postfix(
                        objects=f"{row['objects_scored']:.2f}", image=f"{row.get('image_loss', np.nan):.1f}"
                    )
            if step < config.total_steps:
                if due(step, step - 1, config.checkpoint_every):
                    checkpoint()
                stop.stop_if_requested(checkpoint, str(out_dir))
    env.close()
    if tracker is not None:
        tracker.close()
    checkpoint_file = {
        "world": agent.world.state_dict(),
        "actor": agent.actor.state_dict(),
        "critic": agent.critic.state_dict(),
        "config": config_dict(config),
    }
    scores = final_scores(rows, agent.num_parameters())
    plot_curve(rows, out_dir / "curve.png", f"{config.env_id.split('/')[-1]} {config.world.model}")
    write_run(out_dir, rows, checkpoint_file, scores)
    clear_state(out_dir)
    shutil.rmtree(out_dir / "replay", ignore_errors=True)  # the checkpoint's copy, no longer needed
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

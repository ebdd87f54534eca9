"""Roll out episodes of a registered env and save each as an mp4."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym

from pomdp_envs.video import write_mp4


def record_episodes(
    env_id: str,
    out_dir: str | Path,
    episodes: int = 1,
    seed: int = 0,
    fps: float | None = None,
    max_steps: int | None = None,
) -> Iterator[tuple[Path, int]]:
    """Record ``episodes`` random-policy episodes; yield (mp4 path, frame count) per episode.

    Episode ``k`` is reset with ``seed + k`` and the action space is seeded with ``seed``,
    so the same arguments give the same videos.
    """
    env = gym.make(env_id, render_mode="rgb_array")
    env.action_space.seed(seed)
    fps = fps or env.metadata.get("render_fps", 30)
    name = env_id.split("/")[-1]
    try:
        for episode in range(episodes):
            env.reset(seed=seed + episode)
            frames = [env.render()]
            steps, done = 0, False
            while not done and (max_steps is None or steps < max_steps):
                _, _, terminated, truncated, _ = env.step(env.action_space.sample())
                frames.append(env.render())
                steps, done = steps + 1, terminated or truncated
            path = Path(out_dir) / f"{name}-seed{seed + episode}.mp4"
            yield path, write_mp4(path, frames, fps)
    finally:
        env.close()

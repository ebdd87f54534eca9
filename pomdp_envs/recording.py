"""Roll out episodes of a registered env and save them as mp4: one file per episode,
or one grid video of several envs stepped together by the native vector env."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from pomdp_envs.core.hidden import without_masks
from pomdp_envs.policies import make_policy
from pomdp_envs.video import write_mp4

STRIP_LINE_PX = 14  # height of one text line in the info strip


def describe_step(step: int, reward: float, info: dict[str, Any]) -> list[str]:
    """Text lines for a frame: step, reward, and each true hidden factor; a factor that
    changed in this step is marked with '*'."""
    lines = [f"step {step}  reward {reward:+.3f}"]
    changed = info.get("hidden_changed", {})
    parts = []
    for name, value in info.get("hidden", {}).items():
        array = np.asarray(value)
        shown = f"{array.item():g}" if array.ndim == 0 else "(" + ", ".join(f"{v:+.2f}" for v in array.ravel()) + ")"
        parts.append(f"{name}={shown}{'*' if changed.get(name) else ''}")
    lines += [" ".join(parts[i : i + 2]) for i in range(0, len(parts), 2)]
    return lines


def add_text_strip(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    """``frame`` with a black strip below it holding ``lines`` of white text."""
    from PIL import Image, ImageDraw

    height = STRIP_LINE_PX * len(lines) + 4
    strip = Image.new("RGB", (frame.shape[1], height))
    draw = ImageDraw.Draw(strip)
    for i, line in enumerate(lines):
        draw.text((4, 2 + i * STRIP_LINE_PX), line, fill=(255, 255, 255))
    return np.concatenate([frame, np.asarray(strip)], axis=0)


def tile(frames: list[np.ndarray], columns: int | None = None) -> np.ndarray:
    """Frames of one size laid out in a grid (blank cells filled black)."""
    columns = columns or math.ceil(math.sqrt(len(frames)))
    rows = math.ceil(len(frames) / columns)
    height, width, _ = frames[0].shape
    grid = np.zeros((rows * height, columns * width, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        r, c = divmod(i, columns)
        grid[r * height : (r + 1) * height, c * width : (c + 1) * width] = frame
    return grid


@dataclasses.dataclass(frozen=True)
class RecordOptions:
    """How to record: the policy is seeded with ``seed``, episode k reset with seed + k."""

    seed: int = 0
    policy: str = "random"  # "random" or a name from pomdp_envs.policies.policy_names
    fps: float | None = None  # default: the env's render_fps
    max_steps: int | None = None  # default: until the episode ends
    info_strip: bool = False  # text strip with step, reward and the true hidden factors
    progress: bool = False


def record_episodes(
    env_id: str, out_dir: str | Path, episodes: int = 1, options: RecordOptions = RecordOptions()
) -> Iterator[tuple[Path, int]]:
    """Record ``episodes`` episodes; yield (mp4 path, frame count) per episode.
    The same arguments give the same videos."""
    env = gym.make(env_id, render_mode="rgb_array")
    actor = make_policy(env_id, options.policy, options.seed)
    fps = options.fps or env.metadata.get("render_fps", 30)
    name = env_id.split("/")[-1]
    try:
        for episode in range(episodes):
            obs, info = env.reset(seed=options.seed + episode)
            actor.reset_one(obs)
            frames = [_frame(env.render(), 0, 0.0, info, options.info_strip)]
            for step in _progress(_steps(options.max_steps), options.progress, f"{name} episode {episode}"):
                obs, reward, terminated, truncated, info = env.step(actor.act_one(obs, info))
                frames.append(_frame(env.render(), step, float(reward), info, options.info_strip))
                if terminated or truncated:
                    break
            path = Path(out_dir) / f"{name}-{options.policy}-seed{options.seed + episode}.mp4"
            yield path, write_mp4(path, _same_size(frames), fps)
    finally:
        env.close()


def record_grid(
    env_id: str, out_dir: str | Path, num_envs: int, options: RecordOptions = RecordOptions()
) -> tuple[Path, int]:
    """One video of ``num_envs`` envs (seeds ``options.seed``..) in a grid, one episode
    each; an env whose episode has ended holds its last frame."""
    envs = gym.make_vec(env_id, num_envs=num_envs, render_mode="rgb_array")  # native where it exists
    actor = make_policy(env_id, options.policy, options.seed)
    fps = options.fps or envs.metadata.get("render_fps", 30)
    name = env_id.split("/")[-1]
    info_strip = options.info_strip
    try:
        obs, info = envs.reset(seed=options.seed)
        actor.reset(obs)
        cells = _cells(envs, 0, np.zeros(num_envs), info, info_strip)
        frames = [tile(cells)]
        ended = np.zeros(num_envs, dtype=bool)
        for step in _progress(_steps(options.max_steps), options.progress, f"{name} x{num_envs}"):
            obs, rewards, terminated, truncated, info = envs.step(actor.act(obs, info))
            new_cells = _cells(envs, step, rewards, info, info_strip)
            cells = [old if done else new for old, new, done in zip(cells, new_cells, ended)]
            frames.append(tile(cells))
            ended |= terminated | truncated
            if ended.all():
                break
        path = Path(out_dir) / f"{name}-{options.policy}-x{num_envs}-seed{options.seed}.mp4"
        return path, write_mp4(path, frames, fps)
    finally:
        envs.close()


def _steps(max_steps: int | None) -> Iterable[int]:
    """Step numbers 1, 2, ...: up to ``max_steps``, else until the episode ends."""
    return itertools.count(1) if max_steps is None else range(1, max_steps + 1)


def _frame(frame: np.ndarray, step: int, reward: float, info: dict, info_strip: bool) -> np.ndarray:
    return add_text_strip(frame, describe_step(step, reward, info)) if info_strip else frame


def _cells(envs: gym.vector.VectorEnv, step: int, rewards: np.ndarray, info: dict, info_strip: bool) -> list[np.ndarray]:
    """One frame per sub-env, each with its own info strip if asked."""
    frames = list(envs.render())
    if info_strip:
        for i, frame in enumerate(frames):
            single = {
                "hidden": {k: v[i] for k, v in without_masks(info["hidden"]).items()},
                "hidden_changed": {k: bool(v[i]) for k, v in without_masks(info["hidden_changed"]).items()},
            }
            frames[i] = add_text_strip(frame, describe_step(step, float(rewards[i]), single))
    return frames


def _same_size(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Pad frames at the bottom to the tallest one (info strips can differ in lines)."""
    height = max(f.shape[0] for f in frames)
    return [np.pad(f, ((0, height - f.shape[0]), (0, 0), (0, 0))) for f in frames]


def _progress(steps: Iterable[int], enabled: bool, label: str) -> Iterable[int]:
    if not enabled:
        return steps
    try:
        from tqdm import tqdm
    except ImportError:
        return steps
    return tqdm(steps, desc=label, unit="step", leave=False)

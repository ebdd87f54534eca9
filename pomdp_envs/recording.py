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
from pomdp_envs.policies.base import Policy
from pomdp_envs.video import write_mp4

STRIP_FONT_PX = 13  # text size in the info strip
STRIP_MIN_WIDTH = 480  # px: narrower frames are padded so that the strip stays legible
VIEW_MIN_SIZE = 256  # px: an image observation is enlarged (nearest neighbour) to at least this


def describe_step(step: int, reward: float, info: dict[str, Any]) -> list[str]:
    """Text items for a frame: step, reward, and each true hidden factor (integers and
    flags as such, numbers to two decimals); a factor that changed in this step is
    marked with '*'."""
    items = [f"step {step}", f"reward {reward:+.3f}"]
    changed = info.get("hidden_changed", {})
    for name, value in info.get("hidden", {}).items():
        items.append(f"{name}={_format(np.asarray(value))}{'*' if changed.get(name) else ''}")
    return items


def _format(array: np.ndarray) -> str:
    if array.dtype.kind == "b":
        values = [str(bool(v)) for v in array.ravel()]
    elif array.dtype.kind in "iu":
        values = [str(int(v)) for v in array.ravel()]
    else:
        values = [f"{v:+.2f}" for v in array.ravel()]
    return values[0] if array.ndim == 0 else "(" + ", ".join(values) + ")"


def add_text_strip(frame: np.ndarray, items: list[str]) -> np.ndarray:
    """``frame`` over a black strip holding ``items`` in white, wrapped to the width;
    frames narrower than ``STRIP_MIN_WIDTH`` are centred on a black band that wide."""
    from PIL import Image, ImageDraw, ImageFont

    width = max(frame.shape[1], STRIP_MIN_WIDTH)
    if width > frame.shape[1]:
        left = (width - frame.shape[1]) // 2
        frame = np.pad(frame, ((0, 0), (left, width - frame.shape[1] - left), (0, 0)))
    font = ImageFont.load_default(size=STRIP_FONT_PX)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines = _wrap(items, width - 8, lambda text: measure.textlength(text, font=font))
    line_px = STRIP_FONT_PX + 4
    strip = Image.new("RGB", (width, line_px * len(lines) + 4))
    draw = ImageDraw.Draw(strip)
    for i, line in enumerate(lines):
        draw.text((4, 2 + i * line_px), line, fill=(255, 255, 255), font=font)
    return np.concatenate([frame, np.asarray(strip)], axis=0)


def _wrap(items: list[str], width: float, length) -> list[str]:
    """Items joined by two spaces into lines no wider than ``width``; an item too wide
    for a line of its own is broken after its commas, and a piece still too wide
    wherever it must."""
    pieces: list[str] = []
    for item in items:
        if length(item) <= width:
            pieces.append(item)
            continue
        part = ""
        for chunk in item.split(", "):
            candidate = f"{part}, {chunk}" if part else chunk
            if part and length(candidate + ",") > width:  # room for the comma it keeps
                pieces.append(part + ",")
                part = chunk
            else:
                part = candidate
        pieces.append(part)
    fitted: list[str] = []
    for piece in pieces:
        while length(piece) > width and len(piece) > 1:
            cut = 1
            while cut < len(piece) - 1 and length(piece[: cut + 1]) <= width:
                cut += 1
            fitted.append(piece[:cut])
            piece = piece[cut:]
        fitted.append(piece)
    lines, line = [], ""
    for piece in fitted:
        candidate = f"{line}  {piece}" if line else piece
        if line and length(candidate) > width:
            lines.append(line)
            line = piece
        else:
            line = candidate
    return [*lines, line] if line else lines


def observation_frame(env: gym.Env, observation: np.ndarray) -> np.ndarray:
    """What the agent sees, as an RGB frame: an image observation enlarged with nearest
    neighbour, or MiniGrid's drawing of the agent's 7x7 view. ``ValueError`` for envs
    whose observation is not a view (use ``--view world``)."""
    upstream = getattr(env.unwrapped, "upstream", None)
    if upstream is not None and hasattr(upstream, "get_pov_render"):
        return np.asarray(upstream.get_pov_render(tile_size=32))
    image = np.asarray(observation)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"{env.spec.id if env.spec else env}: the observation {image.shape} is not an image; use --view world"
        )
    scale = max(1, math.ceil(VIEW_MIN_SIZE / image.shape[0]))
    return image.repeat(scale, axis=0).repeat(scale, axis=1)


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two frames next to each other, the shorter one centred vertically."""
    height = max(left.shape[0], right.shape[0])

    def pad(frame: np.ndarray) -> np.ndarray:
        top = (height - frame.shape[0]) // 2
        return np.pad(frame, ((top, height - frame.shape[0] - top), (0, 0), (0, 0)))

    return np.concatenate([pad(left), np.zeros((height, 8, 3), dtype=np.uint8), pad(right)], axis=1)


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
    view: str = "world"  # "world" (render_mode frames), "obs" (what the agent sees) or "both"
    progress: bool = False

    def __post_init__(self) -> None:
        if self.view not in ("world", "obs", "both"):
            raise ValueError(f"view must be 'world', 'obs' or 'both', got {self.view!r}")


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
            frames = episode_frames(env, actor, options.seed + episode, options, f"{name} episode {episode}")
            path = Path(out_dir) / f"{name}-{options.policy}-seed{options.seed + episode}.mp4"
            yield path, write_mp4(path, frames, fps)
    finally:
        env.close()


def episode_frames(
    env: gym.Env, actor: Policy, seed: int, options: RecordOptions = RecordOptions(), label: str = "episode"
) -> list[np.ndarray]:
    """The frames of one episode of ``env`` (made with ``render_mode="rgb_array"``),
    reset with ``seed`` and driven by ``actor``, as ``options`` asks (all one size)."""
    obs, info = env.reset(seed=seed)
    actor.reset_one(obs)
    frames = [_frame(_picture(env, obs, options.view), 0, 0.0, info, options.info_strip)]
    for step in _progress(_steps(options.max_steps), options.progress, label):
        obs, reward, terminated, truncated, info = env.step(actor.act_one(obs, info))
        frames.append(_frame(_picture(env, obs, options.view), step, float(reward), info, options.info_strip))
        if terminated or truncated:
            break
    return _same_size(frames)


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


def rgb_frame(env: gym.Env) -> np.ndarray:
    """``env.render()`` of an env made with ``render_mode="rgb_array"``; ``ValueError``
    naming the render mode otherwise."""
    frame = env.render()
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"{env} rendered no RGB array: make it with render_mode='rgb_array'")
    return frame


def _picture(env: gym.Env, observation: np.ndarray, view: str) -> np.ndarray:
    if view == "world":
        return rgb_frame(env)
    seen = observation_frame(env, observation)
    return seen if view == "obs" else side_by_side(rgb_frame(env), seen)


def _frame(frame: np.ndarray, step: int, reward: float, info: dict, info_strip: bool) -> np.ndarray:
    return add_text_strip(frame, describe_step(step, reward, info)) if info_strip else frame


def _cells(
    envs: gym.vector.VectorEnv, step: int, rewards: np.ndarray, info: dict, info_strip: bool
) -> list[np.ndarray]:
    """One frame per sub-env, each with its own info strip if asked."""
    rendered = envs.render()
    if rendered is None:
        raise ValueError(f"{envs} rendered nothing: make it with render_mode='rgb_array'")
    frames = [np.asarray(frame) for frame in rendered]
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

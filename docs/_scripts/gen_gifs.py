"""Make the episode GIFs of the docs site: ``docs/_static/gifs/<short name>.gif``, one
per registered id, driven by its validation policy (the paper's data policy, the scripted
oracle or the MiniGrid solver; random actions for Billiard Ball). ShapeHerd shows the
world beside the agent's 64x64 view. The GIFs are committed; rerun this after a change
to an env's rendering.

    python docs/_scripts/gen_gifs.py                 # every id
    python docs/_scripts/gen_gifs.py --ids shepherd  # short names
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from pomdp_envs.policies import make_policy  # noqa: E402
from pomdp_envs.recording import RecordOptions, episode_frames  # noqa: E402
from pomdp_envs.registration import ENTRIES  # noqa: E402

GIFS = ROOT / "docs" / "_static" / "gifs"
MAX_STEPS = 120  # an episode is cut here: enough to see the task, small enough to commit
MAX_WIDTH = 480  # px; wider frames are scaled down
SEED = 0


def gif_frames(env_id: str, policy: str, view: str) -> tuple[list[np.ndarray], float]:
    env = gym.make(env_id, render_mode="rgb_array")
    try:
        actor = make_policy(env_id, policy, seed=SEED)
        frames = episode_frames(env, actor, SEED, RecordOptions(policy=policy, max_steps=MAX_STEPS, view=view))
        return frames, float(env.metadata.get("render_fps", 15))
    finally:
        env.close()


def write_gif(path: Path, frames: list[np.ndarray], fps: float) -> None:
    height, width = frames[0].shape[:2]
    scale = min(1.0, MAX_WIDTH / width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    images = [Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR) for frame in frames]
    # One shared palette keeps the file small and the colours steady from frame to frame.
    palette = images[0].quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    paletted = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in images]
    path.parent.mkdir(parents=True, exist_ok=True)
    paletted[0].save(path, save_all=True, append_images=paletted[1:], duration=round(1000 / fps), loop=0, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python docs/_scripts/gen_gifs.py", description=__doc__)
    parser.add_argument("--ids", nargs="*", help="short names (default: every registered id)")
    parser.add_argument("--out", type=Path, default=GIFS)
    args = parser.parse_args(argv)
    entries = [entry for entry in ENTRIES if not args.ids or entry.short_name in args.ids]
    for entry in entries:
        view = "both" if entry.name.startswith("ShapeHerd") else "world"
        frames, fps = gif_frames(entry.id, entry.validation_policy, view)
        path = args.out / f"{entry.short_name}.gif"
        write_gif(path, frames, fps)
        print(f"{path.relative_to(ROOT)}: {len(frames)} frames, {path.stat().st_size / 1024:.0f} KiB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

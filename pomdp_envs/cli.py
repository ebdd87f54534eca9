"""The ``pomdp-envs`` command: list the environments, render episodes to video, and
score saved latent states against the true hidden factors."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pomdp_envs import registration
from pomdp_envs.cli_errors import (
    OneLineArgumentParser,
    existing_file,
    positive_float,
    positive_int,
    run_command,
    writable_dir,
)


def main(argv: Sequence[str] | None = None) -> int:
    from pomdp_envs import __version__

    parser = OneLineArgumentParser(prog="pomdp-envs", description=__doc__)
    parser.add_argument("--version", action="version", version=f"pomdp-envs {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineArgumentParser)

    commands.add_parser("list", help="print every registered id with a one-line description")

    render = commands.add_parser("render", help="render episodes to mp4")
    target = render.add_mutually_exclusive_group(required=True)
    target.add_argument("env_id", nargs="?", help="an id from `pomdp-envs list`")
    target.add_argument("--all", action="store_true", help="render every registered id")
    render.add_argument("--episodes", type=positive_int, default=1, help="one mp4 per episode")
    render.add_argument("--seed", type=int, default=0, help="episode k is reset with seed + k")
    render.add_argument("--policy", default="random", help="random, oracle or an env's policy name")
    render.add_argument(
        "--num-envs", type=positive_int, default=None, help="one grid video of this many envs from the vector env"
    )
    render.add_argument("--out", type=Path, default=Path("videos"))
    render.add_argument("--fps", type=positive_float, default=None, help="default: the env's render_fps")
    render.add_argument("--max-steps", type=positive_int, default=None, help="cap on steps per episode")
    render.add_argument(
        "--info-strip", action="store_true", help="add a text strip with step, reward and the true hidden factors"
    )
    render.add_argument(
        "--view",
        choices=("world", "obs", "both"),
        default="world",
        help="world: the env's frames; obs: what the agent sees (image observations, "
        "MiniGrid's 7x7 view); both: side by side",
    )
    render.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    play = commands.add_parser(
        "play",
        help="control an env with the keyboard in a window, hidden factors shown",
        description="Keys: see pomdp_envs/play.py (arrows move; MiniGrid: arrows, Space, "
        "PageUp/PageDown, Enter). Esc quits, Backspace resets.",
    )
    play.add_argument("env_id", help="an id from `pomdp-envs list`")
    play.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    play.add_argument("--scale", type=positive_int, default=2, help="window pixels per frame pixel")

    score = commands.add_parser(
        "score",
        help="score latents saved by any framework against the true hidden factors",
        description="LATENTS.npz holds 'latents' (N, L, H): the state after reading observation t at index t; "
        "optionally 'updates' (N, L) bool per-step update indicators (gate openings).",
    )
    score.add_argument("latents", type=Path, help="an .npz with 'latents' and optionally 'updates'")
    score.add_argument(
        "--sequences",
        type=Path,
        required=True,
        help="the Sequences .npz the latents were computed on (pomdp_envs.datasets)",
    )
    score.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="without 'updates': count a step as an update where the latent moves further than this",
    )
    score.add_argument("--start-steps", type=int, default=0, help="leave out the first steps")

    # Commands that other installed packages add (entry point group PLUGIN_GROUP), such as
    # `validate` from this distribution's baselines: found by name, never imported here.
    plugins = _plugin_commands()
    for name, entry_point in plugins.items():
        commands.add_parser(
            name, add_help=False, help=f"(from {entry_point.value.split(':')[0]}; --help for its options)"
        )
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in plugins:
        return int(plugins[argv[0]].load()(argv[1:]) or 0)
    args = parser.parse_args(argv)
    commands_by_name = {
        "list": _list,
        "score": lambda: _score(args),
        "render": lambda: _render(args),
        "play": lambda: _play(args),
    }
    return run_command("pomdp-envs", commands_by_name[args.command])


PLUGIN_GROUP = "pomdp_envs.commands"


def _plugin_commands() -> dict:
    """name -> entry point of every command registered in ``PLUGIN_GROUP``."""
    from importlib.metadata import entry_points

    return {entry_point.name: entry_point for entry_point in entry_points(group=PLUGIN_GROUP)}


def _list() -> int:
    width = max(len(entry.id) for entry in registration.ENTRIES)
    for entry in registration.ENTRIES:
        print(f"{entry.id:<{width}}  {entry.description}")
    return 0


def _render(args: argparse.Namespace) -> int:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("MUJOCO_GL", "egl")
    from pomdp_envs.policies import policy_names
    from pomdp_envs.recording import RecordOptions, record_episodes, record_grid

    ids = [entry.id for entry in registration.ENTRIES] if args.all else [_known_id(args.env_id)]
    writable_dir(args.out)
    for env_id in ids:  # check every policy name before rendering anything
        if args.policy not in policy_names(env_id):
            raise ValueError(f"{env_id} has no policy {args.policy!r}; choose from {policy_names(env_id)}")
    options = RecordOptions(
        seed=args.seed,
        policy=args.policy,
        fps=args.fps,
        max_steps=args.max_steps,
        info_strip=args.info_strip,
        view=args.view,
        progress=not args.no_progress,
    )
    if args.view != "world" and args.num_envs is not None:
        raise ValueError("--view obs/both records single episodes; leave out --num-envs")
    for env_id in ids:
        if args.num_envs is not None:
            path, frames = record_grid(env_id, args.out, args.num_envs, options)
            print(f"{path}  ({frames} frames)")
            continue
        for path, frames in record_episodes(env_id, args.out, args.episodes, options):
            print(f"{path}  ({frames} frames)")
    return 0


def _play(args: argparse.Namespace) -> int:
    from pomdp_envs.play import play

    steps = play(_known_id(args.env_id), seed=args.seed, scale=args.scale)
    print(f"{steps} steps played")
    return 0


def _score(args: argparse.Namespace) -> int:
    import numpy as np

    from pomdp_envs import scoring
    from pomdp_envs.datasets import Sequences

    existing_file(args.latents)
    sequences = Sequences.load(existing_file(args.sequences))
    with np.load(args.latents) as saved:
        if "latents" not in saved.files:
            raise ValueError(f"{args.latents} has no array 'latents' (N, L, H); it has {sorted(saved.files)}")
        latents = saved["latents"]
        updates = saved["updates"] if "updates" in saved.files else None
    if updates is None and args.threshold is not None:
        updates = scoring.latent_updates(latents, args.threshold)
    scores = scoring.score_latents(latents, sequences, updates, start_steps=args.start_steps)
    print(f"{sequences.env_id}: {latents.shape[0]} sequences, latents of size {latents.shape[-1]}")
    print(scoring.format_table(scores))
    return 0


def _known_id(env_id: str) -> str:
    ids = {entry.id for entry in registration.ENTRIES}
    if env_id in ids:
        return env_id
    if f"pomdp_envs/{env_id}" in ids:
        return f"pomdp_envs/{env_id}"
    raise ValueError(f"unknown env id {env_id!r}; see `pomdp-envs list`")


if __name__ == "__main__":
    raise SystemExit(main())

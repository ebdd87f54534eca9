"""Objects scored per ShapeHerd episode by the random policy and the scripted oracle.

Full episodes (750 steps, 5 objects), seeds 0..N-1, mean +- standard error; also the
env's steps per second during the random episodes.

    python -m benchmarks.shape_herd_scores --episodes 50
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import policy_episodes
from pomdp_envs.cli_errors import command_name


def run(env_id: str, policy_name: str, episodes: int) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    scores, _, steps = policy_episodes(env_id, policy_name, range(episodes))
    return scores, steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=command_name(), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", default="pomdp_envs/ShapeHerd-v1")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--policies", nargs="+", default=["random", "oracle"])
    args = parser.parse_args(argv)
    print(f"{args.env}, {args.episodes} episodes per policy")
    print("| policy | objects scored per episode | episodes with >= 1 | env-steps/s |")
    print("|---|---:|---:|---:|")
    for name in args.policies:
        scores, speed = run(args.env, name, args.episodes)
        sem = scores.std(ddof=1) / np.sqrt(len(scores)) if len(scores) > 1 else float("nan")
        print(f"| {name} | {scores.mean():.2f} ± {sem:.2f} | {np.mean(scores >= 1):.0%} | {speed:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

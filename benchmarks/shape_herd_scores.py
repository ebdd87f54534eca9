"""Objects scored per ShapeHerd episode by the random policy and the scripted oracle.

Full episodes (750 steps, 5 objects), seeds 0..N-1, mean +- standard error; also the
env's steps per second during the random episodes.

    python -m benchmarks.shape_herd_scores --episodes 50
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

from pomdp_envs.cli_errors import command_name
from pomdp_envs.policies import make_policy


def run(env_id: str, policy_name: str, episodes: int) -> tuple[np.ndarray, float]:
    env = gym.make(env_id)
    scores, steps, start = [], 0, time.perf_counter()
    for seed in range(episodes):
        obs, info = env.reset(seed=seed)
        policy = make_policy(env_id, policy_name, seed)
        policy.reset_one(obs)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy.act_one(obs, info))
            total, steps, done = total + reward, steps + 1, terminated or truncated
        scores.append(total)
    return np.array(scores), steps / (time.perf_counter() - start)


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

"""Env-steps per second of every registered id, next to Gymnasium's CartPole-v1.

Method: actions are sampled before timing (so sampling cost is excluded); a
single env is made with ``gymnasium.make`` (its default wrappers included, the
env checker disabled) and reset whenever an episode ends; a vector env is made
with ``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")`` and
counts ``num_envs`` steps per call (autoreset steps included, as for CartPole).
Each figure is the best of ``--repeats`` timed windows of ``--duration`` seconds.
Ratios compare against CartPole-v1 measured in the same run with the same method;
an env that wraps an upstream one (Fetch, MiniGrid) also gets a row against that
upstream env, measured alike in the same run: its overhead. Envs without a native
vector env get single-env rows only.

    python -m benchmarks.env_speed            # full table: 1, 1024 and 4096 envs
    python -m benchmarks.env_speed --quick    # a shorter run for make demo
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import gymnasium as gym

import pomdp_envs
from pomdp_envs import registration
from pomdp_envs.cli_errors import command_name

REFERENCE_ID = "CartPole-v1"


def single_env_speed(env_id: str, duration: float) -> float:
    env = gym.make(env_id, disable_env_checker=True)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(1024)]
    env.reset(seed=0)
    steps, start = 0, time.perf_counter()
    while True:
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        steps += len(actions)
        elapsed = time.perf_counter() - start
        if elapsed >= duration:
            env.close()
            return steps / elapsed


def vector_env_speed(env_id: str, num_envs: int, duration: float) -> float:
    env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(16)]
    env.reset(seed=0)
    calls, start = 0, time.perf_counter()
    while True:
        for action in actions:
            env.step(action)
        calls += len(actions)
        elapsed = time.perf_counter() - start
        if elapsed >= duration:
            env.close()
            return calls * num_envs / elapsed


def measure(env_id: str, num_envs: int, duration: float, repeats: int) -> float:
    if num_envs == 0:
        return max(single_env_speed(env_id, duration) for _ in range(repeats))
    return max(vector_env_speed(env_id, num_envs, duration) for _ in range(repeats))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=command_name(), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--ids",
        nargs="+",
        default=pomdp_envs.env_ids(available_only=True),
        help="ids to measure (default: every id whose extra is installed)",
    )
    parser.add_argument("--num-envs", nargs="+", type=int, default=[1, 1024, 4096], help="vector sizes")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per timed window")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows per figure (best is kept)")
    parser.add_argument("--quick", action="store_true", help="0.5 s windows, one repeat, 1 and 1024 envs")
    parser.add_argument("--csv", type=Path, help="also write the rows to this CSV file")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.repeats, args.num_envs = 0.5, 1, [1, 1024]
    entries = {entry.id: entry for entry in registration.ENTRIES}
    unknown = [env_id for env_id in args.ids if env_id not in entries]
    if unknown:
        parser.error(f"unknown ids {unknown}")

    def timed(env_id: str, n: int) -> float:
        return measure(env_id, n, args.duration, args.repeats)

    sizes = [0, *args.num_envs]
    cartpole = {n: timed(REFERENCE_ID, n) for n in sizes}
    rows = [(REFERENCE_ID, _mode(n), cartpole[n], REFERENCE_ID, 1.0) for n in sizes]
    for env_id in args.ids:
        entry = entries[env_id]
        native = entry.vector_entry_point is not None
        for n in sizes if native else [0]:
            speed = timed(env_id, n)
            rows.append((env_id, _mode(n), speed, REFERENCE_ID, speed / cartpole[n]))
        if entry.upstream_id is not None:
            # The wrapped upstream env in the same run: the ratio is our overhead.
            _register_upstream(entry.extra)
            upstream = timed(entry.upstream_id, 0)
            rows.append((entry.upstream_id, "single", upstream, REFERENCE_ID, upstream / cartpole[0]))
            rows.append((env_id, "single", rows[-2][2], entry.upstream_id, rows[-2][2] / upstream))

    print("| env | mode | env-steps/s | compared with | ratio |")
    print("|---|---|---:|---|---:|")
    for env_id, mode, speed, reference, ratio in rows:
        print(f"| {env_id} | {mode} | {speed:,.0f} | {reference} | {ratio:.2f} |")
    sys.stdout.flush()
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        with args.csv.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["env", "mode", "steps_per_s", "compared_with", "ratio"])
            writer.writerows(rows)
    return 0


def _mode(num_envs: int) -> str:
    return "single" if num_envs == 0 else f"vector x{num_envs}"


def _register_upstream(extra: str | None) -> None:
    if extra == "fetch":
        import gymnasium_robotics

        gym.register_envs(gymnasium_robotics)
    elif extra == "minigrid":
        import minigrid

        gym.register_envs(minigrid)


if __name__ == "__main__":
    raise SystemExit(main())

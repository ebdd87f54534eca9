"""Every shell command in the README and the guides runs, in the order shown, from a fresh folder.

Each command gets flags that shrink its budget (appended, so they override the README's
own); the few that cannot be shrunk are listed in ``NOT_RUN`` with the test that covers
them. A README command that is in neither table fails the test, so a new one cannot be
left untested by accident.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from documents import code_blocks

pytest.importorskip("torch")

README = Path(__file__).parent.parent / "README.md"
TINY_DATA = ["--num-train", "64", "--num-test", "32"]
TINY_DREAMER = ["--total-steps", "770", "--prefill", "50", "--train-every", "10", "--log-every", "385"]
TINY = {  # command prefix -> flags appended
    "pomdp-envs list": [],
    "pomdp-envs render": ["--max-steps", "3", "--no-progress"],
    "pomdp-envs score": [],
    "pomdp-envs validate": ["--budget", "quick", "--seeds", "1", "--steps", "10"],
    "python -m benchmarks.paper_fidelity": ["--runs", "64"],
    "python -m baselines.predictors.train": [
        "--epochs",
        "1",
        "--batches-per-epoch",
        "1",
        "--eval-every",
        "1",
        "--no-progress",
        *TINY_DATA,
    ],
    "python -m baselines.predictors.overlay": [],
    "python -m benchmarks.prediction": [
        "--epochs",
        "1",
        "--batches-per-epoch",
        "1",
        "--seeds",
        "1",
        "--workers",
        "1",
        "--cores",
        "gatel0rd",
        "gru",
        *TINY_DATA,
    ],
    "python -m benchmarks.train_speed": ["--runs", "1", "--threads", "1", "--seconds", "0.05", "--cases", "rrc/gru"],
    "python -m benchmarks.cell_speed": ["--repeats", "1", "--steps", "5"],
    "python -m benchmarks.shape_herd_scores": ["--episodes", "1"],
    "python -m baselines.control.mpc": ["--episodes", "2", "--episode-steps", "2"],
    "python -m benchmarks.mpc": ["--episodes", "2", "--epochs", "1", "--seeds", "1", "--workers", "1"],
    "python -m baselines.agents.ppo": [
        "--total-steps",
        "64",
        "--num-envs",
        "4",
        "--num-steps",
        "16",
        "--num-minibatches",
        "2",
        "--no-progress",
    ],
    "python -m benchmarks.rl": ["--steps", "64", "--seeds", "1", "--workers", "1", "--scale-episodes", "1"],
    "python -m benchmarks.ppo_speed": ["--updates", "1", "--rounds", "1", "--num-envs", "2", "--num-steps", "16"],
    "python -m baselines.agents.dreamer": [
        *TINY_DREAMER,
        "--batch-size",
        "2",
        "--sequence-length",
        "8",
        "--no-progress",
    ],
    "python -m benchmarks.dreamer": [
        "--steps",
        "770",
        "--prefill",
        "50",
        "--seeds",
        "1",
        "--random-episodes",
        "1",
        "--workers",
        "1",
    ],
}
NOT_RUN = {  # command prefix -> where it is covered instead
    "make demo": "CI runs `make test`; the demo's steps are the render and suite commands",
    "make test": "this test runs inside it",
    "python -m benchmarks run": "tests/test_benchmark_suite.py runs a tiny suite end to end",
    "python -m benchmarks.progress": "tests/test_progress.py runs it on finished and unfinished runs",
}


def readme_commands() -> list[str]:
    """The shell commands of README and the guides in order: continuation lines joined, comments cut."""
    commands = []
    for block in code_blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.split(r"\s#\s", line + " ")[0].strip()
            if command:
                commands.append(command)
    return commands


def _match(command: str, table: dict) -> str | None:
    matches = [prefix for prefix in table if command == prefix or command.startswith(prefix + " ")]
    return max(matches, key=len) if matches else None


def test_every_readme_command_is_run_or_covered_elsewhere():
    uncovered = [c for c in readme_commands() if _match(c, TINY) is None and _match(c, NOT_RUN) is None]
    assert not uncovered, f"README commands without a tiny budget in this test: {uncovered}"


def _prepare_scoring_files(folder: Path) -> None:
    """What the README's scoring section tells the reader to save before `pomdp-envs score`."""
    from pomdp_envs.datasets import collect_sequences
    from pomdp_envs.policies.robot_remote_control import UniformPolicy

    data = collect_sequences("pomdp_envs/RobotRemoteControl-v0", UniformPolicy(seed=0), 32, 20)
    data.save(folder / "data.npz")
    rng = np.random.default_rng(0)
    np.savez(folder / "latents.npz", latents=rng.normal(size=(32, 21, 8)))


def test_readme_commands_run_in_order(tmp_path):
    env = {
        **os.environ,
        "SDL_VIDEODRIVER": "dummy",
        "MUJOCO_GL": "egl",
        "PYTHONPATH": str(README.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    }
    _prepare_scoring_files(tmp_path)
    for command in readme_commands():
        prefix = _match(command, TINY)
        if prefix is None:
            continue
        argv = shlex.split(command) + TINY[prefix]
        if argv[0] == "python":
            argv[0] = sys.executable
        start = time.perf_counter()
        result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{command}\n{result.stderr[-2000:]}"
        print(f"{time.perf_counter() - start:6.1f} s  {command}")

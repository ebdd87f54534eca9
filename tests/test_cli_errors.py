"""Bad arguments end with exit code 2 and one line that says what to do, before any work."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("tyro")

CASES = {
    "render to an unwritable folder": (
        ["pomdp_envs.cli", "render", "Shepherd-v0", "--out", "/proc/nope"],
        "output folder",
    ),
    "render at negative fps": (["pomdp_envs.cli", "render", "Shepherd-v0", "--fps", "-5"], "--fps"),
    "train for 0 epochs": (["baselines.predictors.train", "--epochs", "0"], "epochs"),
    "plan with a missing checkpoint": (
        ["baselines.control.mpc", "--model", "runs/nope/checkpoint.pt"],
        "no such checkpoint",
    ),
    "plan negative episodes": (["baselines.control.mpc", "--episodes", "-3"], "episodes"),
    "PPO on an env without control": (
        ["baselines.agents.ppo", "--env-id", "pomdp_envs/BilliardBall-v0", "--no-progress"],
        "no control",
    ),
    "suite to an unwritable folder": (["benchmarks", "run", "--out", "/proc/x"], "output folder"),
    "report of a missing run": (["benchmarks", "report", "MISSING_DIR"], "run.json"),
    "suite with negative seeds": (["benchmarks", "run", "--seeds", "-1"], "--seeds"),
    "plan with the horizon in the wrong place": (["baselines.control.mpc", "--icem.horizon", "12"], "--horizon"),
    "Dreamer with too small a budget": (
        ["baselines.agents.dreamer", "cpu-small", "--total-steps", "100"],
        "too small to train",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_arguments_give_one_line_and_exit_code_2(case, tmp_path):
    args, expected = CASES[case]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment = {**os.environ, "PYTHONPATH": root, "SDL_VIDEODRIVER": "dummy"}
    result = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=300
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    assert expected in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing half-written


@pytest.mark.parametrize(
    "module",
    ["benchmarks.cell_speed", "benchmarks.progress", "baselines.predictors.train", "baselines.agents.dreamer"],
)
def test_help_names_the_module_command_not_a_file(module):
    """argparse, the one-line parser and tyro (with and without presets) alike."""
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert f"python -m {module}" in done.stdout.splitlines()[0] or f"usage: python -m {module}" in done.stdout
    assert ".py" not in done.stdout.split("\n\n", 1)[0]


def test_command_name_reads_how_the_command_was_run(monkeypatch):
    import types

    from pomdp_envs.cli_errors import command_name

    main = types.ModuleType("__main__")
    main.__spec__ = types.SimpleNamespace(name="benchmarks.__main__")
    monkeypatch.setitem(sys.modules, "__main__", main)
    assert command_name() == "python -m benchmarks"
    main.__spec__ = None
    monkeypatch.setattr(sys, "argv", ["/somewhere/tool.py", "--x"])
    assert command_name() == "tool.py"

"""Runs that survive interruption: every trainer killed with SIGKILL after its first
checkpoint and run again ends with the weights, metric rows and scores of an
uninterrupted run; SIGTERM writes a checkpoint and exits 143; a kill while a checkpoint
is written leaves a folder that resumes; changed options are refused; --fresh restarts."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from baselines import resume  # noqa: E402

TIMEOUT = 300  # seconds for one training command

PREDICTOR = [
    "baselines.predictors.train",
    "--env", "rrc", "--epochs", "40", "--batches-per-epoch", "3", "--num-train", "64", "--num-test", "32",
    "--eval-every", "3", "--checkpoint-every", "2", "--seeds", "0", "1", "--no-progress",
]  # fmt: skip
PPO = [
    "baselines.agents.ppo",
    "--total-steps", "1536", "--num-envs", "4", "--num-steps", "16", "--num-minibatches", "2",
    "--checkpoint-every", "64", "--no-progress",
]  # fmt: skip
DREAMER = [
    "baselines.agents.dreamer", "cpu-small", "--env-id", "pomdp_envs/RobotRemoteControl-v0",
    "--world.deter", "16", "--world.hidden", "16", "--world.stoch", "4", "--world.classes", "4",
    "--world.cnn-depth", "4", "--world.mlp-units", "16", "--world.mlp-layers", "1",
    "--total-steps", "400", "--prefill", "60", "--train-every", "20", "--batch-size", "4",
    "--sequence-length", "8", "--log-every", "80", "--actor-units", "16", "--actor-layers", "1",
    "--imagine-horizon", "4", "--threads", "1", "--checkpoint-every", "40", "--no-progress",
]  # fmt: skip
# PPO on a native vector env (its envs and reset-step flags are in the checkpoint), continuous actions.
PPO_NATIVE = [*PPO, "--env-id", "pomdp_envs/RobotRemoteControl-v0", "--core", "gru", "--total-steps", "3072"]
TRAINERS = {"predictor": PREDICTOR, "ppo": PPO, "ppo-native": PPO_NATIVE, "dreamer": DREAMER}
# Where each trainer's checkpoint of run 0 lies below --out-dir.
STATE_OF = {
    "predictor": "gatel0rd-lambda0.001-seed0/resume.pt",
    "ppo": "resume.pt",
    "ppo-native": "resume.pt",
    "dreamer": "resume.pt",
}


def command(trainer: str, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", *TRAINERS[trainer], "--out-dir", str(out), *extra]


def run(trainer: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(trainer, out, *extra), capture_output=True, text=True, timeout=TIMEOUT)


def start_and_stop(trainer: str, out: Path, signum: int) -> subprocess.CompletedProcess:
    """Start a run and send ``signum`` as soon as its first checkpoint exists."""
    process = subprocess.Popen(command(trainer, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = out / STATE_OF[trainer]
    deadline = time.monotonic() + TIMEOUT
    while not state.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert state.exists(), f"no checkpoint appeared: {process.communicate()[1][-2000:]}"
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run_folders(out: Path) -> list[Path]:
    return sorted(path.parent for path in out.rglob("options.json"))


def without_seconds(rows: list[dict]) -> list[dict]:
    return [{key: value for key, value in row.items() if key != "seconds"} for row in rows]


def assert_same_runs(first: Path, second: Path, rtol: float = 0.0) -> None:
    """The same weights, metric rows and scores (the wall-clock seconds aside); with
    ``rtol`` > 0, numbers equal to that relative tolerance."""
    folders = run_folders(first)
    assert folders and [f.relative_to(first) for f in folders] == [f.relative_to(second) for f in run_folders(second)]
    for folder in folders:
        other = second / folder.relative_to(first)
        assert not (other / "resume.pt").exists(), "a finished run keeps no resume checkpoint"
        scores = [json.loads((path / "scores.json").read_text()) for path in (folder, other)]
        assert_equal_values(without_seconds(scores)[0], without_seconds(scores)[1], rtol)
        rows = [list(csv.DictReader((path / "metrics.csv").open())) for path in (folder, other)]
        assert len(rows[0]) == len(rows[1]) and rows[0]
        for row, other_row in zip(without_seconds(rows[0]), without_seconds(rows[1])):
            assert_equal_values(row, other_row, rtol)
        weights = [_tensors(torch.load(path / "checkpoint.pt", weights_only=True)) for path in (folder, other)]
        assert weights[0].keys() == weights[1].keys() and weights[0]
        for name in weights[0]:
            if rtol:
                torch.testing.assert_close(weights[0][name], weights[1][name], rtol=rtol, atol=rtol, msg=name)
            else:
                assert torch.equal(weights[0][name], weights[1][name]), name


def assert_equal_values(first: dict, second: dict, rtol: float) -> None:
    """Equal dicts; numbers (or numeric strings, as csv gives them) to ``rtol``."""
    if not rtol:
        assert first == second
        return
    assert first.keys() == second.keys()
    for key in first:
        a, b = first[key], second[key]
        try:
            assert float(a) == pytest.approx(float(b), rel=rtol, abs=rtol), key
        except (TypeError, ValueError):
            assert a == b, key


def _tensors(tree, prefix: str = "") -> dict:
    if isinstance(tree, torch.Tensor):
        return {prefix: tree}
    if isinstance(tree, dict):
        return {k: v for key, value in tree.items() for k, v in _tensors(value, f"{prefix}/{key}").items()}
    return {}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """Each trainer's uninterrupted run, made once (on first use) for the tests below."""
    made: dict[str, Path] = {}

    def get(trainer: str) -> Path:
        if trainer not in made:
            out = tmp_path_factory.mktemp(f"{trainer}-whole")
            result = run(trainer, out)
            assert result.returncode == 0, result.stderr[-3000:]
            made[trainer] = out
        return made[trainer]

    return get


@pytest.mark.parametrize("trainer", sorted(TRAINERS))
def test_killed_after_a_checkpoint_and_rerun_gives_the_uninterrupted_run(trainer, tmp_path, uninterrupted):
    out = tmp_path / "run"
    killed = start_and_stop(trainer, out, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert not list(out.rglob("scores.json")), "the run finished before it was killed: the test tested nothing"
    again = run(trainer, out)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resumed" in again.stdout + again.stderr
    assert_same_runs(uninterrupted(trainer), out)
    finished = run(trainer, out)  # a third time: nothing left to do
    assert finished.returncode == 0 and "finished earlier" in finished.stdout + finished.stderr
    assert_same_runs(uninterrupted(trainer), out)


@pytest.mark.parametrize("trainer", sorted(TRAINERS))
def test_sigterm_writes_a_checkpoint_and_exits_143(trainer, tmp_path, uninterrupted):
    out = tmp_path / "run"
    stopped = start_and_stop(trainer, out, signal.SIGTERM)
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr[-3000:]
    assert "SIGTERM" in stopped.stderr and "run the same command again" in stopped.stderr
    assert len(stopped.stderr.strip().splitlines()[-1]) < 400
    assert (out / STATE_OF[trainer]).exists()
    again = run(trainer, out)
    assert again.returncode == 0, again.stderr[-3000:]
    assert_same_runs(uninterrupted(trainer), out)


def test_a_changed_option_is_refused_naming_it_and_fresh_starts_over(tmp_path, uninterrupted):
    out = tmp_path / "run"
    killed = start_and_stop("predictor", out, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    refused = run("predictor", out, "--grad-clip", "0.5")
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert "grad_clip (was 0.1, now 0.5)" in line and "--fresh" in line
    assert (out / STATE_OF["predictor"]).exists(), "a refused run leaves the folder as it was"
    fresh = run("predictor", out, "--fresh")
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert "--fresh: replacing" in fresh.stdout and "resumed" not in fresh.stdout
    assert_same_runs(uninterrupted("predictor"), out)


def test_execution_options_may_change_between_sittings(tmp_path, uninterrupted):
    out = tmp_path / "run"
    start_and_stop("predictor", out, signal.SIGKILL)
    again = run("predictor", out, "--checkpoint-every", "5")
    assert again.returncode == 0, again.stderr[-3000:]
    assert_same_runs(uninterrupted("predictor"), out)


def test_a_run_resumed_on_more_threads_agrees_to_float_rounding(tmp_path, uninterrupted):
    """Torch splits a reduction across threads in another order, so the last bits of a sum
    may differ (as they did on a CI machine); the run is accepted and ends close to the
    uninterrupted one, not bit for bit."""
    out = tmp_path / "run"
    start_and_stop("predictor", out, signal.SIGKILL)
    again = run("predictor", out, "--threads", "2")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resumed" in again.stdout + again.stderr
    assert_same_runs(uninterrupted("predictor"), out, rtol=1e-4)


def test_files_of_a_run_without_options_are_never_overwritten(tmp_path):
    (tmp_path / "metrics.csv").write_text("epoch\n1\n")
    refused = run("ppo", tmp_path)
    assert refused.returncode == 2 and "no options.json" in refused.stderr and "--fresh" in refused.stderr
    assert (tmp_path / "metrics.csv").read_text() == "epoch\n1\n"


def test_a_kill_while_the_checkpoint_is_written_leaves_a_resumable_folder(tmp_path, monkeypatch, uninterrupted):
    """The second checkpoint's write dies halfway: the first stays, and the run resumes from it."""
    from baselines.predictors.train import main

    out = tmp_path / "run"
    writes = []
    real_save = torch.save

    def dying_save(obj, handle, *args, **kwargs):
        if isinstance(obj, dict) and "epoch" in obj:
            writes.append(obj["epoch"])
            if len(writes) == 2:
                handle.write(b"half a checkpoint")
                raise KeyboardInterrupt  # as a kill would, mid-write
        return real_save(obj, handle, *args, **kwargs)

    monkeypatch.setattr(torch, "save", dying_save)
    monkeypatch.setattr(sys, "argv", ["train", *PREDICTOR[1:], "--out-dir", str(out)])
    with pytest.raises(KeyboardInterrupt):
        main()
    monkeypatch.setattr(torch, "save", real_save)
    state = out / STATE_OF["predictor"]
    assert torch.load(state, weights_only=False)["epoch"] == writes[0], "the first checkpoint is intact"
    partial = list(state.parent.glob(".*.partial"))
    assert not partial, "the writer removes its temporary file when it fails"
    # A writer killed outright leaves its temporary file: the next run ignores and removes it.
    (state.parent / ".resume.pt.123-abcd.partial").write_bytes(b"half")
    again = run("predictor", out)
    assert again.returncode == 0, again.stderr[-3000:]
    assert not list(out.rglob("*.partial"))
    assert_same_runs(uninterrupted("predictor"), out)


def test_an_unreadable_checkpoint_is_one_line_naming_the_file_and_the_way_out(tmp_path):
    out = tmp_path / "run"
    start_and_stop("predictor", out, signal.SIGKILL)
    state = out / STATE_OF["predictor"]
    state.write_bytes(state.read_bytes()[:100])  # cut, as a disk that filled up would
    failed = run("predictor", out)
    assert failed.returncode == 2
    [line] = failed.stderr.strip().splitlines()
    assert str(state) in line and "delete it" in line and "--fresh" in line


def test_periodic_checkpoints_fall_where_due():
    assert [step for step in range(1, 11) if resume.due(step, step - 1, 4)] == [4, 8]
    assert resume.due(130, 98, 64) and not resume.due(127, 95, 64)
    assert not any(resume.due(step, step - 1, 0) for step in range(1, 100))


def test_stop_signals_raise_after_saving_and_restore_the_handlers():
    previous = signal.getsignal(signal.SIGTERM)
    saved = []
    with resume.StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)
        assert stop.requested == signal.SIGTERM
        with pytest.raises(Exception, match="SIGTERM") as raised:
            stop.stop_if_requested(lambda: saved.append(1), "here")
    assert saved == [1] and raised.value.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) is previous

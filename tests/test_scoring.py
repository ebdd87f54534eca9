"""pomdp_envs.scoring: latents of any model against the true hidden factors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pomdp_envs import scoring
from pomdp_envs.datasets import collect_sequences
from pomdp_envs.policies.robot_remote_control import UniformPolicy

ENV_ID = "pomdp_envs/RobotRemoteControl-v0"


@pytest.fixture(scope="module")
def sequences():
    return collect_sequences(ENV_ID, UniformPolicy(seed=0), 400, 50, num_envs=400)


def test_a_latent_that_copies_the_factor_scores_about_one(sequences):
    controlled = sequences.hidden["robot_controlled"][:, :50, None].astype(np.float32)
    rng = np.random.default_rng(0)
    latents = np.concatenate([controlled, rng.normal(size=(400, 50, 3))], axis=2)
    scores = scoring.score_latents(latents, sequences)
    assert scores["probe/robot_controlled"] > 0.99  # balanced accuracy: a discrete factor
    continuous = {"xy": rng.normal(size=(60, 20, 2))}
    assert scoring.probe_scores(continuous["xy"][:, :, [1, 0]], continuous)["xy"] > 0.99


def test_noise_scores_about_nothing_on_held_out_sequences():
    rng = np.random.default_rng(1)
    latents = rng.normal(size=(200, 30, 16))
    hidden = {"position": rng.normal(size=(200, 31, 2)), "flag": rng.integers(0, 2, (200, 31))}
    scores = scoring.probe_scores(latents, hidden)
    assert scores["position"] <= 0.05
    assert abs(scores["flag"] - 0.5) < 0.03  # chance for two classes


def test_updates_at_the_events_have_precision_and_recall_one_and_lift_one_over_base_rate(sequences):
    events = sequences.any_hidden_changed()[:, :50]
    assert events.any()
    scores = scoring.event_scores(events, events)
    assert scores["precision"] == 1.0 and scores["recall"] == 1.0
    assert scores["lift"] == pytest.approx(1.0 / scores["base_rate"])
    assert scores["lift"] > 5


def test_shuffled_updates_have_lift_about_one():
    rng = np.random.default_rng(2)
    events = rng.random((2000, 50)) < 0.03
    updates = rng.permutation(events.ravel()).reshape(events.shape)
    assert scoring.event_scores(updates, events)["lift"] == pytest.approx(1.0, abs=0.1)


def test_latent_updates_threshold_the_step_size():
    latents = np.zeros((1, 4, 2))
    latents[0, 2] = [3.0, 4.0]
    np.testing.assert_array_equal(scoring.latent_updates(latents, 1.0), [[False, False, True, True]])


def test_misaligned_inputs_get_one_line_errors(sequences):
    with pytest.raises(scoring.AlignmentError, match=r"\(400, L <= 51, H\)"):
        scoring.score_latents(np.zeros((399, 50, 4)), sequences)
    with pytest.raises(scoring.AlignmentError, match="shape"):
        scoring.score_latents(np.zeros((400, 50)), sequences)
    with pytest.raises(scoring.AlignmentError, match=r"\(400, 50\)"):
        scoring.score_latents(np.zeros((400, 50, 4)), sequences, updates=np.zeros((400, 49), bool))


def test_score_command_prints_the_table_and_rejects_bad_shapes(sequences, tmp_path):
    data = sequences.save(tmp_path / "data.npz")
    rng = np.random.default_rng(3)
    latents = np.concatenate([sequences.hidden["robot_controlled"][:, :50, None], rng.normal(size=(400, 50, 2))], 2)
    np.savez(tmp_path / "latents.npz", latents=latents, updates=sequences.any_hidden_changed()[:, :50])
    command = [sys.executable, "-m", "pomdp_envs.cli", "score", str(tmp_path / "latents.npz"), "--sequences", str(data)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "| probe/robot_controlled | 1.000 |" in result.stdout and "| events/precision | 1.000 |" in result.stdout
    np.savez(tmp_path / "bad.npz", latents=latents[:10])
    command[4] = str(tmp_path / "bad.npz")
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "(400, L <= 51, H)" in result.stderr


def test_readme_example_runs():
    import re

    from documents import section

    code = re.search(r"```python\n(.*?)```", section("Scoring latent states"), re.S).group(1)
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "probe/robot_controlled" in output and "events/lift" in output

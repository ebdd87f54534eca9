"""Environment validation: memory gaps of hidden factors, measured with estimators with
and without memory; the README's own example env; the command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("scipy")

from documents import section  # noqa: E402

from baselines.validation import ValidationConfig, format_table, validate  # noqa: E402
from baselines.validation.estimators import EstimatorConfig, estimate, train_estimator  # noqa: E402
from baselines.validation.protocol import readable, steps_since_readable  # noqa: E402
from pomdp_envs.datasets import Sequences  # noqa: E402
from pomdp_envs.scoring import balanced_accuracy, r2, steps_since_change  # noqa: E402


def readme_example() -> str:
    return re.search(r"```python\n(.*?)```", section("Validating an environment"), re.S).group(1)


def test_the_readme_env_needs_memory_and_the_table_says_so():
    """A cue seen only at the first step: read perfectly with memory, near chance without."""
    namespace: dict = {"__name__": "readme_example"}
    code = readme_example().replace("print(format_table(", "rows = (").replace(")))", "))")
    exec(code, namespace)
    [row] = namespace["rows"]
    assert row["factor"] == "cue" and row["measure"] == "balanced accuracy"
    assert row["recurrent"] > 0.95 and row["fully_observable"] > 0.95
    assert row["memoryless"] < 0.6  # right at the first step only, then chance
    assert row["gap_>10"] > 0.4 and row["verdict"].startswith("needs memory")
    import json

    per_seed = json.loads(row["seed_scores"])
    assert len(per_seed["recurrent"]) == 3 and np.isclose(np.mean(per_seed["recurrent"]), row["recurrent"])
    assert "| cue | balanced accuracy |" in format_table(namespace["rows"])


def test_a_factor_in_plain_view_shows_no_memory_gap():
    import gymnasium as gym

    namespace: dict = {"__name__": "readme_example"}
    exec(readme_example().split("gym.register")[0], namespace)

    class VisibleCue(namespace["CueEnv"]):
        def step(self, action):
            observation = np.array([2.0 * self.cue - 1.0], np.float32)
            return observation, 0.0, False, False, self._info()

    gym.register("VisibleCue-v0", entry_point=VisibleCue, max_episode_steps=20)
    [row] = validate(ValidationConfig("VisibleCue-v0", seeds=3, budget="quick"), say=lambda _: None)
    assert row["memoryless"] > 0.95 and abs(row["gap"]) < 0.05
    assert row["verdict"].startswith("no memory gap")


def test_fewer_than_three_seeds_is_inconclusive_and_the_command_prints_the_table():
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    command = [sys.executable, "-m", "pomdp_envs.cli", "validate", "pomdp_envs/RobotRemoteControl-v0"]
    result = subprocess.run(
        [*command, "--policy", "biased", "--budget", "quick", "--seeds", "1", "--steps", "10"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| robot_controlled | balanced accuracy |" in result.stdout
    assert "inconclusive (fewer than 3 seeds)" in result.stdout
    refused = subprocess.run([*command, "--policy", "nope"], capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "no policy 'nope'" in refused.stderr


def test_image_observations_go_through_the_conv_encoder():
    pytest.importorskip("minigrid")
    import gymnasium as gym

    from pomdp_envs.datasets import collect_sequences
    from pomdp_envs.policies import make_policy

    env_id = "pomdp_envs/MiniGrid-DoorKey-5x5-v0"
    sequences = collect_sequences(env_id, make_policy(env_id, "random", seed=0), 8, 6, num_envs=4)
    env = gym.make(env_id)
    for kind in ("recurrent", "window"):
        model, codec = train_estimator(
            EstimatorConfig(kind=kind, updates=2, batch_size=4), sequences, env.unwrapped.hidden_space, env.action_space
        )
        predicted = estimate(model, codec, sequences, env.action_space)
        for name, truth in sequences.hidden.items():
            assert predicted[name].reshape(truth.shape).shape == truth.shape


def test_scores_and_steps_since_change():
    changed = np.array([[False, False, True, False, False], [False, True, True, False, False]])
    np.testing.assert_array_equal(steps_since_change(changed), [[0, 1, 0, 1, 2], [0, 0, 0, 1, 2]])
    assert r2(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0])) == 1.0
    assert r2(np.full(3, 2.0), np.array([1.0, 2.0, 3.0])) == 0.0
    assert balanced_accuracy(np.array([0, 0, 0, 0]), np.array([0, 0, 0, 1])) == 0.5
    assert np.isnan(balanced_accuracy(np.array([1, 1]), np.array([1, 1])))


def test_options_are_checked_before_any_work():
    with pytest.raises(ValueError, match="budget"):
        validate(ValidationConfig("pomdp_envs/RobotRemoteControl-v0", budget="huge"))
    with pytest.raises(ValueError, match="window"):
        validate(ValidationConfig("pomdp_envs/RobotRemoteControl-v0", window=1))


def dot_frames(count: int, steps: int, seed: int) -> Sequences:
    """64x64 frames of a 2x2 white dot at a random place on grey, its pixel position hidden."""
    rng = np.random.default_rng(seed)
    xy = rng.integers(0, 62, size=(count, steps + 1, 2))
    frames = np.full((count, steps + 1, 64, 64, 3), 50, dtype=np.uint8)
    for n in range(count):
        for t in range(steps + 1):
            x, y = xy[n, t]
            frames[n, t, y : y + 2, x : x + 2] = 255
    return Sequences(
        "dots",
        frames,
        np.zeros((count, steps, 1), np.float32),
        np.zeros((count, steps)),
        {"dot_xy": xy.astype(np.float64)},
        {"dot_xy": np.ones((count, steps + 1), bool)},
    )


def test_the_image_encoder_reads_where_a_small_thing_is():
    """The control's estimator must read what a frame shows: a 2x2 dot in a 64x64 frame,
    the size of ShapeHerd's agent in the whole-arena view."""
    import gymnasium as gym

    space = gym.spaces.Dict({"dot_xy": gym.spaces.Box(0.0, 64.0, (2,))})
    train, test = dot_frames(48, 9, seed=0), dot_frames(16, 9, seed=1)
    config = EstimatorConfig(kind="current", updates=400, frame_batch=32, eval_every=50, seed=0)
    model, codec = train_estimator(config, train, space, gym.spaces.Box(-1.0, 1.0, (1,)))
    predicted = estimate(model, codec, test, gym.spaces.Box(-1.0, 1.0, (1,)))
    assert r2(predicted["dot_xy"].reshape(-1, 2), test.hidden["dot_xy"].reshape(-1, 2)) > 0.9


def test_the_full_view_control_reads_the_grid_it_is_shown():
    """On MiniGrid's whole grid, the agent's cell and direction are in plain view."""
    pytest.importorskip("minigrid")
    rows = validate(
        ValidationConfig("pomdp_envs/MiniGrid-DoorKey-5x5-v0", seeds=1, budget="quick", num_steps=16),
        say=lambda _: None,
    )
    by_factor = {row["factor"]: row for row in rows}
    assert by_factor["agent_pos"]["fully_observable"] > 0.9
    assert by_factor["agent_dir"]["fully_observable"] > 0.9
    assert all(row["policy"] == "solver" for row in rows)


def test_early_stopping_keeps_the_best_held_out_weights_and_stops_before_the_cap():
    import gymnasium as gym

    space = gym.spaces.Dict({"dot_xy": gym.spaces.Box(0.0, 64.0, (2,))})
    data = dot_frames(10, 4, seed=2)
    config = EstimatorConfig(kind="recurrent", updates=5000, eval_every=10, patience=2, lr=0.5)
    model, _ = train_estimator(config, data, space, gym.spaces.Box(-1.0, 1.0, (1,)), encoder=_FlatEncoder())
    assert model.trained_updates < 5000


class _FlatEncoder(torch.nn.Module):
    """A frozen stand-in encoder: the mean brightness of each frame."""

    size, trainable = 1, False

    def forward(self, observations):
        return observations.float().mean(dim=(1, 2, 3))[:, None] / 255


def test_steps_since_a_factor_was_last_readable():
    seen = np.array([[False, True, False, False, True, False], [False, False, False, False, False, False]])
    np.testing.assert_array_equal(steps_since_readable(seen), [[-1, 0, 1, 2, 0, 1], [-1] * 6])
    truth = np.array([[[1.0], [2.0], [3.0]]])
    assert readable(truth + 0.01, truth, discrete=False).all()
    assert not readable(truth + 5.0, truth, discrete=False).any()
    labels = np.array([[[0, 1], [1, 1]]])
    np.testing.assert_array_equal(readable(np.array([[[0, 1], [1, 0]]]), labels, discrete=True), [[True, False]])


def test_every_registered_id_is_validated_with_its_validation_policy():
    from benchmarks.env_validation import ENVS
    from pomdp_envs import env_ids
    from pomdp_envs.registration import ENTRIES

    assert sorted(env_id for env_id, _, _ in ENVS.values()) == sorted(env_ids())
    for entry in ENTRIES:
        assert ValidationConfig(entry.id).data_policy() == entry.validation_policy
        assert ValidationConfig(entry.id, policy="random").data_policy() == "random"


def test_no_memory_gap_needs_the_gap_shown_below_the_margin():
    from baselines.validation.protocol import _verdict

    config = ValidationConfig("pomdp_envs/RobotRemoteControl-v0")
    small, spread = np.array([0.01, 0.0, 0.02]), np.array([0.14, -0.05, 0.35])
    view = np.zeros(3)
    assert _verdict(small, small, view, 1.0, "R^2", config).startswith("no memory gap")
    assert _verdict(spread, spread, view, 1.0, "R^2", config).startswith("inconclusive (the gap varies")
    assert _verdict(small, small, view, 0.1, "R^2", config).startswith("inconclusive (no estimator reads it")
    assert _verdict(np.array([0.3, 0.31, 0.29]), small, view, 0.1, "R^2", config).startswith("needs memory")


def test_the_control_passes_when_any_estimator_reads_the_factor():
    from baselines.validation.protocol import _factor_row

    # MiniGrid's full grid does not draw the carried object; the agent's own view does.
    config = ValidationConfig("pomdp_envs/RobotRemoteControl-v0")
    scores = {
        kind: [{"carrying": {"all": value}} for value in values]
        for kind, values in {
            "current": (0.99, 1.0, 0.995),
            "window": (0.99, 1.0, 0.995),
            "recurrent": (0.995, 1.0, 0.99),
            "fully_observable": (0.74, 0.73, 0.75),
        }.items()
    }
    assert _factor_row(config, "carrying", True, scores)["verdict"].startswith("no memory gap")
    for kind in ("current", "window", "recurrent"):
        scores[kind] = [{"carrying": {"all": value}} for value in (0.5, 0.52, 0.51)]
    assert _factor_row(config, "carrying", True, scores)["verdict"].startswith("inconclusive (no estimator reads")


def test_class_weights_count_every_present_class_alike():
    from baselines.validation.estimators import _balanced_weights

    weights = _balanced_weights(np.array([0] * 90 + [2] * 10), 3).numpy()
    # Each present class's labels sum to the same total weight; the absent one gets the mean.
    assert weights[0] * 90 == pytest.approx(weights[2] * 10)
    assert weights[1] == pytest.approx((weights[0] + weights[2]) / 2)


def test_estimators_given_the_encoders_features_train_as_when_they_encode_the_frames():
    from pomdp_envs.datasets import collect_sequences
    from pomdp_envs.policies import make_policy

    env_id = "pomdp_envs/MiniGrid-MemoryS7-v0"
    pytest.importorskip("minigrid")
    env = gym.make(env_id)
    hidden_space, action_space = env.get_wrapper_attr("hidden_space"), env.action_space
    env.close()
    kwargs = dict(num_envs=16, drop_early_ends=True, end_on_result=False)
    train = collect_sequences(env_id, make_policy(env_id, "solver", seed=0), 16, 12, seed=0, **kwargs)
    test = collect_sequences(env_id, make_policy(env_id, "solver", seed=1), 8, 12, seed=99, **kwargs)
    settings = dict(updates=30, eval_every=10, frame_batch=32, batch_size=8)
    memoryless, _ = train_estimator(EstimatorConfig(kind="current", **settings), train, hidden_space, action_space)
    with torch.no_grad():
        train_features = memoryless.encode(torch.as_tensor(train.observations))
        test_features = memoryless.encode(torch.as_tensor(test.observations))
    for kind in ("window", "recurrent"):
        config = EstimatorConfig(kind=kind, **settings)
        encoded = train_estimator(config, train, hidden_space, action_space, memoryless.encoder)
        given = train_estimator(config, train, hidden_space, action_space, memoryless.encoder, train_features)
        first = estimate(*encoded, test, action_space)
        second = estimate(*given, test, action_space, features=test_features)
        for name in first:
            np.testing.assert_array_equal(first[name], second[name])
    with pytest.raises(ValueError, match="features"):
        train_estimator(
            EstimatorConfig(kind="window", **settings), train, hidden_space, action_space, None, train_features
        )

"""Prediction datasets: splits, caching, balance, Minari export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.predictors.data import BILLIARD_SUBSETS, ShuffledPasses, balanced_batch_index
from baselines.predictors.envs import PREDICTOR_ENVS
from baselines.predictors.splits import load_split


def test_splits_are_cached_and_reloaded(tmp_path):
    first = load_split("billiard", "train", 20, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    again = load_split("billiard", "train", 20, cache_dir=tmp_path)
    np.testing.assert_array_equal(first.observations, again.observations)
    test = load_split("billiard", "test", 20, cache_dir=tmp_path)
    assert not np.array_equal(first.observations[:, 0], test.observations[:, 0])


def test_the_cache_key_changes_with_the_code_that_makes_the_data(tmp_path, monkeypatch):
    from baselines.predictors import splits as data

    load_split("billiard", "train", 20, cache_dir=tmp_path)
    [cached] = tmp_path.glob("*.npz")
    assert cached.stem.endswith(data.code_fingerprint())
    import pomdp_envs

    data.code_fingerprint.cache_clear()
    monkeypatch.setattr(pomdp_envs, "__version__", "0.0.0-changed")
    try:
        assert not cached.stem.endswith(data.code_fingerprint())
        load_split("billiard", "train", 20, cache_dir=tmp_path)  # collected afresh, not the stale file
        assert len(list(tmp_path.glob("*.npz"))) == 2
    finally:
        data.code_fingerprint.cache_clear()


def test_billiard_generalisation_shots_are_faster(tmp_path):
    train = load_split("billiard", "train", 64, cache_dir=tmp_path)
    gen = load_split("billiard", "generalisation", 64, cache_dir=tmp_path)
    # The shots' speeds: windows from step 0 (the others have slowed down or dropped).
    first_windows = np.array([BILLIARD_SUBSETS[i % 16][1] == 0 for i in range(64)])
    speed = lambda s: np.linalg.norm(s.hidden["velocity"][first_windows, 0], axis=1)  # noqa: E731
    assert speed(train).max() <= 1.6 + 1e-6 and speed(gen).min() >= 1.6 - 1e-6


def test_billiard_split_holds_the_papers_16_sub_datasets(tmp_path):
    data = load_split("billiard", "train", 160, cache_dir=tmp_path)
    assert data.observations.shape == (160, 51, 2) and data.num_steps == 50
    pocketed = data.hidden["pocketed"]
    for row in range(160):
        kind, start = BILLIARD_SUBSETS[row % 16]
        if kind == "pocket_drop_50" or (kind, start) in {("pocket_drop_100", 50), ("pocket_drop_150", 100)}:
            assert pocketed[row, 0] == 0 and pocketed[row, -1] == 1  # the drop is in the window
        elif kind.startswith("no_pocket") or start + 50 <= int(kind.rsplit("_", 1)[1]) - 50:
            assert not pocketed[row].any()
        else:
            assert np.all(pocketed[row] == 1)  # dropped before the window
    # Balanced batches: 8 rows of each sub-dataset in 128.
    index = balanced_batch_index(len(data), 16, 128, torch.Generator().manual_seed(0))
    assert np.all(np.bincount(index.numpy() % 16, minlength=16) == 8) and index.max() < 160


def test_rrc_splits_are_balanced_between_control_and_none(tmp_path):
    for split in ("train", "generalisation"):
        data = load_split("rrc", split, 40, cache_dir=tmp_path)
        assert data.hidden["robot_controlled"][:, -1].sum() == 20


def test_shepherd_splits_mix_the_four_kinds(tmp_path):
    data = load_split("shepherd", "train", 40, cache_dir=tmp_path)
    gate = data.hidden["gate_open"][:, -1]
    caught = data.hidden["sheep_caught"][:, -1]
    assert (gate == 0).sum() == 10 and caught.sum() == 10
    # Row i is of kind i % 4 (sorted names: gate_closed, gate_opened_left, gate_opened_right, sheep_caught).
    kind = PREDICTOR_ENVS["shepherd"].batch_groups(data)
    assert np.array_equal(kind, np.arange(40) % 4)
    assert np.all(gate[kind == 0] == 0) and np.all(gate[kind != 0] == 1)
    assert np.all(caught[kind == 3] == 1) and np.all(caught[kind == 2] == 0)
    odd = load_split("shepherd", "test", 6, cache_dir=tmp_path)  # kinds 0 and 1 hold one more
    assert np.all(odd.hidden["gate_open"][[0, 4], -1] == 0) and odd.hidden["sheep_caught"][3, -1] == 1
    gen = load_split("shepherd", "generalisation", 8, cache_dir=tmp_path)
    wall_height = gen.observations[:, 0, 6]
    assert np.all((wall_height <= 0.35) | (wall_height >= 0.65))


def test_rrc_batch_groups_are_control_and_none(tmp_path):
    data = load_split("rrc", "train", 40, cache_dir=tmp_path)
    groups = PREDICTOR_ENVS["rrc"].batch_groups(data)
    assert np.array_equal(groups, data.hidden["robot_controlled"][:, -1])


def test_shuffled_passes_walk_through_each_group_once_per_pass():
    groups = np.array([0, 1] * 6 + [1] * 4)  # 6 of group 0, 10 of group 1
    passes = ShuffledPasses(groups, 4, torch.Generator().manual_seed(0))
    batches = [passes.next().numpy() for _ in range(15)]
    for batch in batches:
        assert sorted(groups[batch]) == [0, 0, 1, 1]
    # Group 0: 30 rows drawn = 5 passes of its 6 rows, each row once per pass.
    zeros = np.concatenate([batch[groups[batch] == 0] for batch in batches])
    for start in range(0, 30, 6):
        assert sorted(zeros[start : start + 6]) == list(np.flatnonzero(groups == 0))
    assert len({tuple(zeros[start : start + 6]) for start in range(0, 30, 6)}) > 1  # a fresh order per pass
    ones = np.concatenate([batch[groups[batch] == 1] for batch in batches])
    for start in range(0, 30, 10):
        assert sorted(ones[start : start + 10]) == list(np.flatnonzero(groups == 1))
    with pytest.raises(ValueError, match="cannot hold"):
        ShuffledPasses(np.arange(3), 4, torch.Generator())


def test_shuffled_passes_continue_from_their_state():
    groups = np.arange(20) % 2
    generator = torch.Generator().manual_seed(1)
    passes = ShuffledPasses(groups, 6, generator)
    for _ in range(2):
        passes.next()
    state, generator_state = passes.state(), generator.get_state()
    expected = [passes.next() for _ in range(5)]
    generator = torch.Generator()
    generator.set_state(generator_state)
    again = ShuffledPasses(groups, 6, generator)
    again.load_state(state)
    for batch, reference in zip((again.next() for _ in range(5)), expected):
        assert torch.equal(batch, reference)


def test_bad_names_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="env"):
        load_split("pong", "train", 1, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_split("rrc", "validation", 1, cache_dir=tmp_path)


def test_export_to_minari(tmp_path, monkeypatch):
    pytest.importorskip("minari")
    pytest.importorskip("h5py")
    from baselines.predictors.data import export_minari

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    data = load_split("shepherd", "test", 4, cache_dir=tmp_path)
    with pytest.warns(UserWarning):  # Minari asks for author metadata
        dataset = export_minari(data, "pomdp_envs/shepherd-test-v0", description="test split")
    assert dataset.total_episodes == 4 and dataset.total_steps == 400
    episode = next(dataset.iterate_episodes())
    np.testing.assert_allclose(episode.observations, data.observations[0])
    np.testing.assert_array_equal(episode.infos["hidden"]["gate_open"], data.hidden["gate_open"][0])


def test_fetch_splits_grasp_early_or_later(tmp_path):
    pytest.importorskip("gymnasium_robotics")
    train = load_split("fetch", "train", 4, cache_dir=tmp_path)
    gen = load_split("fetch", "generalisation", 4, cache_dir=tmp_path)
    assert train.observations.shape == (4, 26, 11) and train.actions.shape == (4, 25, 4)
    first_grasp = lambda s: np.argmax(s.hidden["object_grasped"] == 1, axis=1)  # noqa: E731
    assert np.all(grasped_at_some_step(train)) and np.all(grasped_at_some_step(gen))
    assert first_grasp(gen).min() > first_grasp(train).max()


def grasped_at_some_step(sequences):
    return sequences.hidden["object_grasped"].max(axis=1) == 1


def test_a_cut_cache_file_is_collected_again_with_one_line(tmp_path, capsys):
    """A run killed while writing once left a truncated .npz that broke every later run."""
    from baselines.predictors.splits import split_path

    first = load_split("rrc", "test", 8, cache_dir=tmp_path)
    path = split_path("rrc", "test", 8, cache_dir=tmp_path)
    path.write_bytes(path.read_bytes()[:200])
    again = load_split("rrc", "test", 8, cache_dir=tmp_path)
    np.testing.assert_array_equal(first.observations, again.observations)
    [line] = [line for line in capsys.readouterr().err.splitlines() if str(path) in line]
    assert "unreadable" in line and "collecting it again" in line
    assert load_split("rrc", "test", 8, cache_dir=tmp_path) is not None  # whole again
    assert not list(tmp_path.glob(".*partial"))


def test_concurrent_collectors_of_one_split_agree_on_one_file(tmp_path):
    import subprocess
    import sys

    code = (
        "from baselines.predictors.splits import load_split; import sys; "
        f"s = load_split('rrc', 'train', 64, cache_dir={str(tmp_path)!r}); print(float(s.observations.sum()))"
    )
    processes = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    sums = [process.communicate(timeout=300)[0].strip() for process in processes]
    assert all(process.returncode == 0 for process in processes)
    assert sums[0] == sums[1]
    assert len(list(tmp_path.glob("*.npz"))) == 1 and not list(tmp_path.glob(".*partial"))


def test_training_batches_take_the_papers_composition_in_passes(tmp_path):
    from baselines.predictors.train import RunDraws, TrainConfig, batch_groups

    config = TrainConfig(env="rrc", num_train=256, num_test=8, cache_dir=tmp_path)
    groups = batch_groups(config)
    assert groups.sum() == 128
    draws = RunDraws(config, 0, groups, 49, torch.device("cpu"))
    batches = [draws.next(0.5)[0].numpy() for _ in range(4)]
    for batch in batches:
        assert groups[batch].sum() == 64  # 64 control + 64 no-control sequences
    for first in (0, 2):  # 256 sequences: every one once per two batches
        assert sorted(np.concatenate(batches[first : first + 2])) == list(range(256))
    old = RunDraws(TrainConfig(env="rrc", batch_order="with-replacement"), 0, groups, 49, torch.device("cpu"))
    assert old.passes is None and len(old.next(0.5)[0]) == 128

"""The pomdp-envs command and the speed benchmark script."""

from __future__ import annotations

import csv
import subprocess
import sys

import gymnasium as gym
import imageio.v2 as imageio
import numpy as np
import pytest
from conftest import ALL_IDS, AVAILABLE_IDS

from benchmarks import env_speed
from pomdp_envs.cli import main
from pomdp_envs.registration import ENTRIES


def test_list_prints_every_id_with_a_description(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(ENTRIES)
    for entry, line in zip(ENTRIES, lines):
        assert line.startswith(entry.id) and entry.description in line


def test_console_script_is_installed():
    out = subprocess.run(
        [sys.executable, "-m", "pomdp_envs.cli", "list"], check=True, capture_output=True, text=True
    ).stdout
    assert all(entry.id in out for entry in ENTRIES)


def read_frames(path):
    return list(imageio.get_reader(str(path), format="FFMPEG").iter_data())


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_render_writes_a_decodable_mp4_per_episode(env_id, tmp_path, capsys):
    args = ["render", env_id, "--out", str(tmp_path), "--max-steps", "12", "--episodes", "2", "--no-progress"]
    assert main(args) == 0
    videos = sorted(tmp_path.glob("*.mp4"))
    assert [v.name for v in videos] == [f"{env_id.split('/')[1]}-random-seed{k}.mp4" for k in (0, 1)]
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    expected = env.render().shape
    for video in videos:
        frames = read_frames(video)
        assert len(frames) == 13  # the reset frame plus one per step
        assert frames[0].shape == expected


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_info_strip_and_grid_video(env_id, tmp_path):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    height, width, _ = env.render().shape
    assert (
        main(["render", env_id, "--out", str(tmp_path / "strip"), "--max-steps", "5", "--info-strip", "--no-progress"])
        == 0
    )
    (video,) = (tmp_path / "strip").glob("*.mp4")
    assert read_frames(video)[0].shape[0] > height
    assert (
        main(
            ["render", env_id, "--out", str(tmp_path / "grid"), "--max-steps", "5", "--num-envs", "4", "--no-progress"]
        )
        == 0
    )
    (video,) = (tmp_path / "grid").glob("*.mp4")
    frames = read_frames(video)
    assert frames[0].shape == (2 * height, 2 * width, 3) and len(frames) == 6


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_gymnasium_record_video_works_unchanged(env_id, tmp_path):
    folder = tmp_path / "videos"
    env = gym.wrappers.RecordVideo(gym.make(env_id, render_mode="rgb_array", max_episode_steps=8), str(folder))
    env.reset(seed=0)
    done = False
    while not done:
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        done = terminated or truncated
    env.close()
    (video,) = folder.glob("*.mp4")
    reader = imageio.get_reader(str(video), format="FFMPEG")
    assert reader.get_meta_data()["fps"] == env.metadata["render_fps"]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["render", "NoSuchEnv-v0"], "NoSuchEnv-v0"),
        (["render", "pomdp_envs/BilliardBall-v0", "--policy", "oracle"], "oracle"),
        (["render", "pomdp_envs/BilliardBall-v0", "--episodes", "0"], "--episodes"),
        (["render", "pomdp_envs/BilliardBall-v0", "--bogus"], "--bogus"),
    ],
)
def test_bad_arguments_give_a_one_line_error(args, expected, capsys):
    try:
        code = main(args)
    except SystemExit as exit_:  # argparse exits on malformed options
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and "\n" not in err and "Traceback" not in err


def test_env_speed_prints_a_row_per_id_and_mode(tmp_path, capsys):
    out_csv = tmp_path / "speed.csv"
    args = ["--duration", "0.05", "--repeats", "1", "--num-envs", "8", "--csv", str(out_csv)]
    assert env_speed.main(args) == 0
    table = capsys.readouterr().out
    rows = list(csv.DictReader(out_csv.open()))
    entries = [entry for entry in ENTRIES if entry.id in AVAILABLE_IDS]
    expected = 2 + sum(
        1 + (entry.vector_entry_point is not None) + 2 * (entry.upstream_id is not None) for entry in entries
    )
    assert len(rows) == expected
    assert all(float(row["steps_per_s"]) > 0 for row in rows)
    assert all(row["env"] in table for row in rows)


def test_render_runs_an_episode_to_its_end_without_a_step_cap(tmp_path):
    # MiniGrid ids truncate themselves (no max_episode_steps in their spec).
    entry = next((e for e in ENTRIES if e.max_episode_steps is None and e.available), None)
    if entry is None:
        pytest.skip("no installed env without max_episode_steps")
    assert main(["render", entry.id, "--out", str(tmp_path), "--no-progress"]) == 0
    assert main(["render", entry.id, "--out", str(tmp_path / "grid"), "--num-envs", "2", "--no-progress"]) == 0
    (video,) = tmp_path.glob("*.mp4")
    assert len(read_frames(video)) > 1


def test_info_strip_text_formats_and_wraps():
    from pomdp_envs.recording import _wrap, add_text_strip, describe_step

    info = {
        "hidden": {
            "gate": np.int64(1),
            "held": np.array(True),
            "xy": np.array([0.5, -1.25]),
            "flags": np.array([0, 1], dtype=np.int8),
        },
        "hidden_changed": {"gate": True},
    }
    assert describe_step(3, 1.0, info) == [
        "step 3",
        "reward +1.000",
        "gate=1*",
        "held=True",
        "xy=(+0.50, -1.25)",
        "flags=(0, 1)",
    ]
    lines = _wrap(["a" * 10, "b" * 10, "c, " * 10], 25, len)
    assert all(len(line) <= 25 for line in lines) and "".join(lines).count("c") == 10
    narrow = add_text_strip(np.zeros((40, 100, 3), dtype=np.uint8), ["x" * 200])
    assert narrow.shape[1] == 480 and narrow.shape[0] > 40 + 2 * 13  # widened, and wrapped onto lines


def test_view_obs_shows_what_the_agent_sees(tmp_path):
    pytest.importorskip("pymunk")
    assert (
        main(["render", "ShapeHerd-v1", "--view", "obs", "--out", str(tmp_path), "--max-steps", "2", "--no-progress"])
        == 0
    )
    (video,) = tmp_path.glob("*.mp4")
    assert read_frames(video)[0].shape == (256, 256, 3)  # the 64x64 view, 4x nearest neighbour
    assert main(["render", "Shepherd-v0", "--view", "obs", "--out", str(tmp_path / "no")]) == 2

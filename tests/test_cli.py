"""The pomdp-envs command and the speed benchmark script."""

from __future__ import annotations

import csv
import subprocess
import sys

import imageio.v2 as imageio
import pytest

from benchmarks import env_speed
from conftest import ALL_IDS
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
    assert all(env_id in out for env_id in ALL_IDS)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_render_writes_a_decodable_mp4(env_id, tmp_path, capsys):
    assert main(["render", env_id, "--out", str(tmp_path), "--max-steps", "12", "--seed", "4"]) == 0
    (video,) = tmp_path.glob("*.mp4")
    frames = list(imageio.get_reader(str(video), format="FFMPEG").iter_data())
    assert len(frames) == 13  # the reset frame plus one per step
    assert frames[0].ndim == 3 and frames[0].shape[2] == 3


def test_render_unknown_id_is_a_one_line_error(capsys):
    assert main(["render", "NoSuchEnv-v0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "NoSuchEnv-v0" in err and "\n" not in err


def test_env_speed_prints_a_row_per_id_and_mode(tmp_path, capsys):
    out_csv = tmp_path / "speed.csv"
    args = ["--duration", "0.05", "--repeats", "1", "--num-envs", "8", "--csv", str(out_csv)]
    assert env_speed.main(args) == 0
    table = capsys.readouterr().out
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 2 * (len(ALL_IDS) + 1)
    assert all(float(row["steps_per_s"]) > 0 for row in rows)
    assert all(row["env"] in table for row in rows)

"""Recurrent PPO on MiniGrid: agent, state resets, advantages, a tiny run and (slow) learning."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("minigrid")

from baselines.agents.ppo import PPOConfig, RecurrentAgent, _gae, train  # noqa: E402

torch.set_num_threads(1)


@pytest.mark.parametrize("core", ["gatel0rd", "lstm"])
def test_agent_shapes_and_state_reset_at_episode_starts(core):
    torch.manual_seed(0)
    agent = RecurrentAgent(num_actions=7, core=core, hidden_size=16)
    views = torch.randint(0, 6, (5, 3, 7, 7, 3), dtype=torch.uint8)
    starts = torch.zeros(5, 3)
    outputs, activity = agent.unroll(views, starts, agent.initial_state(3))
    assert outputs.shape == (5, 3, 16) and activity.shape == (5, 3, 16)
    dist, value = agent.heads(outputs)
    assert dist.logits.shape == (5, 3, 7) and value.shape == (5, 3)

    # A start at step 2 makes env 0's later outputs independent of what came before.
    starts[2, 0] = 1.0
    changed = views.clone()
    changed[:2, 0] = (changed[:2, 0] + 1) % 6
    again, _ = agent.unroll(changed, starts, agent.initial_state(3))
    first, _ = agent.unroll(views, starts, agent.initial_state(3))
    torch.testing.assert_close(again[2:, 0], first[2:, 0])
    assert not torch.allclose(again[:2, 0], first[:2, 0])


def test_gae_stops_at_episode_boundaries():
    rewards = torch.tensor([[0.0], [1.0], [0.0]])
    values = torch.tensor([[0.5], [0.5], [0.5]])
    starts = torch.tensor([[0.0], [0.0], [1.0]])  # a new episode begins at step 2
    advantages = _gae(rewards, values, starts, torch.tensor([2.0]), torch.tensor([0.0]), gamma=0.9, lam=1.0)
    # Step 1 ends its episode: no bootstrap from step 2's value.
    assert advantages[1, 0].item() == pytest.approx(1.0 - 0.5)
    assert advantages[0, 0].item() == pytest.approx(0.0 + 0.9 * 0.5 - 0.5 + 0.9 * 0.5)
    assert advantages[2, 0].item() == pytest.approx(0.0 + 0.9 * 2.0 - 0.5)


def test_config_rejects_minibatches_that_do_not_split_the_envs():
    with pytest.raises(ValueError, match="divisible"):
        PPOConfig(num_envs=6, num_minibatches=4)


def test_tiny_run_writes_metrics_checkpoint_and_scores(tmp_path):
    config = PPOConfig(
        total_steps=2 * 4 * 16,
        num_envs=4,
        num_steps=16,
        num_minibatches=2,
        update_epochs=1,
        out_dir=tmp_path,
        progress=False,
    )
    scores = train(config)
    assert scores["global_step"] == 128
    assert (tmp_path / "metrics.csv").read_text().count("\n") == 3  # header + 2 updates
    assert json.loads((tmp_path / "scores.json").read_text())["global_step"] == 128
    assert 0.0 <= scores["final_gate_rate"] <= 1.0
    assert "agent_state" in torch.load(tmp_path / "checkpoint.pt", weights_only=True)


def test_track_and_capture_video_write_their_files(tmp_path):
    config = PPOConfig(
        total_steps=2 * 4 * 16,
        num_envs=4,
        num_steps=16,
        num_minibatches=2,
        update_epochs=1,
        out_dir=tmp_path,
        progress=False,
        track=True,
        capture_video=True,
    )
    plain = train(dataclasses.replace(config, out_dir=tmp_path / "plain", track=False, capture_video=False))
    tracked = train(config)
    assert list(tmp_path.glob("events.out.tfevents.*"))
    assert list((tmp_path / "videos").glob("*.mp4"))
    # Recording and logging do not change the run.
    assert tracked["final_gate_rate"] == plain["final_gate_rate"]


def test_a_missing_cuda_device_is_a_clear_error(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(ValueError, match="no CUDA device"):
        train(
            PPOConfig(
                total_steps=64,
                num_envs=4,
                num_steps=16,
                num_minibatches=2,
                device="cuda",
                out_dir=tmp_path,
                progress=False,
            )
        )


@pytest.mark.slow
def test_ppo_learns_doorkey_5x5(tmp_path):
    scores = train(PPOConfig(total_steps=200_000, out_dir=tmp_path, progress=False, seed=0))
    assert scores["final_success_rate"] > 0.8
    assert np.isfinite(scores["final_return"]) and scores["final_return"] > 0.5

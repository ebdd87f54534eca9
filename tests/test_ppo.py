"""Recurrent PPO on every controllable id: agents per observation and action kind,
state resets, reset steps, advantages, tiny runs and (slow) learning."""

from __future__ import annotations

import csv
import dataclasses
import json

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines.agents.ppo import (  # noqa: E402
    CORES,
    MEMORYLESS,
    PPOConfig,
    RecurrentAgent,
    _gae,
    _successes,
    make_envs,
    observation_kind,
    train,
)
from pomdp_envs import registration  # noqa: E402

torch.set_num_threads(1)

VIEW = gym.spaces.Box(0, 255, (7, 7, 3), np.uint8)
FRAME = gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
VECTOR = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
SHAPEHERD_ACTIONS = gym.spaces.Box(np.array([0.0, 0.0], np.float32), np.array([2 * np.pi, 400.0], np.float32))
#: One id per observation kind and action kind (and the float64 Fetch view).
KIND_IDS = {
    "vector/box": "pomdp_envs/RobotRemoteControl-v0",
    "vector/box/3": "pomdp_envs/Shepherd-v0",
    "grid/discrete": "pomdp_envs/MiniGrid-MemoryS7-v0",
    "pixels/box": "pomdp_envs/ShapeHerd-Small-v1",
    "vector64/box": "pomdp_envs/FetchPickAndPlacePO-v0",
}


def _random_batch(space: gym.spaces.Box, lead: tuple[int, ...]) -> torch.Tensor:
    if space.dtype == np.uint8:
        return torch.randint(0, 6, (*lead, *space.shape), dtype=torch.uint8)
    return torch.rand(*lead, *space.shape) * 2 - 1


@pytest.mark.parametrize("core", [*CORES, MEMORYLESS])
@pytest.mark.parametrize(
    "observation_space, action_space",
    [(VIEW, gym.spaces.Discrete(7)), (VECTOR, gym.spaces.Box(-1.0, 1.0, (2,))), (FRAME, SHAPEHERD_ACTIONS)],
    ids=["grid-discrete", "vector-box", "pixels-box"],
)
def test_agent_shapes_and_state_reset_at_episode_starts(core, observation_space, action_space):
    torch.manual_seed(0)
    agent = RecurrentAgent(observation_space, action_space, core=core, hidden_size=16)
    observations = _random_batch(observation_space, (5, 3))
    starts = torch.zeros(5, 3)
    outputs, activity = agent.unroll(observations, starts, agent.initial_state(3))
    assert outputs.shape == (5, 3, 16) and activity.shape == (5, 3, 16)
    dist, value = agent.heads(outputs)
    assert value.shape == (5, 3)
    action = dist.sample()
    assert dist.log_prob(action).shape == (5, 3) and dist.entropy().shape == (5, 3)
    sent = agent.env_actions(action)
    assert action_space.contains(sent[0, 0]) and sent.shape == (5, 3, *action_space.shape)

    # A start at step 2 makes env 0's later outputs independent of what came before.
    starts[2, 0] = 1.0
    changed = observations.clone()
    changed[:2, 0] = _random_batch(observation_space, (2,))
    again, _ = agent.unroll(changed, starts, agent.initial_state(3))
    first, _ = agent.unroll(observations, starts, agent.initial_state(3))
    torch.testing.assert_close(again[2:, 0], first[2:, 0])
    if core != MEMORYLESS:
        assert not torch.allclose(again[:2, 0], first[:2, 0])


def test_box_actions_are_clipped_to_unit_range_and_mapped_onto_the_box():
    agent = RecurrentAgent(VECTOR, SHAPEHERD_ACTIONS, core="none", hidden_size=8)
    sent = agent.env_actions(torch.tensor([[-3.0, 0.0], [1.0, 5.0], [0.0, -1.0]]))
    np.testing.assert_allclose(sent, [[0.0, 200.0], [2 * np.pi, 400.0], [np.pi, 0.0]], rtol=1e-6)
    assert sent.dtype == np.float32


def test_vector_observations_are_scaled_by_their_finite_bounds():
    space = gym.spaces.Box(np.array([0.0, -np.inf], np.float32), np.array([4.0, np.inf], np.float32))
    agent = RecurrentAgent(space, gym.spaces.Discrete(2), core="none", hidden_size=8)
    torch.testing.assert_close(agent.encoder.center, torch.tensor([2.0, 0.0]))
    torch.testing.assert_close(agent.encoder.half_width, torch.tensor([2.0, 1.0]))


def test_observation_kinds_and_refusals():
    assert [observation_kind(space) for space in (VECTOR, VIEW, FRAME)] == ["vector", "grid", "pixels"]
    with pytest.raises(ValueError, match="vector observations"):
        observation_kind(gym.spaces.Discrete(3))
    with pytest.raises(ValueError, match="bounded"):
        RecurrentAgent(VECTOR, gym.spaces.Box(-np.inf, np.inf, (2,)))


def test_billiard_ball_is_refused_in_one_line(tmp_path):
    with pytest.raises(ValueError, match="no control") as error:
        train(PPOConfig(env_id="pomdp_envs/BilliardBall-v0", out_dir=tmp_path, progress=False))
    assert "\n" not in str(error.value)


def test_every_controllable_id_gets_an_agent():
    for env_id in registration.env_ids(available_only=True):
        env = gym.make(env_id)
        if isinstance(env.action_space, gym.spaces.Discrete) and env.action_space.n < 2:
            env.close()
            continue
        RecurrentAgent(env.observation_space, env.action_space, core="gru", hidden_size=8)
        env.close()


def test_successes_read_is_success_of_the_finished_envs():
    info = {"is_success": np.array([True, True, False]), "_is_success": np.array([True, False, True])}
    done = np.array([True, True, True])
    assert _successes(info, done).tolist() == [True, False, False]
    assert _successes({}, np.array([True, False])).tolist() == [False]


def test_native_vector_env_is_used_where_the_id_has_one(tmp_path):
    config = PPOConfig(env_id="pomdp_envs/RobotRemoteControl-v0", num_envs=2, num_minibatches=1, out_dir=tmp_path)
    envs = make_envs(config)
    assert not isinstance(envs, gym.vector.SyncVectorEnv)
    assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    synced = make_envs(dataclasses.replace(config, env_id="pomdp_envs/MiniGrid-MemoryS7-v0"))
    assert isinstance(synced, gym.vector.SyncVectorEnv)
    assert synced.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    envs.close(), synced.close()


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


@pytest.mark.parametrize("core", [*CORES, MEMORYLESS])
@pytest.mark.parametrize("fully_observable", [False, True], ids=["view", "full-view"])
@pytest.mark.parametrize("kind", sorted(KIND_IDS))
def test_tiny_run_on_every_observation_and_action_kind(kind, fully_observable, core, tmp_path):
    env_id = KIND_IDS[kind]
    entry = registration.entry_by_id(env_id)
    if not entry.available:
        pytest.skip(f"{env_id} needs {entry.requires}")
    config = PPOConfig(
        env_id=env_id, core=core, fully_observable=fully_observable, total_steps=2 * 4 * 8, num_envs=4,
        num_steps=8, num_minibatches=2, update_epochs=1, out_dir=tmp_path, progress=False,
    )  # fmt: skip
    scores = train(config)
    assert scores["global_step"] == 64
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3 and "nan" not in rows[-1].split(",")[6:]  # losses are finite


def test_reset_steps_are_left_out_and_episodes_counted(tmp_path):
    """RRC with a 3-step limit: every 4th step of an env is a reset step."""
    gym.register("pomdp_envs_test/RRC-3-v0", "pomdp_envs.envs.robot_remote_control:RobotRemoteControlEnv",
                 vector_entry_point="pomdp_envs.envs.robot_remote_control:RobotRemoteControlVectorEnv",
                 max_episode_steps=3)  # fmt: skip
    try:
        config = PPOConfig(
            env_id="pomdp_envs_test/RRC-3-v0", core="gru", total_steps=16 * 2, num_envs=2, num_steps=16,
            num_minibatches=1, update_epochs=1, out_dir=tmp_path, progress=False,
        )  # fmt: skip
        train(config)
    finally:
        gym.registry.pop("pomdp_envs_test/RRC-3-v0")
    [row] = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    # 16 steps per env: episodes end at steps 3, 7, 11, 15 (a reset step after each).
    assert int(row["episodes"]) == 2 * 4


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


def test_a_recorded_run_on_the_sync_envs_steps_the_native_envs_episodes(tmp_path):
    """Video needs the SyncVectorEnv; the native vector env gives the same run."""
    config = PPOConfig(
        env_id="pomdp_envs/RobotRemoteControl-v0", core="gru", total_steps=3 * 4 * 32, num_envs=4, num_steps=32,
        num_minibatches=2, update_epochs=1, out_dir=tmp_path / "native", progress=False,
    )  # fmt: skip
    native = train(config)
    recorded = train(dataclasses.replace(config, capture_video=True, out_dir=tmp_path / "recorded"))
    assert list((tmp_path / "recorded" / "videos").glob("*.mp4"))
    rows = [list(csv.DictReader((tmp_path / name / "metrics.csv").open())) for name in ("native", "recorded")]
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in rows[0]] == [
        {k: v for k, v in row.items() if k != "seconds"} for row in rows[1]
    ]
    assert native["final_return"] == recorded["final_return"] or np.isnan(native["final_return"])


def test_defaults_and_network_follow_the_paper_codes_minigrid_ppo():
    """The fact sheet's section 5 (train_fc defaults) and section 1.5 (model.py): the
    settings and the agent that the module docstring says it reproduces."""
    config = PPOConfig()
    assert (config.num_envs, config.num_steps, config.update_epochs) == (16, 128, 4)
    assert config.num_envs * config.num_steps // config.num_minibatches == 256  # batch 256
    assert (config.lr, config.adam_eps, config.gamma, config.gae_lambda) == (1e-3, 1e-8, 0.99, 0.95)
    assert (config.ent_coef, config.vf_coef, config.max_grad_norm, config.clip_coef) == (0.01, 0.5, 0.5, 0.2)
    assert config.clip_value_loss

    for core in ("lstm", "gatel0rd"):
        agent = RecurrentAgent(VIEW, gym.spaces.Discrete(7), core=core, hidden_size=64)
        convs = [m for m in agent.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
        assert [tuple(c.weight.shape) for c in convs] == [(16, 3, 2, 2), (32, 16, 2, 2), (64, 32, 2, 2)]
        assert any(isinstance(m, torch.nn.MaxPool2d) for m in agent.encoder.modules())
        assert agent.encode(torch.zeros(1, 7, 7, 3, dtype=torch.uint8)).shape == (1, 64)  # embedding 64
        assert [tuple(m.weight.shape) for m in agent.actor if isinstance(m, torch.nn.Linear)] == [(64, 64), (7, 64)]
        assert [tuple(m.weight.shape) for m in agent.critic if isinstance(m, torch.nn.Linear)] == [(64, 64), (1, 64)]
        linears = [m for m in agent.modules() if isinstance(m, torch.nn.Linear)]
        if core == "gatel0rd":  # the cell's own layers are re-initialised too
            assert any(isinstance(m, torch.nn.Linear) for m in agent.core.modules())
        for layer in linears:  # each row of N(0, 1) scaled to unit norm, biases 0
            torch.testing.assert_close(layer.weight.norm(dim=1), torch.ones(layer.weight.shape[0]))
            assert layer.bias is None or not layer.bias.any()

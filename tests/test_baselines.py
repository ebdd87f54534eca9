"""GateL0RD and the RNN predictors: shapes, gradients, gate semantics, training."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines import metrics  # noqa: E402
from baselines.cells import GateL0RDCell, HeavisideST, TorchRNNCell, gate_activity  # noqa: E402
from baselines.predictor import CORES, Predictor, PredictorConfig  # noqa: E402
from baselines.data import load_split  # noqa: E402
from baselines.train_predictor import (  # noqa: E402
    TrainConfig,
    build_model,
    load_checkpoint,
    real_input_probability,
    train,
)

torch.set_num_threads(1)


@pytest.mark.parametrize("core", CORES)
def test_predictor_shapes(core):
    model = Predictor(obs_size=4, action_size=2, config=PredictorConfig(core=core, latent_size=6, core_layers=2))
    observations, actions = torch.randn(5, 11, 4), torch.randn(5, 10, 2)
    out = model(observations, actions, real_input_prob=0.5, start_steps=2)
    assert out["predictions"].shape == (5, 10, 4)
    assert out["gates"].shape == (5, 10, 6)
    latent_size = 12 if core == "lstm" else 6  # LSTM: hidden and cell state
    assert out["latents"].shape == (5, 10, latent_size)
    no_action = Predictor(obs_size=2, action_size=0, config=PredictorConfig(core=core))
    assert no_action(torch.randn(3, 6, 2), None)["predictions"].shape == (3, 5, 2)


def test_closed_gates_leave_the_latent_bit_for_bit_unchanged():
    cell = GateL0RDCell(input_size=3, hidden_size=5)
    with torch.no_grad():  # a gate network that closes dims 0-2 and opens dims 3-4
        cell.gate_net[0].weight.zero_()
        cell.gate_net[0].bias.copy_(torch.tensor([-1.0, -1.0, -1.0, 2.0, 2.0]))
    cell.eval()
    h_prev = torch.randn(7, 5)
    _, (h,), gate = cell(torch.randn(7, 3), (h_prev,))
    assert torch.equal(h[:, :3], h_prev[:, :3])
    assert not torch.equal(h[:, 3:], h_prev[:, 3:])
    assert torch.equal(gate_activity(gate), torch.tensor([0.0, 0, 0, 1, 1]).expand(7, 5))


def test_heaviside_passes_gradients_straight_through():
    x = torch.tensor([-1.0, 0.0, 0.5], requires_grad=True)
    y = HeavisideST.apply(x)
    assert y.tolist() == [0.0, 0.0, 1.0]
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0]


def test_gate_penalty_trains_the_gate_network():
    cell = GateL0RDCell(input_size=3, hidden_size=4)
    with torch.no_grad():
        cell.gate_net[0].bias.fill_(1.0)  # gates open, so ReTanh has a gradient
    _, _, gate = cell(torch.randn(8, 3), (torch.zeros(8, 4),))
    gate_activity(gate).mean().backward()
    assert cell.gate_net[0].bias.grad.abs().sum() > 0
    assert cell.recommend_net[0].weight.grad is None  # the penalty reaches only g


def test_gate_noise_only_in_training():
    cell = GateL0RDCell(input_size=3, hidden_size=4, gate_noise=0.5)
    x, h = torch.randn(8, 3), (torch.randn(8, 4),)
    cell.eval()
    assert torch.equal(cell(x, h)[0], cell(x, h)[0])
    cell.train()
    assert not torch.equal(cell(x, h)[0], cell(x, h)[0])


def test_unknown_core_is_rejected():
    with pytest.raises(ValueError, match="core"):
        PredictorConfig(core="transformer")
    with pytest.raises(ValueError, match="cell kind"):
        TorchRNNCell("transformer", 2, 2)


def test_scheduled_sampling_schedule():
    config = TrainConfig(epochs=100, ss_floor=0.05).resolved()
    assert real_input_probability(config, 0) == 1.0
    assert real_input_probability(config, 50) == pytest.approx(0.05)
    assert real_input_probability(config, 100) == 0.05
    assert real_input_probability(TrainConfig(teacher_forcing=True).resolved(), 100) == 1.0


def test_probe_r2_finds_a_linear_code_and_rejects_noise():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(40, 20, 6))
    coded = latents[..., :2] @ np.array([[1.0], [-2.0]])
    assert metrics.probe_r2(latents, coded) > 0.99
    assert metrics.probe_r2(latents, rng.normal(size=(40, 20, 1))) < 0.05


def test_gate_event_scores_with_slack():
    changed = np.zeros((1, 10), dtype=bool)
    changed[0, [3, 7]] = True
    gates = np.zeros((1, 10), dtype=bool)
    gates[0, [4, 9]] = True  # 4 is one step after a change; 9 two steps after
    gates[0, 1] = True  # a spurious opening
    scores = metrics.gate_event_scores(gates, changed, start_steps=1)
    assert scores == {"gate_precision": pytest.approx(2 / 3), "gate_recall": 1.0}


def _tiny_run(tmp_path, core, reg_lambda, epochs=40, name="run", teacher_forcing=False):
    config = TrainConfig(
        env="rrc", core=core, reg_lambda=reg_lambda, epochs=epochs, batches_per_epoch=5, batch_size=64,
        teacher_forcing=teacher_forcing,
        num_train=256, num_test=128, eval_every=epochs // 2, out_dir=tmp_path / name,
        cache_dir=tmp_path / "cache", progress=False,
    )
    return train(config), config


def test_tiny_training_run_lowers_the_error_and_writes_its_files(tmp_path):
    scores, config = _tiny_run(tmp_path, "gru", None, teacher_forcing=True)
    rows = (config.out_dir / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3
    header = rows[0].split(",")
    first, last = (dict(zip(header, row.split(","))) for row in rows[1:])
    assert float(last["train_loss"]) < float(first["train_loss"])
    model, meta = load_checkpoint(config.out_dir / "checkpoint.pt")
    assert meta["env_id"] == "pomdp_envs/RobotRemoteControl-v0"
    test_set = load_split("rrc", "test", 128, cache_dir=tmp_path / "cache")
    torch.manual_seed(0)
    untrained = build_model(config.resolved(), test_set)
    assert scores["test_mse"] < metrics.autoregressive_mse(untrained, test_set, start_steps=1)
    assert metrics.autoregressive_mse(model, test_set, start_steps=1) == pytest.approx(scores["test_mse"])
    assert np.isfinite(scores["test_mse"]) and "probe_r2/robot_controlled" in scores


def test_gate_penalty_reduces_gate_openings_on_rrc(tmp_path):
    free, _ = _tiny_run(tmp_path, "gatel0rd", 0.0, epochs=30, name="free")
    sparse, _ = _tiny_run(tmp_path, "gatel0rd", 0.1, epochs=30, name="sparse")
    assert sparse["gate_openings"] < free["gate_openings"]


@pytest.mark.parametrize("core_layers", [1, 2])
def test_teacher_forced_unroll_matches_stepping(core_layers):
    torch.manual_seed(0)
    model = Predictor(4, 2, PredictorConfig(core="gatel0rd", core_layers=core_layers)).eval()
    observations, actions = torch.randn(3, 9, 4), torch.randn(3, 8, 2)
    fast = model(observations, actions, real_input_prob=1.0)
    stepped = model(observations, actions, real_input_prob=1.0 - 1e-9, start_steps=100)
    for name in ("predictions", "latents", "gates"):
        torch.testing.assert_close(fast[name], stepped[name], rtol=1e-5, atol=1e-6)


def test_overlay_writes_png_and_mp4(tmp_path):
    import imageio.v2 as imageio

    from baselines.overlay import save_overlay

    _, config = _tiny_run(tmp_path, "gatel0rd", None, epochs=2, name="overlay")
    png, mp4 = save_overlay(config.out_dir / "checkpoint.pt", tmp_path / "out", index=2, fps=10)
    assert png.stat().st_size > 0
    frames = list(imageio.get_reader(str(mp4), format="FFMPEG").iter_data())
    assert len(frames) == 50  # one frame per predicted step of the 50-step test sequences
    with pytest.raises(ValueError, match="index"):
        save_overlay(config.out_dir / "checkpoint.pt", tmp_path / "out", index=10_000)

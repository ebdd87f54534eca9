"""GateL0RD and the RNN predictors: shapes, gradients, gate semantics, training."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines.cells import GateL0RDCell, HeavisideST, TorchRNNCell, gate_activity  # noqa: E402
from baselines.predictors import metrics  # noqa: E402
from baselines.predictors.checkpoint import load_checkpoint  # noqa: E402
from baselines.predictors.envs import PREDICTOR_ENVS  # noqa: E402
from baselines.predictors.predictor import CORES, Predictor, PredictorConfig  # noqa: E402
from baselines.predictors.train import (  # noqa: E402
    TrainConfig,
    build_model,
    load_data,
    real_input_probability,
    train,
)

torch.set_num_threads(1)


@pytest.mark.parametrize("core", CORES)
def test_predictor_shapes(core):
    model = Predictor(
        obs_size=4,
        action_size=2,
        config=PredictorConfig(core=core, latent_size=6, rnn_layers=2, internal_layers=2, init_inputs=2),
    )
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
        cell.recommend_net[0].bias.fill_(5.0)  # a candidate far from h_prev
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


def test_scheduled_sampling_schedule_is_the_papers_compressed_to_the_run():
    # The paper: max(floor, 0.998^epoch) over 10,000 RRC epochs (floor 0.02).
    paper = TrainConfig(env="rrc", epochs=10000)
    assert real_input_probability(paper, 1) == pytest.approx(0.998)
    assert real_input_probability(paper, 1000) == pytest.approx(0.998**1000)
    assert real_input_probability(paper, 5000) == 0.02
    # A run of 100 epochs follows the same curve, 100 times faster.
    short = TrainConfig(env="rrc", epochs=100)
    assert real_input_probability(short, 10) == pytest.approx(real_input_probability(paper, 1000))
    assert TrainConfig(env="rrc").resolved_batches_per_epoch() == 50  # the paper's epoch
    assert real_input_probability(TrainConfig(teacher_forcing=True), 100) == 1.0
    assert TrainConfig(ss_decay=0.5, ss_floor=0.1).resolved_ss_decay() == 0.5


#: Section 2.6 of the fact sheet: parameter counts of the paper's configurations.
PAPER_PARAMETER_COUNTS = {
    "billiard": {"gatel0rd": 9226, "elman": 11306, "gru": 12298, "lstm": 13586},
    "rrc": {"gatel0rd": 1716, "elman": 1316, "gru": 1604, "lstm": 1884},
    "shepherd": {"gatel0rd": 8319, "elman": 7271, "gru": 7687, "lstm": 8159},
    "fetch": {"gatel0rd": 6971, "elman": 5403, "gru": 6491, "lstm": 7563},
}
OBS_AND_ACTION = {"billiard": (2, 0), "rrc": (4, 2), "shepherd": (7, 3), "fetch": (11, 4)}


@pytest.mark.parametrize("env", sorted(PAPER_PARAMETER_COUNTS))
@pytest.mark.parametrize("core", CORES)
def test_parameter_counts_are_the_papers(env, core):
    obs_size, action_size = OBS_AND_ACTION[env]
    model = Predictor(obs_size, action_size, TrainConfig(env=env, core=core).predictor_config())
    assert sum(p.numel() for p in model.parameters()) == PAPER_PARAMETER_COUNTS[env][core]


def test_paper_learning_rates_and_lambdas():
    assert TrainConfig(env="billiard", core="elman", teacher_forcing=True).resolved_lrs() == (5e-4,)
    assert TrainConfig(env="billiard", core="gru", teacher_forcing=True).resolved_lrs() == (1e-3,)
    assert TrainConfig(env="billiard", core="gatel0rd").resolved_lrs() == (5e-4,)
    assert TrainConfig(env="rrc", core="lstm").resolved_lrs() == (5e-3,)
    assert TrainConfig(env="shepherd").resolved_lambdas() == (1e-4,)
    assert [PREDICTOR_ENVS[env].defaults.start_steps for env in ("billiard", "rrc", "shepherd", "fetch")] == [
        2,
        1,
        2,
        1,
    ]
    runs = TrainConfig(seeds=(0, 1), reg_lambdas=(0.0, 1e-3)).runs()
    assert [(r.seed, r.reg_lambda) for r in runs] == [(0, 0.0), (0, 1e-3), (1, 0.0), (1, 1e-3)]
    assert len({r.name for r in runs}) == 4


def test_gate_event_scores_with_slack():
    changed = np.zeros((1, 10), dtype=bool)
    changed[0, [3, 7]] = True
    gates = np.zeros((1, 10), dtype=bool)
    gates[0, [4, 9]] = True  # 4 is one step after a change; 9 two steps after
    gates[0, 1] = True  # a spurious opening
    scores = metrics.gate_event_scores(gates, changed, start_steps=1)
    assert scores["gate_precision"] == pytest.approx(2 / 3) and scores["gate_recall"] == 1.0
    assert scores["event_base_rate"] == pytest.approx(6 / 9)  # steps 3-5 and 7-9 follow a change
    assert scores["gate_lift"] == pytest.approx(1.0)


def _tiny_run(tmp_path, core, reg_lambda, epochs=40, name="run", teacher_forcing=False, track=False):
    config = TrainConfig(
        env="rrc",
        core=core,
        reg_lambdas=() if reg_lambda is None else (reg_lambda,),
        lrs=(1e-2,),
        epochs=epochs,
        batches_per_epoch=5,
        batch_size=64,
        teacher_forcing=teacher_forcing,
        track=track,
        num_train=256,
        num_test=128,
        eval_every=epochs // 2,
        out_dir=tmp_path / name,
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    return train(config), config


def test_tiny_training_run_lowers_the_error_and_writes_its_files(tmp_path):
    scores, config = _tiny_run(tmp_path, "gru", None, teacher_forcing=True, track=True)
    assert list(config.out_dir.glob("events.out.tfevents.*"))  # --track
    rows = (config.out_dir / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3
    header = rows[0].split(",")
    first, last = (dict(zip(header, row.split(","))) for row in rows[1:])
    assert float(last["train_task_loss"]) < float(first["train_task_loss"])
    assert float(last["train_gate_penalty"]) == 0.0  # no gates
    model, meta = load_checkpoint(config.out_dir / "checkpoint.pt")
    assert meta["env_id"] == "pomdp_envs/RobotRemoteControl-v0"
    test_set = load_data(config)["test"]  # cut to the paper's 49 steps
    torch.manual_seed(0)
    untrained = build_model(config, test_set)
    assert scores["test_mse"] < metrics.autoregressive_mse(untrained, test_set, start_steps=1)
    assert metrics.autoregressive_mse(model, test_set, start_steps=1) == pytest.approx(scores["test_mse"])
    assert np.isfinite(scores["test_mse"]) and "probe/robot_controlled" in scores


def test_gate_penalty_reduces_gate_openings_on_rrc(tmp_path):
    free, _ = _tiny_run(tmp_path, "gatel0rd", 0.0, epochs=30, name="free")
    sparse, _ = _tiny_run(tmp_path, "gatel0rd", 0.1, epochs=30, name="sparse")
    assert sparse["gate_openings"] < free["gate_openings"]


def test_overlay_writes_png_and_mp4(tmp_path):
    import imageio.v2 as imageio

    from baselines.predictors.overlay import save_overlay

    _, config = _tiny_run(tmp_path, "gatel0rd", None, epochs=2, name="overlay")
    png, mp4 = save_overlay(config.out_dir / "checkpoint.pt", tmp_path / "out", index=2, fps=10)
    assert png.stat().st_size > 0
    frames = list(imageio.get_reader(str(mp4), format="FFMPEG").iter_data())
    assert len(frames) == 49  # one frame per predicted step of the paper's 49-step RRC sequences
    with pytest.raises(ValueError, match="index"):
        save_overlay(config.out_dir / "checkpoint.pt", tmp_path / "out", index=10_000)

"""RSSM, VSG and SVSG world models and the Dreamer-style agent: shapes, gate semantics,
sanity signals of a tiny training run, and a tiny end-to-end run."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines.agents.dreamer import PRESETS, DreamerConfig, Replay, lambda_returns, probe_scores, train  # noqa: E402
from baselines.agents.world_model import (  # noqa: E402
    MODELS,
    RecurrentCell,
    WorldModel,
    WorldModelConfig,
    for_model,
    sparsity_loss,
)
from baselines.predictors.splits import load_split  # noqa: E402

torch.set_num_threads(1)


def tiny(model: str, **overrides) -> WorldModelConfig:
    return WorldModelConfig(
        model=model,
        deter=16,
        hidden=16,
        stoch=4,
        classes=0 if model == "svsg" else 4,
        cnn_depth=4,
        mlp_units=16,
        mlp_layers=1,
        **overrides,
    )


def batch_of(obs_shape, batch=3, steps=5, action_size=2):
    if len(obs_shape) == 3:
        observation = torch.randint(0, 256, (batch, steps, *obs_shape), dtype=torch.uint8)
    else:
        observation = torch.randn(batch, steps, *obs_shape)
    is_first = torch.zeros(batch, steps, dtype=torch.bool)
    is_first[:, 0] = True
    return {
        "observation": observation,
        "action": torch.rand(batch, steps, action_size) * 2 - 1,
        "reward": torch.rand(batch, steps),
        "discount": torch.ones(batch, steps),
        "is_first": is_first,
    }


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("obs_shape", [(64, 64, 3), (7,)])
def test_world_model_loss_is_finite_and_trains_every_part(model, obs_shape):
    torch.manual_seed(0)
    world = WorldModel(tiny(model), obs_shape, action_size=2)
    loss, posts, metrics = world.loss(batch_of(obs_shape))
    assert torch.isfinite(loss)
    assert world.dynamics.feature(posts).shape == (3, 5, world.config.feature_size)
    assert all(np.isfinite(value) for value in metrics.values())
    assert ("gate_rate" in metrics) == (model != "rssm")
    loss.backward()
    for name, parameter in world.named_parameters():
        assert parameter.grad is not None, name


def test_image_decoder_reconstructs_64x64x3():
    world = WorldModel(tiny("vsg"), (64, 64, 3), 2)
    features = torch.randn(2, 3, world.config.feature_size)
    assert world.decoder(features).shape == (2, 3, 64, 64, 3)
    with pytest.raises(ValueError, match="64x64x3"):
        WorldModel(tiny("vsg"), (32, 32, 3), 2)


def test_closed_gates_copy_the_state_and_open_gates_replace_it():
    cell = RecurrentCell(input_size=3, size=4, layer_norm=False, bernoulli_gate=True)
    with torch.no_grad():
        cell.layer.bias[8:] = -100.0  # update gate p ~ 0: every dimension closed
    previous = torch.randn(5, 4)
    candidate, gate, prob = cell(torch.randn(5, 3), previous)
    mixed = gate * candidate + (1 - gate) * previous
    assert torch.equal(gate, torch.zeros_like(gate)) and torch.equal(mixed, previous)
    with torch.no_grad():
        cell.layer.bias[8:] = 100.0
    candidate, gate, _ = cell(torch.randn(5, 3), previous)
    assert torch.equal(gate * candidate + (1 - gate) * previous, candidate)


def test_gate_gradient_is_straight_through():
    cell = RecurrentCell(input_size=2, size=3, layer_norm=False, bernoulli_gate=True)
    _, gate, prob = cell(torch.randn(4, 2), torch.randn(4, 3))
    gate.sum().backward()
    assert cell.layer.weight.grad is not None and cell.layer.weight.grad.abs().sum() > 0


def test_dreamerv2_gru_cell_normalises_its_gates_and_resets_the_whole_candidate():
    torch.manual_seed(0)
    cell = RecurrentCell(input_size=3, size=4, layer_norm=True, bernoulli_gate=False)
    assert cell.layer.bias is None and cell.norm.eps == 1e-3
    x, previous = torch.randn(5, 3), torch.randn(5, 4)
    parts = torch.nn.functional.layer_norm(torch.cat([x, previous], -1) @ cell.layer.weight.T, (12,), eps=1e-3)
    reset, cand, update = parts.chunk(3, -1)
    candidate, gate, prob = cell(x, previous)
    torch.testing.assert_close(candidate, torch.tanh(torch.sigmoid(reset) * cand))
    torch.testing.assert_close(prob, torch.sigmoid(update - 1.0))
    assert torch.equal(gate, prob)  # a soft update gate


def test_the_three_models_differ_only_in_what_the_papers_say():
    base = dataclasses.replace(tiny("rssm"), stoch=4, classes=4)
    models = {model: WorldModel(for_model(base, model), (7,), action_size=2) for model in MODELS}
    shapes = {model: {name: tuple(p.shape) for name, p in world.named_parameters()} for model, world in models.items()}
    cell = "dynamics.cell."
    # RSSM: LayerNorm on the gates and no dense bias; VSG: a bias and no LayerNorm; all else alike.
    assert {n for n in shapes["rssm"] if n.startswith(cell)} == {
        cell + "layer.weight",
        cell + "norm.weight",
        cell + "norm.bias",
    }
    assert {n for n in shapes["vsg"] if n.startswith(cell)} == {cell + "layer.weight", cell + "layer.bias"}
    rest = {model: {n: s for n, s in shape.items() if not n.startswith(cell)} for model, shape in shapes.items()}
    assert rest["rssm"] == rest["vsg"]
    # SVSG: one Gaussian state as wide as deter (no deterministic path), free nats 1.0.
    svsg = models["svsg"].config
    assert (svsg.classes, svsg.stoch, svsg.kl_free, svsg.feature_size) == (0, base.deter, 1.0, base.deter)
    assert models["vsg"].config.kl_free == models["rssm"].config.kl_free == 0.0

    # One step on fixed inputs: with RSSM's weights (less its LayerNorm) VSG's cell gives
    # the same candidate and gate probability, and mixes with the 0/1 sample instead of p.
    rssm_cell, vsg_cell = models["rssm"].dynamics.cell, models["vsg"].dynamics.cell
    with torch.no_grad():
        vsg_cell.layer.weight.copy_(rssm_cell.layer.weight)
        vsg_cell.layer.bias.zero_()
    plain = RecurrentCell(16, 16, layer_norm=False, bernoulli_gate=False)
    with torch.no_grad():
        plain.layer.weight.copy_(rssm_cell.layer.weight)
        plain.layer.bias.zero_()
    x, previous = torch.randn(6, 16), torch.randn(6, 16)
    torch.manual_seed(1)
    candidate, gate, prob = vsg_cell(x, previous)
    soft_candidate, soft_gate, soft_prob = plain(x, previous)
    torch.testing.assert_close(candidate, soft_candidate)
    torch.testing.assert_close(prob, soft_prob)
    assert torch.all((gate - gate.round()).abs() < 1e-6) and torch.equal(soft_gate, soft_prob)  # 0/1 samples
    assert not torch.allclose(rssm_cell(x, previous)[0], soft_candidate)  # the LayerNorm matters


def test_svsg_kl_counts_only_updated_dimensions():
    world = WorldModel(tiny("svsg"), (7,), 2)
    stats = torch.randn(2, 3, 8)
    posterior = {"stats": stats, "gate": torch.zeros(2, 3, 4)}
    prior = {"stats": stats + 1.0}
    _, value = world.dynamics.kl_loss(posterior, prior)
    assert value.item() == 0.0
    posterior["gate"] = torch.ones(2, 3, 4)
    assert world.dynamics.kl_loss(posterior, prior)[1].item() > 0.0


def test_sparsity_loss_is_zero_at_kappa_up_to_its_floor():
    assert sparsity_loss(torch.full((2, 5, 8), 0.4), kappa=0.4, free=0.0).item() == pytest.approx(0.0, abs=1e-6)
    assert sparsity_loss(torch.full((2, 5, 8), 0.4), kappa=0.4, free=0.1).item() == pytest.approx(0.1)
    assert sparsity_loss(torch.full((2, 5, 8), 0.9), kappa=0.4, free=0.0).item() > 1.0


def _fit_on_rrc(gate_scale: float, updates: int = 120) -> list[dict[str, float]]:
    sequences = load_split("rrc", "train", 256, 0)
    observations = torch.as_tensor(sequences.observations[:, :11], dtype=torch.float32)
    actions = torch.zeros(256, 11, 2)
    actions[:, 1:] = torch.as_tensor(sequences.actions[:, :10])
    is_first = torch.zeros(256, 11, dtype=torch.bool)
    is_first[:, 0] = True
    torch.manual_seed(0)
    config = dataclasses.replace(
        tiny("vsg"),
        deter=32,
        hidden=32,
        stoch=8,
        classes=8,
        mlp_units=32,
        gate_prior=0.1,
        gate_scale=gate_scale,
        discount_head=False,
    )
    world = WorldModel(config, (4,), 2)
    optimizer = torch.optim.Adam(world.parameters(), lr=3e-3)
    history = []
    for _ in range(updates):
        index = torch.randint(0, 256, (32,))
        loss, _, metrics = world.loss(
            {
                "observation": observations[index],
                "action": actions[index],
                "reward": torch.zeros(32, 11),
                "discount": torch.ones(32, 11),
                "is_first": is_first[index],
            }
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(metrics)
    return history


def test_vsg_gate_rate_settles_near_kappa_with_the_sparsity_loss_and_drifts_without():
    with_loss, without_loss = _fit_on_rrc(0.1), _fit_on_rrc(0.0)
    kappa = 0.1
    assert abs(with_loss[-1]["gate_prob"] - kappa) < 0.06
    assert without_loss[-1]["gate_prob"] - kappa > 0.15
    for history in (with_loss, without_loss):
        assert history[-1]["image_loss"] < 0.7 * history[0]["image_loss"]
        assert all(np.isfinite(row["kl"]) for row in history)


def test_lambda_returns_match_the_recursion():
    rewards = torch.tensor([[1.0], [0.0], [2.0]])
    values = torch.tensor([[0.5], [1.0], [3.0]])  # v_1, v_2, v_3
    discounts = torch.full((3, 1), 0.9)
    returns = lambda_returns(rewards, values, discounts, lambda_=0.5)
    r2 = 2.0 + 0.9 * 3.0
    r1 = 0.0 + 0.9 * (0.5 * 1.0 + 0.5 * r2)
    r0 = 1.0 + 0.9 * (0.5 * 0.5 + 0.5 * r1)
    torch.testing.assert_close(returns[:, 0], torch.tensor([r0, r1, r2]))
    # lambda = 1: discounted sum of rewards plus the bootstrapped last value.
    full = lambda_returns(rewards, values, discounts, lambda_=1.0)
    assert full[0, 0].item() == pytest.approx(1.0 + 0.9 * 0.0 + 0.81 * 2.0 + 0.729 * 3.0)


def test_replay_windows_are_seeded_and_start_fresh():
    def filled(seed):
        replay = Replay(seed)
        for length in (5, 12, 30):
            replay.add(
                {
                    "observation": np.arange(length, dtype=np.float32)[:, None],
                    "reward": np.arange(length, dtype=np.float32),
                    "is_first": np.eye(1, length, dtype=bool)[0],
                }
            )
        return replay

    first, again = filled(0).sample(8, 10), filled(0).sample(8, 10)
    assert torch.equal(first["reward"], again["reward"])
    assert first["reward"].shape == (8, 10)
    assert torch.all(first["reward"][:, 1:] - first["reward"][:, :-1] == 1)  # contiguous windows
    assert bool(first["is_first"][:, 0].all())
    assert not filled(0).can_sample(31)


def test_paper_preset_is_the_published_shapeherd_configuration():
    # ../shared/specs/shapeherd_vsg_public_code_facts.md, section 5 (the code's BringBackShapes
    # column) and section 6; the one deliberate difference is the paper's actor entropy.
    paper = PRESETS["paper"]
    assert (paper.batch_size, paper.sequence_length, paper.train_every) == (16, 50, 5)
    assert paper.prefill * 4 == 10_000  # frames of random actions, at action repeat 4
    assert paper.total_steps * 4 == 2_500_000  # the frames of the paper's ShapeHerd curves
    assert (paper.model_lr, paper.critic_lr, paper.actor_lr) == (1e-4, 2e-4, 8e-5)
    assert (paper.adam_eps, paper.grad_clip, paper.weight_decay) == (1e-5, 100.0, 1e-6)
    assert (paper.imagine_horizon, paper.discount, paper.lambda_) == (15, 0.99, 0.95)
    assert paper.slow_critic_every == 100 and (paper.actor_units, paper.actor_layers) == (400, 4)
    assert paper.actor_entropy == 1e-4  # the paper's (App. B); the code's config says 2e-3
    world = paper.world
    assert (world.deter, world.hidden, world.stoch, world.classes) == (1024, 1024, 32, 32)
    assert (world.cnn_depth, world.mlp_units, world.mlp_layers, world.discount_head) == (48, 400, 4, True)
    assert (world.kl_scale, world.kl_balance, world.kl_free) == (1.0, 0.8, 0.0)
    assert (world.gate_scale, world.gate_prior, world.gate_free) == (0.1, 0.4, 0.1)
    svsg = PRESETS["paper-svsg"].world
    assert (svsg.model, svsg.stoch, svsg.classes, svsg.kl_free) == ("svsg", 1024, 0, 1.0)


def test_presets_and_config_checks():
    small = PRESETS["cpu-small"]
    assert small.world.feature_size < PRESETS["paper"].world.feature_size
    with pytest.raises(ValueError, match="classes=0"):
        WorldModelConfig(model="svsg", classes=32)
    with pytest.raises(ValueError, match="prefill"):
        DreamerConfig(prefill=10, sequence_length=50)


@pytest.mark.parametrize("model", MODELS)
def test_tiny_dreamer_run_on_rrc_writes_its_outputs_and_is_deterministic(model, tmp_path):
    def run(out):
        return train(_tiny_dreamer(model, out))

    scores = run(tmp_path / "a")
    assert scores["updates"] == 6 and scores["env_steps"] == 160
    assert np.isfinite(scores["final_image_loss"]) and np.isfinite(scores["final_kl"])
    for name in ("metrics.csv", "checkpoint.pt", "curve.png"):
        assert (tmp_path / "a" / name).exists()
    assert json.loads((tmp_path / "a" / "scores.json").read_text())["updates"] == 6
    run(tmp_path / "b")

    def without_seconds(path):  # wall-clock time is the one column that may differ
        lines = path.read_text().splitlines()
        column = lines[0].split(",").index("seconds")
        return [[part for i, part in enumerate(line.split(",")) if i != column] for line in lines]

    assert without_seconds(tmp_path / "a" / "metrics.csv") == without_seconds(tmp_path / "b" / "metrics.csv")


def test_probe_scores_cover_every_hidden_factor():
    world = WorldModel(tiny("vsg"), (4,), 2)
    scores = probe_scores(world, load_split("rrc", "test", 64, 0))
    assert set(scores) == {"probe/robot_controlled"}
    assert np.isfinite(scores["probe/robot_controlled"])


def _tiny_dreamer(model: str, out, **overrides) -> DreamerConfig:
    options = dict(
        env_id="pomdp_envs/RobotRemoteControl-v0",
        world=tiny(model),
        total_steps=160,
        prefill=60,
        train_every=20,
        batch_size=4,
        sequence_length=8,
        log_every=80,
        actor_units=16,
        actor_layers=1,
        imagine_horizon=4,
        threads=1,
        out_dir=out,
        progress=False,
    )
    return DreamerConfig(**{**options, **overrides})


def test_a_budget_too_small_to_train_fails_up_front(tmp_path):
    with pytest.raises(ValueError, match="too small to train"):
        train(_tiny_dreamer("vsg", tmp_path / "run", total_steps=60))
    assert not (tmp_path / "run" / "metrics.csv").exists()
    with pytest.raises(ValueError, match="amp needs a CUDA device"):
        _tiny_dreamer("vsg", tmp_path, amp=True)


def test_truncated_normal_actor_stays_in_the_box_with_the_right_entropy():
    from baselines.agents.dreamer import TruncatedNormal

    torch.manual_seed(0)
    mean = torch.tensor([0.9, -0.2, 0.0], requires_grad=True)
    std = torch.tensor([1.0, 0.3, 2.0])
    dist = TruncatedNormal(mean, std)
    samples = dist.rsample((20_000,))
    assert samples.min() > -1.0 and samples.max() < 1.0
    samples.mean().backward()
    assert mean.grad is not None and torch.all(mean.grad > 0)  # reparametrised
    # Entropy against a numerical integral of -p log p over [-1, 1].
    grid = torch.linspace(-1, 1, 20_001)[:, None]
    density = torch.exp(dist.log_prob(grid))
    numeric = -(density * torch.log(density)).sum(0) * (2 / 20_000)
    torch.testing.assert_close(dist.entropy().detach(), numeric.detach(), atol=2e-3, rtol=0)
    torch.testing.assert_close((density.sum(0) * (2 / 20_000)).detach(), torch.ones(3), atol=2e-3, rtol=0)


def test_weight_decay_track_video_and_estimate(tmp_path):
    from baselines.agents.dreamer import Dreamer, estimate_seconds

    config = _tiny_dreamer("rssm", tmp_path / "run", track=True, capture_video=True)
    agent = Dreamer(config, (4,), 2)
    before = [p.detach().clone() for p in agent.critic.parameters()]
    zero = sum(0.0 * p.sum() for p in agent.critic.parameters())
    agent._step(agent.critic_opt, zero, agent.critic)  # no gradient: only the decay moves the weights
    for old, new in zip(before, agent.critic.parameters()):
        torch.testing.assert_close(new.detach(), old * (1 - config.weight_decay))
    train(config)
    assert list((tmp_path / "run").glob("events.out.tfevents.*"))
    assert list((tmp_path / "run" / "videos").glob("*.mp4"))
    assert 0 < estimate_seconds(_tiny_dreamer("vsg", tmp_path / "estimate")) < 600

"""The memoryless controls: the predictors' mlp core and PPO's --core none see the last
``window`` inputs and nothing older."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines.cells import WindowCell  # noqa: E402
from baselines.predictors.predictor import Predictor, PredictorConfig, count_parameters  # noqa: E402

torch.set_num_threads(1)


def _predictions(model: Predictor, observations: torch.Tensor) -> torch.Tensor:
    actions = torch.zeros(observations.shape[0], observations.shape[1] - 1, 2)
    return model(observations, actions, real_input_prob=1.0)["predictions"]


@pytest.mark.parametrize("window", [1, 3])
def test_predictions_depend_on_the_last_window_inputs_only(window):
    torch.manual_seed(0)
    model = Predictor(4, 2, PredictorConfig(core="mlp", window=window))
    observations = torch.randn(2, 12, 4)
    changed = observations.clone()
    changed[:, 3] += 1.0  # step 3's input
    before, after = _predictions(model, observations), _predictions(model, changed)
    # The prediction made at step t reads inputs t - window + 1 .. t.
    reads_step_3 = list(range(3, 3 + window))
    for t in range(11):
        same = torch.equal(before[:, t], after[:, t])
        assert same != (t in reads_step_3), t


def test_the_memoryless_core_has_no_initial_state_network():
    recurrent = Predictor(4, 2, PredictorConfig(core="gru"))
    memoryless = Predictor(4, 2, PredictorConfig(core="mlp"))
    assert len(memoryless.f_inits) == 0 and len(recurrent.f_inits) == 1
    # f_pre and f_post as the recurrent cores have them; the core is one layer F -> H.
    assert [p.shape for p in memoryless.f_pre.parameters()] == [p.shape for p in recurrent.f_pre.parameters()]
    assert memoryless.f_post.weight.shape == recurrent.f_post.weight.shape
    core = PredictorConfig().feature_size * PredictorConfig().latent_size + PredictorConfig().latent_size
    assert count_parameters(memoryless.core) == core


def test_window_cell_rejects_an_empty_window():
    with pytest.raises(ValueError, match="window"):
        WindowCell(3, 4, window=0)
    with pytest.raises(ValueError, match="window"):
        PredictorConfig(core="mlp", window=0)


def test_window_is_for_the_memoryless_core_only():
    from baselines.predictors.train import TrainConfig

    with pytest.raises(ValueError, match="mlp only"):
        TrainConfig(core="gru", window=4).check()


def test_ppo_without_memory_acts_on_the_current_view_alone():
    pytest.importorskip("minigrid")
    import gymnasium as gym

    from baselines.agents.ppo import RecurrentAgent

    torch.manual_seed(0)
    view = gym.spaces.Box(0, 255, (7, 7, 3), np.uint8)
    agent = RecurrentAgent(view, gym.spaces.Discrete(7), core="none", hidden_size=16)
    views = torch.randint(0, 6, (5, 3, 7, 7, 3), dtype=torch.uint8)
    starts = torch.zeros(5, 3)
    changed = views.clone()
    changed[:2] = (changed[:2] + 1) % 6
    first, _ = agent.unroll(views, starts, agent.initial_state(3))
    again, _ = agent.unroll(changed, starts, agent.initial_state(3))
    torch.testing.assert_close(first[2:], again[2:], rtol=0, atol=0)
    assert not torch.allclose(first[:2], again[:2])


def test_predictors_train_on_the_fully_observable_variant_and_report_comparable_errors(tmp_path):
    from baselines.predictors.train import TrainConfig, load_data, observed_size, train_runs

    config = TrainConfig(
        env="rrc", core="mlp", fully_observable=True, epochs=2, batches_per_epoch=2, num_train=32, num_test=16,
        eval_every=1, cache_dir=tmp_path / "cache", out_dir=tmp_path / "run", progress=False,
    )  # fmt: skip
    data = load_data(config)
    assert data["train"].observations.shape[-1] == 6  # 4 positions + robot_controlled one-hot
    assert observed_size(config, data) == 4
    [result] = train_runs(config)
    assert np.isfinite(result.scores["test_mse"]) and result.scores["probe/robot_controlled"] >= 0


def test_ppo_runs_on_the_fully_observable_grid(tmp_path):
    pytest.importorskip("minigrid")
    from baselines.agents.ppo import PPOConfig, train

    config = PPOConfig(
        core="none", fully_observable=True, total_steps=128, num_envs=4, num_steps=16, num_minibatches=2,
        out_dir=tmp_path / "run", progress=False,
    )  # fmt: skip
    scores = train(config)
    assert scores["global_step"] == 128
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["agent_state"]
    # DoorKey-5x5's whole grid goes through the padded convs, not the 7x7 view's.
    assert state["encoder.net.0.weight"].shape[-2:] == (3, 3)

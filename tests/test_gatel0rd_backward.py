"""GateL0RD's hand-written backward pass gives autograd's loss and gradients."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")

from baselines.predictors.gatel0rd_backward import GateL0RDGradients  # noqa: E402
from baselines.predictors.predictor import Predictor, PredictorConfig  # noqa: E402
from baselines.predictors.stacked import StackedPredictor  # noqa: E402
from baselines.predictors.train import TrainConfig, _stacked_loss  # noqa: E402

# (observation size, action size, config, start steps): the paper's RRC and Billiard Ball
# shapes, and one with two-layer g and r and a late start.
SHAPES = {
    "rrc": (4, 2, PredictorConfig(), 1),
    "billiard": (
        4,
        0,
        PredictorConfig(latent_size=8, feature_size=16, init_layers=3, init_inputs=2, internal_layers=3),
        2,
    ),
    "two-layer g and r": (3, 2, PredictorConfig(latent_size=5, feature_size=6, init_inputs=2, internal_layers=2), 3),
}


def _batch(shape, runs=3, batch=5, steps=7, real_prob=0.5, with_noise=True, seed=0):
    obs_size, action_size, config, start = shape
    generator = torch.Generator().manual_seed(seed)

    def normal(*size):
        return torch.randn(*size, generator=generator, dtype=torch.float64)

    observations = normal(runs, batch, steps + 1, obs_size)
    actions = normal(runs, batch, steps, action_size) if action_size else None
    use_real = torch.rand(runs, batch, steps, generator=generator) < real_prob
    noise = 0.5 * normal(runs, batch, steps, config.latent_size) if with_noise else None
    lambdas = torch.tensor([0.0, 1e-2, 0.3, 1.0][:runs], dtype=torch.float64)
    return observations, actions, use_real, noise, lambdas, start


def _stacked(shape, runs=3, seed=0):
    obs_size, action_size, config, _ = shape
    torch.manual_seed(seed)
    return StackedPredictor([Predictor(obs_size, action_size, config).double() for _ in range(runs)])


def _autograd(stacked, batch):
    stacked.zero_grad()
    task, penalty = _stacked_loss(stacked, *batch)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="grad and param do not obey the gradient layout contract")
        (task + penalty).sum().backward()
    return task.detach(), penalty.detach(), stacked.flat_grad.clone()


def _by_hand(stacked, batch, gradients=None):
    gradients = GateL0RDGradients(stacked) if gradients is None else gradients
    stacked.flat_grad.fill_(float("nan"))  # every entry must be written
    task, penalty = gradients(*batch)
    return task, penalty, stacked.flat_grad.clone()


@pytest.mark.parametrize("name", SHAPES)
@pytest.mark.parametrize(("real_prob", "with_noise"), [(0.5, True), (1.0, True), (0.0, False)])
def test_loss_and_gradients_equal_autograds(name, real_prob, with_noise):
    stacked = _stacked(SHAPES[name])
    batch = _batch(SHAPES[name], real_prob=real_prob, with_noise=with_noise)
    expected = _autograd(stacked, batch)
    for value, reference in zip(_by_hand(stacked, batch), expected):
        torch.testing.assert_close(value, reference, rtol=1e-10, atol=1e-13)
    assert expected[2].abs().max() > 1e-3  # a gradient to compare
    if real_prob < 1.0:
        assert expected[1][1:].min() > 0  # gates opened: the penalty's path is exercised


def test_buffers_are_reused_across_calls_of_other_shapes():
    shape = SHAPES["rrc"]
    stacked = _stacked(shape)
    gradients = GateL0RDGradients(stacked)
    for batch_size, steps, seed in ((5, 7, 1), (4, 9, 2), (5, 7, 3)):
        batch = _batch(shape, batch=batch_size, steps=steps, seed=seed)
        expected = _autograd(stacked, batch)
        for value, reference in zip(_by_hand(stacked, batch, gradients), expected):
            torch.testing.assert_close(value, reference, rtol=1e-10, atol=1e-13)


def test_single_precision_stays_close_to_autograd():
    shape = SHAPES["rrc"]
    torch.manual_seed(0)
    stacked = StackedPredictor([Predictor(4, 2, shape[2]) for _ in range(3)])
    batch = tuple(t.float() if isinstance(t, torch.Tensor) and t.is_floating_point() else t for t in _batch(shape))
    expected = _autograd(stacked, batch)
    for value, reference in zip(_by_hand(stacked, batch), expected):
        torch.testing.assert_close(value, reference, rtol=1e-4, atol=1e-6)


def test_only_gatel0rd_and_no_compile_of_the_by_hand_path():
    gru = StackedPredictor([Predictor(4, 2, PredictorConfig(core="gru"))])
    with pytest.raises(ValueError, match="GateL0RD"):
        GateL0RDGradients(gru)
    with pytest.raises(ValueError, match="--gradients autograd"):
        TrainConfig(compile=True).check()
    TrainConfig(compile=True, gradients="autograd").check()
    TrainConfig(core="gru", compile=True).check()

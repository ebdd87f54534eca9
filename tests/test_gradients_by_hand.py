"""The hand-written backward passes (GateL0RD's and the RNNs') give autograd's loss and gradients."""

from __future__ import annotations

import dataclasses
import warnings

import pytest

torch = pytest.importorskip("torch")

from baselines.predictors.gatel0rd_backward import GateL0RDGradients  # noqa: E402
from baselines.predictors.predictor import Predictor, PredictorConfig  # noqa: E402
from baselines.predictors.rnn_backward import RNNGradients  # noqa: E402
from baselines.predictors.stacked import StackedPredictor  # noqa: E402
from baselines.predictors.train import TrainConfig, _stacked_loss, gradients_by_hand  # noqa: E402

# (observation size, action size, config, start steps): the paper's RRC, Billiard Ball
# (the RNNs: three stacked cells) and Fetch shapes, and one with two-layer g and r, two
# stacked cells and a late start.
SHAPES = {
    "rrc": (4, 2, PredictorConfig(), 1),
    "billiard": (
        4,
        0,
        PredictorConfig(latent_size=8, feature_size=16, init_layers=3, init_inputs=2, internal_layers=3, rnn_layers=3),
        2,
    ),
    "fetch": (11, 4, PredictorConfig(latent_size=16, feature_size=16), 1),
    "two layers": (
        3,
        2,
        PredictorConfig(latent_size=5, feature_size=6, init_inputs=2, internal_layers=2, rnn_layers=2),
        3,
    ),
}
CORES = ("gatel0rd", "lstm", "gru", "elman")


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


def _stacked(shape, runs=3, seed=0, core="gatel0rd"):
    obs_size, action_size, config, _ = shape
    config = dataclasses.replace(config, core=core)
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
    gradients = gradients_by_hand(stacked) if gradients is None else gradients
    stacked.flat_grad.fill_(float("nan"))  # every entry must be written
    task, penalty = gradients(*batch)
    return task, penalty, stacked.flat_grad.clone()


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("name", SHAPES)
@pytest.mark.parametrize(("real_prob", "with_noise"), [(0.5, True), (1.0, True), (0.0, False)])
def test_loss_and_gradients_equal_autograds(core, name, real_prob, with_noise):
    stacked = _stacked(SHAPES[name], core=core)
    batch = _batch(SHAPES[name], real_prob=real_prob, with_noise=with_noise and core == "gatel0rd")
    expected = _autograd(stacked, batch)
    for value, reference in zip(_by_hand(stacked, batch), expected):
        torch.testing.assert_close(value, reference, rtol=1e-10, atol=1e-13)
    assert expected[2].abs().max() > 1e-3  # a gradient to compare
    # Every parameter tensor receives a gradient (none left at zero by a missed path).
    for name_, value in stacked.params.items():
        assert value.grad.abs().max() > 0, name_
    if core == "gatel0rd" and real_prob < 1.0:
        assert expected[1][1:].min() > 0  # gates opened: the penalty's path is exercised


@pytest.mark.parametrize("core", CORES)
def test_buffers_are_reused_across_calls_of_other_shapes(core):
    shape = SHAPES["two layers"]
    stacked = _stacked(shape, core=core)
    gradients = gradients_by_hand(stacked)
    for batch_size, steps, seed in ((5, 7, 1), (4, 9, 2), (5, 7, 3)):
        batch = _batch(shape, batch=batch_size, steps=steps, seed=seed)
        expected = _autograd(stacked, batch)
        for value, reference in zip(_by_hand(stacked, batch, gradients), expected):
            torch.testing.assert_close(value, reference, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("core", CORES)
def test_single_precision_stays_close_to_autograd(core):
    shape = SHAPES["rrc"]
    torch.manual_seed(0)
    stacked = StackedPredictor([Predictor(4, 2, dataclasses.replace(shape[2], core=core)) for _ in range(3)])
    batch = tuple(t.float() if isinstance(t, torch.Tensor) and t.is_floating_point() else t for t in _batch(shape))
    expected = _autograd(stacked, batch)
    for value, reference in zip(_by_hand(stacked, batch), expected):
        torch.testing.assert_close(value, reference, rtol=1e-4, atol=1e-6)


def test_each_backward_pass_refuses_other_cores_and_compile_needs_autograd():
    gru = StackedPredictor([Predictor(4, 2, PredictorConfig(core="gru"))])
    with pytest.raises(ValueError, match="gatel0rd, not of 'gru'"):
        GateL0RDGradients(gru)
    with pytest.raises(ValueError, match="not of 'gatel0rd'"):
        RNNGradients(StackedPredictor([Predictor(4, 2, PredictorConfig())]))
    mlp = StackedPredictor([Predictor(4, 2, PredictorConfig(core="mlp"))])
    assert gradients_by_hand(mlp) is None  # the memoryless control trains on autograd
    for core in CORES:
        with pytest.raises(ValueError, match="--gradients autograd"):
            TrainConfig(core=core, compile=True).check()
        TrainConfig(core=core, compile=True, gradients="autograd").check()
    TrainConfig(core="mlp", compile=True).check()

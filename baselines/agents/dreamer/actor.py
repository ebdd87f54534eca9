"""The actor's action distribution and the map from its [-1, 1] box to the env's."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from baselines.agents.world_model import elu_mlp


class TruncatedNormal(torch.distributions.Distribution):
    """Normal(mean, std) truncated to [low, high], reparametrised through the inverse
    CDF (DreamerV2's actor distribution; its samples are kept a hair inside the bounds)."""

    arg_constraints: dict = {}
    has_rsample = True

    def __init__(
        self, mean: torch.Tensor, std: torch.Tensor, low: float = -1.0, high: float = 1.0, margin: float = 1e-6
    ) -> None:
        self.mean_, self.std_, self.low, self.high, self.margin = mean, std, low, high, margin
        normal = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(std))
        self._normal = normal
        self._alpha, self._beta = (low - mean) / std, (high - mean) / std
        self._cdf_alpha, self._cdf_beta = normal.cdf(self._alpha), normal.cdf(self._beta)
        self._mass = (self._cdf_beta - self._cdf_alpha).clamp(min=1e-8)
        super().__init__(batch_shape=mean.shape, validate_args=False)

    def rsample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        shape = self._extended_shape(sample_shape)
        uniform = torch.rand(shape, dtype=self.mean_.dtype, device=self.mean_.device)
        quantile = (self._cdf_alpha + uniform * self._mass).clamp(1e-6, 1 - 1e-6)
        value = self.mean_ + self.std_ * self._normal.icdf(quantile)
        clipped = value.clamp(self.low + self.margin, self.high - self.margin)
        return value + (clipped - value).detach()

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return self._normal.log_prob((value - self.mean_) / self.std_) - torch.log(self.std_ * self._mass)

    def entropy(self) -> torch.Tensor:
        density = lambda x: torch.exp(self._normal.log_prob(x))  # noqa: E731
        return torch.log(np.sqrt(2 * np.pi * np.e) * self.std_ * self._mass) + (
            self._alpha * density(self._alpha) - self._beta * density(self._beta)
        ) / (2 * self._mass)

    @property
    def mode(self) -> torch.Tensor:
        return self.mean_.clamp(self.low, self.high)


class Actor(nn.Module):
    """The DreamerV2 actor: a Normal on [-1, 1]^A truncated to the box, mean tanh(.),
    std 2 sigmoid(./2) + 0.1."""

    def __init__(self, feature_size: int, action_size: int, units: int, layers: int) -> None:
        super().__init__()
        self.net = elu_mlp([feature_size] + [units] * layers + [2 * action_size])

    def forward(self, features: torch.Tensor) -> TruncatedNormal:
        mean, raw_std = self.net(features).float().chunk(2, -1)
        return TruncatedNormal(torch.tanh(mean), 2 * torch.sigmoid(raw_std / 2) + 0.1)

    @staticmethod
    def sample(dist: TruncatedNormal) -> torch.Tensor:
        return dist.rsample()


class ActionMap:
    """Maps the actor's [-1, 1]^A to the env's Box bounds."""

    def __init__(self, space: gym.Space) -> None:
        if not isinstance(space, gym.spaces.Box):
            raise ValueError(f"the Dreamer agent needs a Box action space, got {space}")
        self.low, self.high = space.low.astype(np.float64), space.high.astype(np.float64)
        self.size = int(np.prod(space.shape))

    def to_env(self, action: np.ndarray) -> np.ndarray:
        return (self.low + (action + 1.0) / 2.0 * (self.high - self.low)).astype(np.float32)

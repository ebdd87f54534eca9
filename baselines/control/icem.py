"""Improved cross-entropy method (iCEM; Pinneri et al., CoRL 2020), batched in torch.

One planner solves ``B`` independent problems at once (for instance ``B`` episodes run
in a vector env): every tensor has a leading problem axis. Per planning call:

* sample action sequences as coloured noise (power spectrum ~ 1/f^beta along time,
  beta = 0 white, larger = smoother) around the current mean, scaled by the std;
* iterate: score all sequences with a cost function, refit mean and std to the elites
  with momentum ``alpha``, shrink the population by ``population_decay``, and carry a
  fraction of the elites into the next iteration (and, shifted by one step, into the
  next planning call); the last iteration also scores the mean itself;
* return the first action of the best sequence found, then shift the mean by one
  step for the next call and reset the std.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Optional

import torch

#: (B, N, H, A) action sequences -> (B, N) total costs; lower is better.
CostFunction = Callable[[torch.Tensor], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class ICEMConfig:
    """Planner settings (defaults: the iCEM paper's and the GateL0RD paper's MPC)."""

    horizon: int = 30
    iterations: int = 3
    population: int = 40  # sequences in the first iteration
    population_decay: float = 1.25  # population shrinks by this factor each iteration
    elites: int = 10
    alpha: float = 0.1  # momentum: weight of the old mean/std in the refit
    beta: float = 3.0  # coloured-noise exponent
    init_std: float = 0.5  # initial std as a fraction of half the action range
    keep_elites: float = 0.3  # fraction of elites carried to the next iteration / call
    shift_elites: bool = True  # carry elites, shifted one step, into the next call

    def __post_init__(self) -> None:
        if min(self.horizon, self.iterations, self.population, self.elites) < 1:
            raise ValueError("horizon, iterations, population and elites must be >= 1")
        if self.elites > self.population:
            raise ValueError(f"elites ({self.elites}) must not exceed population ({self.population})")
        if self.population_decay < 1.0:
            raise ValueError("population_decay must be >= 1")
        if not 0.0 <= self.alpha < 1.0 or not 0.0 <= self.keep_elites <= 1.0:
            raise ValueError("alpha must lie in [0, 1) and keep_elites in [0, 1]")
        if self.init_std <= 0 or self.beta < 0:
            raise ValueError("init_std must be > 0 and beta >= 0")

    def population_at(self, iteration: int) -> int:
        """Sequences sampled in ``iteration`` (0-based), never fewer than 2 x elites."""
        return max(2 * self.elites, int(self.population / self.population_decay**iteration))


def colored_noise(
    shape: tuple[int, ...], horizon: int, beta: float, generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    """Gaussian noise of unit variance, shape ``(*shape, horizon)``, whose power
    spectrum along the last axis falls as 1/f^beta.

    Random Fourier coefficients are scaled by f^(-beta/2) and transformed back; the
    lowest frequency is floored at 1/horizon so that the constant component stays
    finite, and the result is normalised by the spectrum's expected variance.
    """
    if beta == 0:
        return torch.randn(*shape, horizon, generator=generator)
    freqs = torch.fft.rfftfreq(horizon)
    scale = freqs.clamp(min=1.0 / horizon) ** (-beta / 2.0)
    real = torch.randn(*shape, len(freqs), generator=generator) * scale
    imag = torch.randn(*shape, len(freqs), generator=generator) * scale
    # The zero (and, for even lengths, the Nyquist) coefficients of a real signal are real.
    imag[..., 0] = 0.0
    real[..., 0] *= math.sqrt(2.0)
    if horizon % 2 == 0:
        imag[..., -1] = 0.0
        real[..., -1] *= math.sqrt(2.0)
    signal = torch.fft.irfft(torch.complex(real, imag), n=horizon)
    # Per-sample variance of that inverse transform, so the result has unit variance.
    power = 4.0 * scale**2
    power[0] = 2.0 * scale[0] ** 2
    if horizon % 2 == 0:
        power[-1] = 2.0 * scale[-1] ** 2
    expected_std = torch.sqrt(power.sum()) / horizon
    return signal / expected_std


class ICEM:
    """Batched iCEM planner over ``batch_size`` problems with box-bounded actions."""

    def __init__(
        self,
        config: ICEMConfig,
        action_low: torch.Tensor,
        action_high: torch.Tensor,
        batch_size: int,
        generator: Optional[torch.Generator] = None,
    ) -> None:
        self.config = config
        self.low = torch.as_tensor(action_low, dtype=torch.float32)
        self.high = torch.as_tensor(action_high, dtype=torch.float32)
        if self.low.shape != self.high.shape or self.low.ndim != 1 or torch.any(self.low >= self.high):
            raise ValueError("action_low and action_high must be 1-d of equal shape with low < high")
        self.batch_size = batch_size
        self.generator = generator
        self.reset()

    @property
    def action_size(self) -> int:
        return len(self.low)

    def reset(self) -> None:
        """Forget the plan: mean at the centre of the action box, std at its initial value."""
        shape = (self.batch_size, self.config.horizon, self.action_size)
        self.mean = ((self.low + self.high) / 2).expand(shape).clone()
        self.std = self._initial_std()
        self._kept: Optional[torch.Tensor] = None  # (B, K, H, A) elites of the last call

    def _initial_std(self) -> torch.Tensor:
        half_range = (self.high - self.low) / 2
        shape = (self.batch_size, self.config.horizon, self.action_size)
        return (self.config.init_std * half_range).expand(shape).clone()

    def _sample(self, count: int) -> torch.Tensor:
        noise = colored_noise(
            (self.batch_size, count, self.action_size), self.config.horizon, self.config.beta, self.generator
        ).transpose(-1, -2)  # (B, N, H, A)
        actions = self.mean[:, None] + self.std[:, None] * noise
        return torch.max(torch.min(actions, self.high), self.low)

    def plan(self, cost_fn: CostFunction) -> torch.Tensor:
        """The first action (B, A) of the cheapest sequence found for each problem."""
        cfg = self.config
        num_keep = int(round(cfg.keep_elites * cfg.elites))
        best_cost = torch.full((self.batch_size,), math.inf)
        best_actions = self.mean.clone()
        carried = self._kept
        elites = None
        for iteration in range(cfg.iterations):
            candidates = [self._sample(cfg.population_at(iteration))]
            if carried is not None and num_keep > 0:
                candidates.append(carried)
            if iteration == cfg.iterations - 1:
                candidates.append(self.mean[:, None])
            actions = torch.cat(candidates, dim=1)
            costs = cost_fn(actions)
            if costs.shape != actions.shape[:2]:
                raise ValueError(
                    f"cost function returned shape {tuple(costs.shape)}, expected {tuple(actions.shape[:2])}"
                )
            costs = torch.nan_to_num(costs, nan=math.inf)
            order = torch.argsort(costs, dim=1)[:, : cfg.elites]
            elites = torch.take_along_dim(actions, order[:, :, None, None], dim=1)
            elite_costs = torch.take_along_dim(costs, order, dim=1)
            improved = elite_costs[:, 0] < best_cost
            best_cost = torch.where(improved, elite_costs[:, 0], best_cost)
            best_actions = torch.where(improved[:, None, None], elites[:, 0], best_actions)
            self.mean = (1 - cfg.alpha) * elites.mean(dim=1) + cfg.alpha * self.mean
            self.std = (1 - cfg.alpha) * elites.std(dim=1, unbiased=False) + cfg.alpha * self.std
            carried = elites[:, :num_keep]
        first_action = best_actions[:, 0].clone()
        self._shift(elites[:, :num_keep] if elites is not None and cfg.shift_elites else None)
        return first_action

    def _shift(self, elites: Optional[torch.Tensor]) -> None:
        """Move the plan one step forward: the mean repeats its last step, the std
        restarts, and carried elites get a freshly sampled last step."""
        self.mean = torch.cat([self.mean[:, 1:], self.mean[:, -1:]], dim=1)
        self.std = self._initial_std()
        if elites is None or elites.shape[1] == 0:
            self._kept = None
            return
        last = self._sample(elites.shape[1])[:, :, -1:]
        self._kept = torch.cat([elites[:, :, 1:], last], dim=2)

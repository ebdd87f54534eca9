"""Sequence predictor shared by all cores: f_pre -> core -> f_post, with f_init.

The model reads x_t = [action_t, observation_t] and predicts the change of the
observation: next_observation = observation_t + output_scale * f_post(core output).
h_0 is set by f_init from the first input.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import torch
from torch import nn

from baselines.cells import GateL0RDCell, TorchRNNCell, gate_activity, mlp

CORES = ("gatel0rd", "lstm", "gru", "elman")


@dataclasses.dataclass(frozen=True)
class PredictorConfig:
    """Sizes of the predictor (defaults: the GateL0RD paper's RRC model)."""

    core: str = "gatel0rd"  # one of CORES
    latent_size: int = 8
    feature_size: int = 8  # width of f_pre's output, the core's input
    pre_layers: int = 3
    init_layers: int = 2
    core_layers: int = 1  # GateL0RD: layers of g and r; RNNs: stacked cells
    gate_noise: float = 0.1
    output_scale: float = 0.1

    def __post_init__(self) -> None:
        if self.core not in CORES:
            raise ValueError(f"core must be one of {CORES}, got {self.core!r}")
        if min(self.latent_size, self.feature_size, self.pre_layers, self.init_layers, self.core_layers) < 1:
            raise ValueError("sizes and layer counts must be >= 1")


class Predictor(nn.Module):
    """Autoregressive next-observation predictor around a recurrent core."""

    def __init__(self, obs_size: int, action_size: int, config: PredictorConfig = PredictorConfig()) -> None:
        super().__init__()
        self.obs_size, self.action_size, self.config = obs_size, action_size, config
        input_size = obs_size + action_size
        feature, latent = config.feature_size, config.latent_size
        self.f_pre = mlp([input_size] + [feature] * config.pre_layers)
        if config.core == "gatel0rd":
            self.core: nn.Module = GateL0RDCell(feature, latent, config.core_layers, config.gate_noise)
            init_size = latent
        else:
            self.core = TorchRNNCell(config.core, feature, latent, config.core_layers)
            init_size = latent * config.core_layers * self.core.states_per_layer
        self.f_init = mlp([input_size] * config.init_layers + [init_size])
        self.f_post = nn.Linear(latent, obs_size)

    def initial_state(self, first_input: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.core.initial_state(self.f_init(first_input))

    def step(
        self, observation: torch.Tensor, action: Optional[torch.Tensor], state: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], Optional[torch.Tensor]]:
        """One step: (next observation prediction, new state, gate values or None)."""
        x = observation if action is None else torch.cat([action, observation], dim=-1)
        output, state, gate = self.core(self.f_pre(x), state)
        return observation + self.config.output_scale * self.f_post(output), state, gate

    def forward(
        self,
        observations: torch.Tensor,
        actions: Optional[torch.Tensor],
        real_input_prob: float = 1.0,
        start_steps: int = 1,
        generator: Optional[torch.Generator] = None,
    ) -> dict[str, torch.Tensor]:
        """Predict observations 1..T from observations (B, T+1, O) and actions (B, T, A).

        The input at step t is the real observation for t < ``start_steps``; after that
        it is the real one with probability ``real_input_prob`` (per sequence and step)
        and the model's own previous prediction otherwise: 1.0 is teacher forcing, 0.0
        autoregressive prediction, values between scheduled sampling.

        Returns ``predictions`` (B, T, O), ``latents`` (B, T, H) after each step,
        ``gates`` (B, T, H), the binary gate activity Theta with straight-through
        gradients (all zeros for cores without gates), and ``gate_values`` (B, T, H).
        """
        batch, num_steps = observations.shape[0], observations.shape[1] - 1
        first = observations[:, 0] if actions is None else torch.cat([actions[:, 0], observations[:, 0]], -1)
        if real_input_prob >= 1.0 and isinstance(self.core, GateL0RDCell):
            return self._teacher_forced(observations, actions, first)
        state = self.initial_state(first)
        predictions, latents, gates = [], [], []
        previous = observations[:, 0]
        for t in range(num_steps):
            real = observations[:, t]
            if t < start_steps or real_input_prob >= 1.0:
                inputs = real
            elif real_input_prob <= 0.0:
                inputs = previous
            else:
                use_real = torch.rand(batch, 1, generator=generator) < real_input_prob
                inputs = torch.where(use_real, real, previous)
            action = None if actions is None else actions[:, t]
            previous, state, gate = self.step(inputs, action, state)
            predictions.append(previous)
            latents.append(self.core.latent(state))
            gates.append(gate if gate is not None else torch.zeros_like(latents[-1][:, : self.config.latent_size]))
        gate_values = torch.stack(gates, dim=1)
        return {
            "predictions": torch.stack(predictions, dim=1),
            "latents": torch.stack(latents, dim=1),
            "gates": gate_activity(gate_values),
            "gate_values": gate_values,
        }

    def _teacher_forced(
        self, observations: torch.Tensor, actions: Optional[torch.Tensor], first: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """``forward`` on real inputs only: every input is known, so the core unrolls
        in one call (GateL0RD's scripted loop)."""
        inputs = observations[:, :-1] if actions is None else torch.cat([actions, observations[:, :-1]], -1)
        features = self.f_pre(inputs).transpose(0, 1)
        outputs, latents, gate_values = self.core.unroll(features, self.f_init(first))
        gate_values = gate_values.transpose(0, 1)
        return {
            "predictions": observations[:, :-1] + self.config.output_scale * self.f_post(outputs.transpose(0, 1)),
            "latents": latents.transpose(0, 1),
            "gates": gate_activity(gate_values),
            "gate_values": gate_values,
        }

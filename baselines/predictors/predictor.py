"""Sequence predictor shared by all cores, shaped as in the GateL0RD paper's code.

The model reads x_t = [action_t, observation_t] and predicts the next observation as a
residual: next_observation = observation_t + output_scale * f_post(core output).

* f_pre: ``pre_layers`` tanh layers of fan-in widths, e.g. [in, 4F, 2F, F] for 3;
* f_init: reads the first ``init_inputs`` (K) inputs, concatenated, through
  ``init_layers`` (W) tanh layers of widths 2^(W-i-1) F, the last one of width H (2H for
  an LSTM); one f_init per stacked RNN layer;
* core: GateL0RD (input F, latent H, g and r of ``internal_layers`` fan-in layers, p and
  o of size F) or ``rnn_layers`` stacked LSTM / GRU / Elman cells (input F, hidden H), or
  the memoryless control ``mlp``: one tanh layer (hidden H) over the last ``window``
  features, without f_init;
* f_post: one linear layer from F (GateL0RD's output) or H (the RNN's hidden state).

The parameter counts of the paper's configurations (``PREDICTOR_ENVS`` in
``baselines.predictors.train``) are tested against the fact sheet.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import torch
from torch import nn

from baselines.cells import GateL0RDCell, TorchRNNCell, WindowCell, fan_in_widths, gate_activity, mlp

CORES = ("gatel0rd", "lstm", "gru", "elman")  # the recurrent cores the benchmarks compare
#: The memoryless control: one tanh layer over the last ``window`` inputs, no f_init.
MEMORYLESS = "mlp"
ALL_CORES = (*CORES, MEMORYLESS)


@dataclasses.dataclass(frozen=True)
class PredictorConfig:
    """Sizes of the predictor (defaults: the GateL0RD paper's RRC model)."""

    core: str = "gatel0rd"  # one of ALL_CORES
    latent_size: int = 8  # H
    feature_size: int = 8  # F: width of f_pre's output, the core's input
    pre_layers: int = 3
    init_layers: int = 2  # W
    init_inputs: int = 1  # K: f_init reads the first K inputs
    internal_layers: int = 1  # GateL0RD: layers of g and r
    rnn_layers: int = 1  # LSTM / GRU / Elman: stacked cells
    gate_noise: float = 0.1
    output_scale: float = 0.1
    window: int = 1  # mlp only: the inputs (f_pre features) it sees, the current one and K - 1 before

    def __post_init__(self) -> None:
        if self.core not in ALL_CORES:
            raise ValueError(f"core must be one of {ALL_CORES}, got {self.core!r}")
        if self.window < 1:
            raise ValueError(f"window must be >= 1, got {self.window}")
        sizes = (
            self.latent_size,
            self.feature_size,
            self.pre_layers,
            self.init_layers,
            self.init_inputs,
            self.internal_layers,
            self.rnn_layers,
        )
        if min(sizes) < 1:
            raise ValueError("sizes and layer counts must be >= 1")

    @property
    def num_inits(self) -> int:
        """How many f_init networks: one per stacked RNN layer, one for GateL0RD, none for
        the memoryless core (an initial state set from the first inputs would be a memory)."""
        if self.core == MEMORYLESS:
            return 0
        return 1 if self.core == "gatel0rd" else self.rnn_layers

    @property
    def init_size(self) -> int:
        """Width of one f_init's output."""
        return 2 * self.latent_size if self.core == "lstm" else self.latent_size


class Predictor(nn.Module):
    """Autoregressive next-observation predictor around a recurrent core."""

    def __init__(self, obs_size: int, action_size: int, config: PredictorConfig = PredictorConfig()) -> None:
        super().__init__()
        self.obs_size, self.action_size, self.config = obs_size, action_size, config
        input_size = obs_size + action_size
        feature, latent = config.feature_size, config.latent_size
        self.f_pre = mlp([input_size, *fan_in_widths(feature, config.pre_layers)])
        init_widths = [config.init_inputs * input_size, *fan_in_widths(feature, config.init_layers)[:-1]]
        self.f_inits = nn.ModuleList(mlp([*init_widths, config.init_size]) for _ in range(config.num_inits))
        if config.core == "gatel0rd":
            self.core: nn.Module = GateL0RDCell(
                feature, latent, config.internal_layers, config.gate_noise, output_size=feature
            )
            self.f_post = nn.Linear(feature, obs_size)
        elif config.core == MEMORYLESS:
            self.core = WindowCell(feature, latent, config.window)
            self.f_post = nn.Linear(latent, obs_size)
        else:
            self.core = TorchRNNCell(config.core, feature, latent, config.rnn_layers)
            self.f_post = nn.Linear(latent, obs_size)

    def inputs(self, observations: torch.Tensor, actions: Optional[torch.Tensor]) -> torch.Tensor:
        """[action, observation] per step (..., T, A + O), or the observations alone."""
        return observations if actions is None else torch.cat([actions, observations], dim=-1)

    def initial_state(self, first_inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """h_0 from the first K inputs (B, K, A + O)."""
        flat = first_inputs.reshape(first_inputs.shape[0], -1)
        if not self.f_inits:
            return self.core.initial_state(flat[:, :0])
        return self.core.initial_state(torch.cat([f_init(flat) for f_init in self.f_inits], dim=-1))

    def step(
        self,
        observation: torch.Tensor,
        action: Optional[torch.Tensor],
        state: tuple[torch.Tensor, ...],
        noise: Optional[torch.Tensor] = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], Optional[torch.Tensor]]:
        """One step: (next observation prediction, new state, gate values or None)."""
        features = self.f_pre(self.inputs(observation, action))
        if isinstance(self.core, GateL0RDCell):
            output, state, gate = self.core(features, state, noise)
        else:
            output, state, gate = self.core(features, state)
        return observation + self.config.output_scale * self.f_post(output), state, gate

    def forward(
        self,
        observations: torch.Tensor,
        actions: Optional[torch.Tensor],
        real_input_prob: float = 1.0,
        start_steps: int = 1,
        generator: Optional[torch.Generator] = None,
        noise: Optional[torch.Tensor] = None,
        use_real: Optional[torch.Tensor] = None,
    ) -> dict[str, torch.Tensor]:
        """Predict observations 1..T from observations (B, T+1, O) and actions (B, T, A).

        The input at step t is the real observation for t < ``start_steps`` (at least
        ``init_inputs``); after that it is the real one where ``use_real`` (B, T) is
        True and the model's own previous prediction elsewhere. Without ``use_real`` it
        is drawn with probability ``real_input_prob`` per sequence and step from
        ``generator``: 1.0 is teacher forcing, 0.0 autoregressive prediction, values
        between scheduled sampling. ``noise`` (B, T, H) is the gate noise (GateL0RD in
        training mode; drawn from torch's generator when None).

        Returns ``predictions`` (B, T, O), ``latents`` (B, T, H) after each step (an
        LSTM's hidden and cell state: 2H), ``gates`` (B, T, H), the binary gate activity
        Theta with straight-through gradients (all zeros for cores without gates), and
        ``gate_values`` (B, T, H).
        """
        batch, num_steps = observations.shape[0], observations.shape[1] - 1
        start_steps = max(start_steps, self.config.init_inputs)
        if use_real is None:
            use_real = sample_real_inputs(batch, num_steps, real_input_prob, generator, observations.device)
        inputs = self.inputs(observations[:, :-1], actions)
        state = self.initial_state(inputs[:, : self.config.init_inputs])
        predictions, latents, gates = [], [], []
        previous = observations[:, 0]
        for t in range(num_steps):
            real = observations[:, t]
            if t < start_steps:
                step_input = real
            else:
                step_input = torch.where(use_real[:, t, None], real, previous)
            action = None if actions is None else actions[:, t]
            step_noise = None if noise is None else noise[:, t]
            previous, state, gate = self.step(step_input, action, state, step_noise)
            predictions.append(previous)
            latents.append(self.core.latent(state))
            gates.append(gate if gate is not None else observations.new_zeros(batch, self.config.latent_size))
        gate_values = torch.stack(gates, dim=1)
        return {
            "predictions": torch.stack(predictions, dim=1),
            "latents": torch.stack(latents, dim=1),
            "gates": gate_activity(gate_values),
            "gate_values": gate_values,
        }


def sample_real_inputs(
    batch: int,
    num_steps: int,
    real_input_prob: float,
    generator: Optional[torch.Generator] = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """(B, T) bool: where scheduled sampling feeds the real observation. Draws from
    ``generator`` only for probabilities strictly between 0 and 1."""
    if real_input_prob >= 1.0:
        return torch.ones(batch, num_steps, dtype=torch.bool, device=device)
    if real_input_prob <= 0.0:
        return torch.zeros(batch, num_steps, dtype=torch.bool, device=device)
    return torch.rand(batch, num_steps, generator=generator, device=device) < real_input_prob


def count_parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())

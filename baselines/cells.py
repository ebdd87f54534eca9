"""Recurrent cores with one step interface: GateL0RD, LSTM, GRU and Elman RNN.

Every core maps ``(x_t, state) -> (output_t, state, gate_t)`` where ``x_t`` is
(B, input_size), ``output_t`` is (B, hidden_size) and ``gate_t`` is GateL0RD's gate
value in [0, 1) per latent dimension (B, hidden_size), None for the other cores.
``gate_activity`` turns gate values into the binary updates the L0 penalty counts. ``latent(state)``
returns the latent vector h_t that metrics and probes read.
"""

from __future__ import annotations

import warnings
from typing import Optional

import torch
from torch import nn

State = tuple[torch.Tensor, ...]


def mlp(sizes: list[int], activation: type[nn.Module] = nn.Tanh, last_activation: bool = True) -> nn.Sequential:
    """Linear layers between consecutive ``sizes``, each followed by ``activation``."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if last_activation or i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class HeavisideST(torch.autograd.Function):
    """Step function Theta(x) = [x > 0] whose backward pass is the identity
    (straight-through estimator), so the L0 penalty trains the gate network."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad_output


def gate_activity(gates: torch.Tensor) -> torch.Tensor:
    """Theta(gate): 1 where a latent dimension updates, with straight-through gradients.

    Applied once to a whole sequence of gates rather than per step, which keeps the
    unrolled loop short.
    """
    return HeavisideST.apply(gates)


class GateL0RDCell(nn.Module):
    """Gated L0 Regularized Dynamics (Gumbsch, Butz and Martius, NeurIPS 2021).

    gate input s = g([x, h_prev]) + noise (N(0, gate_noise^2), training only);
    gate = ReTanh(s) = max(0, tanh(s)); h = h_prev + gate * (r([x, h_prev]) - h_prev)
    with r a tanh MLP; output = tanh(p([x, h])) * sigmoid(o([x, h])).
    Where the gate is exactly 0 the latent is copied, bit for bit.
    """

    def __init__(
        self, input_size: int, hidden_size: int, internal_layers: int = 1, gate_noise: float = 0.1
    ) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.gate_noise = input_size, hidden_size, gate_noise
        joint = input_size + hidden_size
        widths = [joint] * internal_layers + [hidden_size]
        self.gate_net = mlp(widths, last_activation=False)  # linear output
        self.recommend_net = mlp(widths)  # tanh output
        # p (tanh branch) and o (sigmoid branch) in one layer: one matmul per step.
        self.output_net = nn.Linear(joint, 2 * hidden_size)

    def initial_state(self, h0: torch.Tensor) -> State:
        return (h0,)

    @staticmethod
    def latent(state: State) -> torch.Tensor:
        return state[0]

    def unroll(self, inputs: torch.Tensor, h0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run a whole sequence of known inputs (T, B, input_size) from h0 (B, H).

        Returns outputs, latents and gate values, each (T, B, H). Same results as
        stepping ``forward``; with one internal layer it runs as a TorchScript loop,
        which is several times faster to differentiate than the Python loop.
        """
        noise_scale = self.gate_noise if self.training else 0.0
        noise = noise_scale * torch.randn(inputs.shape[:-1] + (self.hidden_size,))
        if len(self.gate_net) == 1:
            gate_layer, recommend_layer = self.gate_net[0], self.recommend_net[0]
            return _unroll_single_layer(
                inputs,
                h0,
                noise,
                torch.cat([gate_layer.weight, recommend_layer.weight]),
                torch.cat([gate_layer.bias, recommend_layer.bias]),
                self.output_net.weight,
                self.output_net.bias,
            )
        outputs, latents, gates = [], [], []
        state: State = (h0,)
        for x, eps in zip(inputs.unbind(0), noise.unbind(0)):
            output, state, gate = self._step(x, state, eps)
            outputs.append(output)
            latents.append(state[0])
            gates.append(gate)
        return torch.stack(outputs), torch.stack(latents), torch.stack(gates)

    def forward(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State, Optional[torch.Tensor]]:
        noise = self.gate_noise * torch.randn(x.shape[0], self.hidden_size) if self.training else None
        return self._step(x, state, noise)

    def _step(
        self, x: torch.Tensor, state: State, noise: Optional[torch.Tensor]
    ) -> tuple[torch.Tensor, State, torch.Tensor]:
        (h_prev,) = state
        joint = torch.cat([x, h_prev], dim=-1)
        s = self.gate_net(joint)
        if noise is not None:
            s = s + noise
        gate = torch.relu(torch.tanh(s))
        candidate = self.recommend_net(joint)
        h = torch.where(gate > 0, h_prev + gate * (candidate - h_prev), h_prev)
        p, o = self.output_net(torch.cat([x, h], dim=-1)).chunk(2, dim=-1)
        output = torch.tanh(p) * torch.sigmoid(o)
        return output, (h,), gate


def _scripted(function):
    """TorchScript ``function`` when this torch still can; else use it as it is.

    torch.compile would also fuse the loop but compiles for minutes per sequence
    length on a CPU; TorchScript needs a few warm-up calls.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.10 deprecates it
        try:
            return torch.jit.script(function)
        except (AttributeError, RuntimeError):
            return function


def _unroll_single_layer(
    inputs: torch.Tensor,
    h: torch.Tensor,
    noise: torch.Tensor,
    gate_recommend_weight: torch.Tensor,
    gate_recommend_bias: torch.Tensor,
    output_weight: torch.Tensor,
    output_bias: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """GateL0RDCell._step over a sequence, for one-layer g and r (fused into one matmul)."""
    outputs, latents, gates = [], [], []
    # unbind, not inputs[t]: indexing's backward writes a full-size gradient per step.
    steps, step_noise = inputs.unbind(0), noise.unbind(0)
    for t in range(len(steps)):
        x = steps[t]
        joint = torch.cat([x, h], -1)
        s, candidate = torch.nn.functional.linear(joint, gate_recommend_weight, gate_recommend_bias).chunk(2, -1)
        gate = torch.relu(torch.tanh(s + step_noise[t]))
        h = torch.where(gate > 0, h + gate * (torch.tanh(candidate) - h), h)
        p, o = torch.nn.functional.linear(torch.cat([x, h], -1), output_weight, output_bias).chunk(2, -1)
        outputs.append(torch.tanh(p) * torch.sigmoid(o))
        latents.append(h)
        gates.append(gate)
    return torch.stack(outputs), torch.stack(latents), torch.stack(gates)


_unroll_single_layer = _scripted(_unroll_single_layer)


class TorchRNNCell(nn.Module):
    """A stack of torch LSTM, GRU or Elman (tanh) cells behind the common interface."""

    kinds = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "elman": nn.RNNCell}

    def __init__(self, kind: str, input_size: int, hidden_size: int, num_layers: int = 1) -> None:
        super().__init__()
        if kind not in self.kinds:
            raise ValueError(f"unknown cell kind {kind!r}; choose from {sorted(self.kinds)}")
        self.kind, self.hidden_size, self.num_layers = kind, hidden_size, num_layers
        sizes = [input_size] + [hidden_size] * num_layers
        self.cells = nn.ModuleList(self.kinds[kind](a, b) for a, b in zip(sizes, sizes[1:]))

    @property
    def states_per_layer(self) -> int:
        return 2 if self.kind == "lstm" else 1

    def initial_state(self, h0: torch.Tensor) -> State:
        """``h0`` is (B, states_per_layer * num_layers * hidden_size), split per layer."""
        return tuple(h0.split(self.hidden_size, dim=-1))

    def latent(self, state: State) -> torch.Tensor:
        # The top layer's hidden state, and the LSTM's cell state (its memory) beside it.
        return torch.cat(state[-self.states_per_layer:], dim=-1)

    def forward(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State, Optional[torch.Tensor]]:
        new_state: list[torch.Tensor] = []
        inputs = x
        k = self.states_per_layer
        for layer, cell in enumerate(self.cells):
            if k == 2:
                h, c = cell(inputs, (state[2 * layer], state[2 * layer + 1]))
                new_state += [h, c]
            else:
                h = cell(inputs, state[layer])
                new_state.append(h)
            inputs = h
        return inputs, tuple(new_state), None

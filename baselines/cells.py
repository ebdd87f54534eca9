"""Recurrent cores with one step interface: GateL0RD, LSTM, GRU and Elman RNN, and a
memoryless window of the last inputs as their control.

Every core maps ``(x_t, state) -> (output_t, state, gate_t)`` where ``x_t`` is
(B, input_size), ``output_t`` is (B, hidden_size) and ``gate_t`` is GateL0RD's gate
value in [0, 1) per latent dimension (B, hidden_size), None for the other cores.
``gate_activity`` turns gate values into the binary updates the L0 penalty counts.
``latent(state)`` returns the latent vector h_t that metrics and probes read.
"""

from __future__ import annotations

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


def fan_in_widths(width: int, layers: int) -> list[int]:
    """The GateL0RD paper's "fan-in" widths: layer i of ``layers`` has
    ``2 ** (layers - i - 1) * width`` units, e.g. [4F, 2F, F] for 3 layers."""
    return [width * 2 ** (layers - i - 1) for i in range(layers)]


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

    With z = [x, h_prev]: gate input s = g(z) + noise (N(0, gate_noise^2), training
    only); gate = ReTanh(s) = max(0, tanh(s)); h = h_prev + gate * (r(z) - h_prev) with
    r a tanh MLP; output = tanh(p([x, h])) * sigmoid(o([x, h])). Where the gate is
    exactly 0 the latent is copied, bit for bit. As in the paper's code, g and r have
    ``internal_layers`` layers of fan-in widths 2^(n-i-1) H (tanh between g's layers,
    after each of r's), and p and o map to ``output_size`` (default H).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        internal_layers: int = 1,
        gate_noise: float = 0.1,
        output_size: Optional[int] = None,
    ) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.gate_noise = input_size, hidden_size, gate_noise
        self.output_size = hidden_size if output_size is None else output_size
        joint = input_size + hidden_size
        widths = [joint, *fan_in_widths(hidden_size, internal_layers)]
        self.gate_net = mlp(widths, last_activation=False)  # linear output
        self.recommend_net = mlp(widths)  # tanh output
        # p (tanh branch) and o (sigmoid branch) in one layer: one matmul per step.
        self.output_net = nn.Linear(joint, 2 * self.output_size)

    def initial_state(self, h0: torch.Tensor) -> State:
        return (h0,)

    @staticmethod
    def latent(state: State) -> torch.Tensor:
        return state[0]

    def forward(
        self, x: torch.Tensor, state: State, noise: Optional[torch.Tensor] = None
    ) -> tuple[torch.Tensor, State, Optional[torch.Tensor]]:
        """One step. ``noise`` (B, H) is added to the gate input as given; when it is
        None, training mode draws it from torch's global generator."""
        if noise is None and self.training and self.gate_noise > 0:
            noise = self.gate_noise * torch.randn(x.shape[0], self.hidden_size, device=x.device)
        (h_prev,) = state
        joint = torch.cat([x, h_prev], dim=-1)
        s = self.gate_net(joint)
        if noise is not None:
            s = s + noise
        gate = torch.relu(torch.tanh(s))
        h = h_prev + gate * (self.recommend_net(joint) - h_prev)
        p, o = self.output_net(torch.cat([x, h], dim=-1)).chunk(2, dim=-1)
        output = torch.tanh(p) * torch.sigmoid(o)
        return output, (h,), gate


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
        return torch.cat(state[-self.states_per_layer :], dim=-1)

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


class WindowCell(nn.Module):
    """A memoryless core behind the same interface: output = tanh(W [x_{t-K+1}, ..., x_t] + b),
    one layer over the last ``window`` inputs (1: the current input alone), zeros standing
    in for inputs before the start. The state holds the window's earlier inputs and the
    last output, which ``latent`` returns; nothing older than the window reaches the output,
    so it is the control that shows what memory adds."""

    def __init__(self, input_size: int, hidden_size: int, window: int = 1) -> None:
        super().__init__()
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.input_size, self.hidden_size, self.window = input_size, hidden_size, window
        self.layer = nn.Linear(window * input_size, hidden_size)

    def initial_state(self, h0: torch.Tensor) -> State:
        """Zeros for a batch of ``h0``'s size (its values are not read: nothing is remembered)."""
        batch = h0.shape[0]
        return (h0.new_zeros(batch, (self.window - 1) * self.input_size), h0.new_zeros(batch, self.hidden_size))

    @staticmethod
    def latent(state: State) -> torch.Tensor:
        return state[1]

    def forward(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State, Optional[torch.Tensor]]:
        joint = torch.cat([state[0], x], dim=-1)
        output = torch.tanh(self.layer(joint))
        return output, (joint[:, self.input_size :], output), None

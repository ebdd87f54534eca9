"""GateL0RD's step and its gradient, by hand, for ``baselines.predictors.by_hand``.

Per step, with z = [x_t, h_{t-1}]: s = g(z) + noise, gate = relu(tanh(s)), candidate =
r(z), h_t = h_{t-1} + gate * (candidate - h_{t-1}), output = tanh(p([x_t, h_t])) *
sigmoid(o([x_t, h_t])); the penalty lambda * mean(Theta) with Theta = [gate > 0] and the
straight-through gradient into the gate.
"""

from __future__ import annotations

from typing import Optional

import torch

from baselines.predictors.by_hand import Chain, PredictorGradients
from baselines.predictors.stacked import StackedPredictor


class GateL0RDGradients(PredictorGradients):
    """The per-run loss of a stacked GateL0RD predictor and its gradient, by hand."""

    cores = ("gatel0rd",)

    def __init__(self, stacked: StackedPredictor) -> None:
        super().__init__(stacked)
        layout = stacked.layout
        self.gate = Chain(layout.gate, tanh_last=False)
        self.recommend = Chain(layout.recommend)
        self.output = Chain([layout.output], tanh_last=False)  # [p, o]: their activations applied here

    def core_chains(self) -> list[Chain]:
        return [self.gate, self.recommend, self.output]

    def core_prepare(self, runs: int, num_steps: int, batch: int) -> None:
        features, latent = self.features, self.latent

        def buffer(key: str, *shape: int) -> torch.Tensor:
            return self.buffers.get(self, key, shape)

        self.joint_before = buffer("joint_before", num_steps, runs, features + latent, batch)  # [x_t, h_{t-1}]
        self.joint_after = buffer("joint_after", num_steps, runs, features + latent, batch)  # [x_t, h_t]
        self.gates = buffer("gates", num_steps, runs, latent, batch)
        self.outputs = buffer("outputs", num_steps, runs, features, batch)
        self.num_steps = num_steps
        self.grad_h = buffer("grad_h", runs, latent, batch)  # at h_t, from step t + 1
        self.grad_before = buffer("grad_before", runs, features + latent, batch)
        self.grad_x = buffer("grad_x", runs, features, batch)
        self.grad_h_total = buffer("grad_h_total", runs, latent, batch)
        self.grad_gate = buffer("grad_gate", runs, latent, batch)
        self.grad_s = buffer("grad_s", runs, latent, batch)
        self.grad_candidate = buffer("grad_candidate", runs, latent, batch)
        self.grad_p_and_o = buffer("grad_p_and_o", runs, 2 * features, batch)
        self.product = buffer("product", runs, features, batch)

    def core_start(self, initial: list[torch.Tensor]) -> None:
        (h_0,) = initial
        self.joint_before[0][:, self.features :].copy_(h_0)
        self.grad_h.zero_()

    def core_forward(self, t: int, x: torch.Tensor, noise: Optional[torch.Tensor]) -> torch.Tensor:
        features = self.features
        before, after = self.joint_before[t], self.joint_after[t]
        before[:, :features].copy_(x)
        after[:, :features].copy_(x)
        h_previous = before[:, features:]
        s = self.gate.forward(t, before)
        candidate = self.recommend.forward(t, before)
        if noise is not None:
            s.add_(noise)
        # The exact tanh on the gate, so that it is 0 exactly where the plain cell's is.
        torch.tanh(s, out=self.gates[t]).relu_()
        h = after[:, features:]
        torch.sub(candidate, h_previous, out=h)
        h.mul_(self.gates[t]).add_(h_previous)
        if t + 1 < self.num_steps:
            self.joint_before[t + 1][:, features:].copy_(h)
        p_and_o = self.output.forward(t, after)
        tanh_p = p_and_o[:, :features].mul_(2.0).sigmoid_().mul_(2.0).sub_(1.0)
        sigmoid_o = p_and_o[:, features:].sigmoid_()
        return torch.mul(tanh_p, sigmoid_o, out=self.outputs[t])

    def core_penalty(self, lambdas: torch.Tensor, batch: int, num_steps: int) -> torch.Tensor:
        openings = self.gates.sign().sum(dim=(0, 2, 3))  # gates >= 0: the count of open ones, exactly
        scale = lambdas / (batch * num_steps * self.latent)
        self.grad_gate_penalty = scale.reshape(-1, 1, 1)
        return lambdas * openings / (batch * num_steps * self.latent)

    def core_backward(self, t: int, grad_output: torch.Tensor) -> torch.Tensor:
        features = self.features
        # output = tanh(p) * sigmoid(o)
        p_and_o = self.output.activations[0][t]
        tanh_p, sigmoid_o = p_and_o[:, :features], p_and_o[:, features:]
        grad_p, grad_o = self.grad_p_and_o[:, :features], self.grad_p_and_o[:, features:]
        product = self.product
        torch.mul(grad_output, sigmoid_o, out=grad_p)  # at tanh(p)
        torch.mul(grad_p, tanh_p, out=product)
        torch.addcmul(grad_p, product, tanh_p, value=-1.0, out=grad_p)  # d tanh = 1 - tanh^2
        torch.mul(grad_output, tanh_p, out=product)  # at sigmoid(o)
        torch.mul(product, sigmoid_o, out=grad_o)
        torch.addcmul(grad_o, grad_o, sigmoid_o, value=-1.0, out=grad_o)  # d sigmoid = s (1 - s)
        after, before = self.joint_after[t], self.joint_before[t]
        grad_after = self.output.backward(t, after, self.grad_p_and_o)
        # h = h_prev + gate * (candidate - h_prev)
        grad_h, grad_h_total, grad_x = self.grad_h, self.grad_h_total, self.grad_x
        torch.add(grad_after[:, features:], grad_h, out=grad_h_total)
        grad_x.copy_(grad_after[:, :features])
        gate, candidate, h_previous = self.gates[t], self.recommend.activations[-1][t], before[:, features:]
        grad_gate, grad_s, grad_candidate = self.grad_gate, self.grad_s, self.grad_candidate
        torch.sub(candidate, h_previous, out=grad_gate)
        grad_gate.mul_(grad_h_total).add_(self.grad_gate_penalty)  # + the penalty's straight-through gradient
        torch.mul(grad_h_total, gate, out=grad_candidate)
        torch.sub(grad_h_total, grad_candidate, out=grad_h)  # d/d h_prev of the copy
        # gate = relu(tanh(s)): d = 1 - gate^2 where the gate is open, else 0
        torch.mul(grad_gate, gate, out=grad_s)
        torch.addcmul(grad_gate, grad_s, gate, value=-1.0, out=grad_s)
        grad_s.mul_(gate > 0)
        self.grad_before.copy_(self.gate.backward(t, before, grad_s))
        self.grad_before.add_(self.recommend.backward(t, before, grad_candidate))
        grad_h.add_(self.grad_before[:, features:])
        grad_x.add_(self.grad_before[:, :features])
        return grad_x

    def core_initial_gradients(self) -> list[torch.Tensor]:
        return [self.grad_h]

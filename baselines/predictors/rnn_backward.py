"""The RNN baselines' steps and their gradients, by hand, for ``baselines.predictors.by_hand``.

Each of ``rnn_layers`` stacked cells reads x (f_pre's features, or the hidden state of
the layer below) and its own h_{t-1}, with torch's equations and parameters
(``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``; gi = W_ih x + b_ih, gh = W_hh h + b_hh):

* Elman: h = tanh(gi + gh);
* GRU: r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r * gh_n),
  h = n + z * (h_{t-1} - n);
* LSTM: i, f, g, o from gi + gh, c = sigmoid(f) c_{t-1} + sigmoid(i) tanh(g),
  h = sigmoid(o) tanh(c).

f_post reads the top layer's h; each layer's f_init sets its h_0 (an LSTM's: h_0 and c_0).
"""

from __future__ import annotations

from typing import Optional

import torch

from baselines.predictors.by_hand import Layer, PredictorGradients
from baselines.predictors.stacked import StackedPredictor


def _tanh_(x: torch.Tensor) -> torch.Tensor:
    """tanh in place through sigmoid (several times cheaper on a CPU, as the autograd path's)."""
    return x.mul_(2.0).sigmoid_().mul_(2.0).sub_(1.0)


def _sigmoid_gradient_(grad: torch.Tensor, s: torch.Tensor) -> None:
    """``grad`` at s = sigmoid(y) becomes the gradient at y: grad s (1 - s)."""
    grad.mul_(s)
    grad.addcmul_(grad, s, value=-1.0)


class RNNGradients(PredictorGradients):
    """The per-run loss of a stacked LSTM, GRU or Elman predictor and its gradient, by hand."""

    cores = ("lstm", "gru", "elman")

    def __init__(self, stacked: StackedPredictor) -> None:
        super().__init__(stacked)
        self.kind = stacked.config.core
        self.cells = [(Layer(w_ih, b_ih), Layer(w_hh, b_hh)) for w_ih, w_hh, b_ih, b_hh in stacked.layout.cells]

    def core_layers(self) -> list[Layer]:
        return [layer for cell in self.cells for layer in cell]

    def core_prepare(self, runs: int, num_steps: int, batch: int) -> None:
        hidden, width = self.latent, {"lstm": 4, "gru": 3, "elman": 1}[self.kind] * self.latent

        def buffer(key: tuple, *shape: int) -> torch.Tensor:
            return self.buffers.get(self, key, shape)

        layers = range(len(self.cells))
        # Per layer, time major: h (slot 0 is h_0, slot t + 1 the state after step t) and
        # each step's activated gates; the GRU's gh (its n gate reads r * gh_n), the
        # LSTM's c (slots as h's) and tanh(c).
        self.hidden = [buffer(("h", layer), num_steps + 1, runs, hidden, batch) for layer in layers]
        self.acts = [buffer(("a", layer), num_steps, runs, width, batch) for layer in layers]
        if self.kind == "gru":
            self.gh = [buffer(("gh", layer), num_steps, runs, width, batch) for layer in layers]
        if self.kind == "lstm":
            self.cell = [buffer(("c", layer), num_steps + 1, runs, hidden, batch) for layer in layers]
            self.tanh_cell = [buffer(("tc", layer), num_steps, runs, hidden, batch) for layer in layers]
            self.grad_c = [buffer(("dc", layer), runs, hidden, batch) for layer in layers]
        self.inputs: list[torch.Tensor] = []  # layer 0's input per step (f_pre's activation)
        # Gradients: at h_t from step t + 1 (per layer), at the gates' pre-activations
        # (gi's, and the GRU's gh's), at the layer below.
        self.grad_h = [buffer(("dh", layer), runs, hidden, batch) for layer in layers]
        self.grad_total = buffer("dh_total", runs, hidden, batch)
        self.grad_gi = buffer("dgi", runs, width, batch)
        self.grad_gh = buffer("dgh", runs, width, batch) if self.kind == "gru" else self.grad_gi
        self.grad_x = [
            buffer(("dx", layer), runs, self.cells[layer][0].forward_weight.shape[2], batch) for layer in layers
        ]
        self.scratch = buffer("scratch", runs, hidden, batch)

    def core_start(self, initial: list[torch.Tensor]) -> None:
        hidden = self.latent
        for layer, h_0 in enumerate(initial):
            if self.kind == "lstm":  # f_init gives [h_0, c_0]
                self.hidden[layer][0].copy_(h_0[:, :hidden])
                self.cell[layer][0].copy_(h_0[:, hidden:])
                self.grad_c[layer].zero_()
            else:
                self.hidden[layer][0].copy_(h_0)
            self.grad_h[layer].zero_()
        self.inputs = []

    def core_forward(self, t: int, x: torch.Tensor, noise: Optional[torch.Tensor]) -> torch.Tensor:
        hidden = self.latent
        self.inputs.append(x)
        for layer, (ih, hh) in enumerate(self.cells):
            h_previous, h = self.hidden[layer][t], self.hidden[layer][t + 1]
            a = self.acts[layer][t]
            ih.forward(x, a)
            if self.kind == "gru":
                gh = self.gh[layer][t]
                hh.forward(h_previous, gh)
                r_and_z = a[:, : 2 * hidden].add_(gh[:, : 2 * hidden]).sigmoid_()
                r, z = r_and_z[:, :hidden], r_and_z[:, hidden:]
                n = _tanh_(a[:, 2 * hidden :].addcmul_(r, gh[:, 2 * hidden :]))
                torch.sub(h_previous, n, out=h)
                h.mul_(z).add_(n)
            else:
                a.baddbmm_(hh.forward_weight, h_previous).add_(hh.bias_column)
                if self.kind == "elman":
                    h.copy_(_tanh_(a))
                else:
                    a[:, : 2 * hidden].sigmoid_()  # i, f
                    _tanh_(a[:, 2 * hidden : 3 * hidden])  # g
                    a[:, 3 * hidden :].sigmoid_()  # o
                    i, f, g, o = a.chunk(4, dim=1)
                    c = self.cell[layer][t + 1]
                    torch.mul(f, self.cell[layer][t], out=c).addcmul_(i, g)
                    tanh_c = _tanh_(self.tanh_cell[layer][t].copy_(c))
                    torch.mul(o, tanh_c, out=h)
            x = h
        return x

    def core_backward(self, t: int, grad_output: torch.Tensor) -> torch.Tensor:
        hidden = self.latent
        grad_from_above = grad_output  # at this layer's h_t, from the layer above (or f_post)
        total, grad_gi, grad_gh, scratch = self.grad_total, self.grad_gi, self.grad_gh, self.scratch
        for layer in reversed(range(len(self.cells))):
            ih, hh = self.cells[layer]
            h_previous, h, a = self.hidden[layer][t], self.hidden[layer][t + 1], self.acts[layer][t]
            torch.add(self.grad_h[layer], grad_from_above, out=total)
            if self.kind == "elman":  # d tanh = 1 - h^2
                torch.mul(total, h, out=grad_gi)
                torch.addcmul(total, grad_gi, h, value=-1.0, out=grad_gi)
            elif self.kind == "gru":
                r, z, n = a.chunk(3, dim=1)
                grad_r, grad_z, grad_n = grad_gi.chunk(3, dim=1)
                # h = n + z (h_prev - n)
                torch.sub(h_previous, n, out=grad_z)
                grad_z.mul_(total)  # at z
                torch.mul(total, z, out=self.grad_h[layer])  # at h_prev, directly
                torch.sub(total, self.grad_h[layer], out=grad_n)  # at n: total (1 - z)
                torch.mul(grad_n, n, out=scratch)
                grad_n.addcmul_(scratch, n, value=-1.0)  # at n's pre-activation: d tanh
                torch.mul(grad_n, self.gh[layer][t][:, 2 * hidden :], out=grad_r)  # at r
                _sigmoid_gradient_(grad_r, r)
                _sigmoid_gradient_(grad_z, z)
                grad_gh[:, : 2 * hidden].copy_(grad_gi[:, : 2 * hidden])
                torch.mul(grad_n, r, out=grad_gh[:, 2 * hidden :])  # gh_n enters as r * gh_n
            else:  # LSTM
                i, f, g, o = a.chunk(4, dim=1)
                grad_i, grad_f, grad_g, grad_o = grad_gi.chunk(4, dim=1)
                tanh_c, grad_c = self.tanh_cell[layer][t], self.grad_c[layer]
                torch.mul(total, tanh_c, out=grad_o)  # at o
                # at c: from c_{t+1} and through h = o tanh(c)
                torch.mul(total, o, out=scratch)
                grad_c.add_(scratch).addcmul_(scratch, tanh_c.square(), value=-1.0)
                torch.mul(grad_c, g, out=grad_i)
                torch.mul(grad_c, self.cell[layer][t], out=grad_f)
                torch.mul(grad_c, i, out=grad_g)
                grad_c.mul_(f)  # at c_{t-1}
                for grad, s in ((grad_i, i), (grad_f, f), (grad_o, o)):
                    _sigmoid_gradient_(grad, s)
                torch.mul(grad_g, g, out=scratch)
                grad_g.addcmul_(scratch, g, value=-1.0)  # d tanh = 1 - g^2
            layer_input = self.inputs[t] if layer == 0 else self.hidden[layer - 1][t + 1]
            ih.accumulate(layer_input, grad_gi)
            hh.accumulate(h_previous, grad_gh)
            if self.kind == "gru":
                self.grad_h[layer].baddbmm_(hh.backward_weight, grad_gh)
            else:
                hh.input_gradient(grad_gh, self.grad_h[layer])
            grad_from_above = ih.input_gradient(grad_gi, self.grad_x[layer])
        return grad_from_above

    def core_initial_gradients(self) -> list[torch.Tensor]:
        if self.kind == "lstm":  # f_init's output is [h_0, c_0]
            return [torch.cat([grad_h, grad_c], dim=1) for grad_h, grad_c in zip(self.grad_h, self.grad_c)]
        return self.grad_h

"""R predictors trained as one: weights stacked on a leading run axis.

The small models of the GateL0RD paper spend their time on per-op overhead, not on
arithmetic, so training many runs at once (seeds, lambdas, learning rates) in one graph
of batched matmuls (``torch.baddbmm``) multiplies the throughput per run. Every run
keeps its own weights, data order, gate noise, scheduled-sampling draws, Adam state and
gradient-norm clipping, so a run trained among R gives the numbers it gives alone
(``tests/test_stacked.py`` checks R = 1 against the plain ``Predictor`` trainer).

All parameters live in one flat (R, P) buffer, and their gradients in another, so that
Adam and the per-run clipping are a handful of ops whatever the model. The forward pass
here serves evaluation and autograd; the training step of GateL0RD and the RNNs writes
its gradients into the flat buffer by hand (``baselines.predictors.by_hand``).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from baselines.cells import GateL0RDCell, HeavisideST, WindowCell
from baselines.predictors.predictor import MEMORYLESS, Predictor


def _tanh(x: torch.Tensor) -> torch.Tensor:
    # tanh through sigmoid: several times cheaper per element on a CPU.
    return 2.0 * torch.sigmoid(2.0 * x) - 1.0


class StackedPredictor(nn.Module):
    """The predictors ``models`` (one config, one size) with stacked weights."""

    def __init__(self, models: list[Predictor]) -> None:
        super().__init__()
        if not models:
            raise ValueError("need at least one model")
        first = models[0]
        self.config, self.obs_size, self.action_size = first.config, first.obs_size, first.action_size
        if any(
            m.config != self.config or m.obs_size != self.obs_size or m.action_size != self.action_size for m in models
        ):
            raise ValueError("stacked models must share config, observation and action sizes")
        self.num_runs = len(models)
        names = [name for name, _ in first.named_parameters()]
        shapes = {name: p.shape for name, p in first.named_parameters()}
        sizes = [shapes[name].numel() for name in names]
        self.param_names = names
        flat = torch.cat(
            [torch.cat([dict(m.named_parameters())[n].detach().reshape(1, -1) for n in names], 1) for m in models]
        )
        self.flat = flat.to(next(first.parameters()).device)
        self.flat_grad = torch.zeros_like(self.flat)
        self.params: dict[str, torch.Tensor] = {}
        offset = 0
        for name, size in zip(names, sizes):
            view = nn.Parameter(self.flat[:, offset : offset + size].view(self.num_runs, *shapes[name]))
            view.grad = self.flat_grad[:, offset : offset + size].view(self.num_runs, *shapes[name])
            self.register_parameter(name.replace(".", "__"), view)
            self.params[name] = view
            offset += size
        self.layout = ParameterLayout(first)

    def run_state_dict(self, run: int) -> dict[str, torch.Tensor]:
        """Run ``run``'s weights as a ``Predictor`` state dict."""
        return {name: self.params[name][run].detach().clone() for name in self.param_names}

    def zero_grad(self, set_to_none: bool = False) -> None:  # noqa: ARG002 (the buffers stay)
        self.flat_grad.zero_()

    def forward(
        self,
        observations: torch.Tensor,
        actions: Optional[torch.Tensor],
        use_real: torch.Tensor,
        noise: Optional[torch.Tensor],
        start_steps: int,
    ) -> dict[str, torch.Tensor]:
        """As ``Predictor.forward`` with a leading run axis on every argument:
        observations (R, B, T+1, O), actions (R, B, T, A) or None, use_real (R, B, T),
        noise (R, B, T, H) or None. Returns predictions (R, B, T, O), latents, gates
        (Theta, straight-through) and gate_values (R, B, T, H)."""
        layout, cfg = self.layout, self.config
        # Weights as (R, in, out), contiguous, once per call: every step reuses them.
        p = {
            name: value.transpose(1, 2).contiguous() if value.dim() == 3 else value.unsqueeze(1)
            for name, value in self.params.items()
        }
        if cfg.core == "gatel0rd" and len(layout.gate) == 1:
            # g and r read the same input: one matmul for both.
            (gate_w, gate_b), (rec_w, rec_b) = layout.gate[0], layout.recommend[0]
            p["gate_recommend.weight"] = torch.cat([p[gate_w], p[rec_w]], dim=2)
            p["gate_recommend.bias"] = torch.cat([p[gate_b], p[rec_b]], dim=2)
        num_steps = observations.shape[2] - 1
        start_steps = max(start_steps, cfg.init_inputs)
        inputs = observations[:, :, :-1] if actions is None else torch.cat([actions, observations[:, :, :-1]], -1)
        first = inputs[:, :, : cfg.init_inputs].reshape(self.num_runs, inputs.shape[1], -1)
        state = [_mlp(first, p, names) for names in layout.inits]
        if cfg.core == "lstm":  # each f_init gives a layer's h and c
            state = [part for both in state for part in both.chunk(2, dim=-1)]
        if cfg.core == MEMORYLESS:  # the window's earlier features and the last output, zeros
            shape = (self.num_runs, observations.shape[1])
            state = [
                observations.new_zeros(*shape, (cfg.window - 1) * cfg.feature_size),
                observations.new_zeros(*shape, cfg.latent_size),
            ]
        # f_pre's first layer splits into its action part, known for every step and
        # applied once, and its observation part, applied per step.
        (first_w, first_b), pre_rest = layout.pre[0], layout.pre[1:]
        obs_weight = p[first_w][:, -self.obs_size :]
        # Per-step slices of time-major copies: contiguous, so every step's ops and their
        # gradients run on dense memory (unbind, not indexing: indexing's backward writes a
        # full-size gradient per step).
        action_weight = p[first_w][:, : self.action_size]
        action_steps = None if actions is None else _time_major(actions)
        real_inputs = _time_major(observations)
        # The real-or-predicted choice as a blend with 0/1 weights (exact for finite
        # values, as torch.where is, and several times cheaper here on broadcast masks).
        keep_real = use_real.unsqueeze(-1).to(observations.dtype)
        keep_real_steps, keep_previous_steps = _time_major(keep_real), _time_major(1.0 - keep_real)
        noise_steps = None if noise is None else _time_major(noise)
        previous = real_inputs[0]
        predictions, latents, gates = [], [], []
        for t in range(num_steps):
            real = real_inputs[t]
            if t < start_steps:
                step_input = real
            else:
                step_input = real * keep_real_steps[t] + previous * keep_previous_steps[t]
            base = p[first_b] if action_steps is None else torch.baddbmm(p[first_b], action_steps[t], action_weight)
            features = _tanh(torch.baddbmm(base, step_input, obs_weight))
            features = _mlp(features, p, pre_rest)
            if cfg.core == "gatel0rd":
                output, state, gate = self._gatel0rd(
                    features, state, None if noise_steps is None else noise_steps[t], p
                )
                gates.append(gate)
            elif cfg.core == MEMORYLESS:
                joint = torch.cat([state[0], features], -1)
                output = _tanh(_linear(joint, p, layout.window))
                state = [joint[..., cfg.feature_size :], output]
            else:
                output, state = self._rnn(features, state, p)
            previous = step_input + cfg.output_scale * _linear(output, p, layout.post)
            predictions.append(previous)
            latents.append(torch.cat(state[-2:], -1) if cfg.core == "lstm" else state[-1])
        stacked = torch.stack(predictions, dim=2)
        if gates:
            gate_values = torch.stack(gates, dim=2)
        else:
            gate_values = observations.new_zeros(*stacked.shape[:3], cfg.latent_size)
        return {
            "predictions": stacked,
            "latents": torch.stack(latents, dim=2),
            "gates": HeavisideST.apply(gate_values),
            "gate_values": gate_values,
        }

    def _gatel0rd(self, x: torch.Tensor, state: list[torch.Tensor], noise: Optional[torch.Tensor], p: dict):
        layout = self.layout
        (h_prev,) = state
        joint = torch.cat([x, h_prev], -1)
        if "gate_recommend.weight" in p:
            s, candidate = _linear(joint, p, ("gate_recommend.weight", "gate_recommend.bias")).chunk(2, -1)
            candidate = _tanh(candidate)
        else:
            s = _mlp(joint, p, layout.gate, last_activation=False)
            candidate = _mlp(joint, p, layout.recommend)
        if noise is not None:
            s = s + noise
        # The exact tanh on the gate, so that it is 0 exactly where the plain cell's is.
        gate = torch.relu(torch.tanh(s))
        h = h_prev + gate * (candidate - h_prev)
        p_branch, o_branch = _linear(torch.cat([x, h], -1), p, layout.output).chunk(2, -1)
        return _tanh(p_branch) * torch.sigmoid(o_branch), [h], gate

    def _rnn(self, x: torch.Tensor, state: list[torch.Tensor], p: dict):
        kind = self.config.core
        new_state: list[torch.Tensor] = []
        per_layer = 2 if kind == "lstm" else 1
        for layer, (w_ih, w_hh, b_ih, b_hh) in enumerate(self.layout.cells):
            h = state[per_layer * layer]
            gi = torch.baddbmm(p[b_ih], x, p[w_ih])
            gh = torch.baddbmm(p[b_hh], h, p[w_hh])
            if kind == "gru":  # torch's GRU: gates r, z, candidate n
                r_i, z_i, n_i = gi.chunk(3, -1)
                r_h, z_h, n_h = gh.chunk(3, -1)
                r, z = torch.sigmoid(r_i + r_h), torch.sigmoid(z_i + z_h)
                n = _tanh(n_i + r * n_h)
                h = n + z * (h - n)
                new_state.append(h)
            elif kind == "lstm":  # torch's LSTM: gates i, f, g, o
                c = state[2 * layer + 1]
                i, f, g, o = (gi + gh).chunk(4, -1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * _tanh(g)
                h = torch.sigmoid(o) * _tanh(c)
                new_state += [h, c]
            else:  # Elman
                h = _tanh(gi + gh)
                new_state.append(h)
            x = h
        return x, new_state


class ParameterLayout:
    """Parameter names of each part of a ``Predictor``, read off its modules."""

    def __init__(self, model: Predictor) -> None:
        self.pre = _linears(model.f_pre, "f_pre")
        self.inits = [_linears(f_init, f"f_inits.{i}") for i, f_init in enumerate(model.f_inits)]
        self.post = ("f_post.weight", "f_post.bias")
        if isinstance(model.core, WindowCell):
            self.window = ("core.layer.weight", "core.layer.bias")
        elif isinstance(model.core, GateL0RDCell):
            self.gate = _linears(model.core.gate_net, "core.gate_net")
            self.recommend = _linears(model.core.recommend_net, "core.recommend_net")
            self.output = ("core.output_net.weight", "core.output_net.bias")
        else:
            self.cells = [
                tuple(f"core.cells.{i}.{part}" for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
                for i in range(len(model.core.cells))
            ]


def _linears(sequential: nn.Sequential, prefix: str) -> list[tuple[str, str]]:
    return [
        (f"{prefix}.{i}.weight", f"{prefix}.{i}.bias") for i, m in enumerate(sequential) if isinstance(m, nn.Linear)
    ]


def _linear(x: torch.Tensor, params: dict[str, torch.Tensor], names: tuple[str, str]) -> torch.Tensor:
    """x (R, B, in) or (R, B, T, in) through a stacked layer whose weight is (R, in, out)
    and bias (R, 1, out)."""
    return _apply(x, params[names[0]], params[names[1]])


def _time_major(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(R, B, T, ...) as T contiguous (R, B, ...) steps."""
    return x.movedim(2, 0).contiguous().unbind(0)


def _apply(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    if x.dim() == 3:
        return torch.baddbmm(bias, x, weight)
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    return torch.baddbmm(bias, flat, weight).reshape(*x.shape[:-1], weight.shape[-1])


def _mlp(
    x: torch.Tensor, params: dict[str, torch.Tensor], layers: list[tuple[str, str]], last_activation: bool = True
) -> torch.Tensor:
    for i, names in enumerate(layers):
        x = _linear(x, params, names)
        if last_activation or i < len(layers) - 1:
            x = _tanh(x)
    return x


class StackedAdam:
    """Adam over a ``StackedPredictor``'s flat (R, P) buffer: R independent Adams, each
    with its own learning rate, computed as ``torch.optim.Adam`` computes them."""

    def __init__(
        self, model: StackedPredictor, lrs: torch.Tensor, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        self.model, self.betas, self.eps = model, betas, eps
        self.lrs = lrs.reshape(-1, 1).to(model.flat)
        self.exp_avg = torch.zeros_like(model.flat)
        self.exp_avg_sq = torch.zeros_like(model.flat)
        self.steps = 0

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        self.steps += 1
        grad = self.model.flat_grad
        self.exp_avg.lerp_(grad, 1 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size = self.lrs / (1 - beta1**self.steps)
        denom = (self.exp_avg_sq.sqrt() / math.sqrt(1 - beta2**self.steps)).add_(self.eps)
        self.model.flat.addcdiv_(self.exp_avg * step_size, denom, value=-1.0)


@torch.no_grad()
def clip_grad_norm_per_run(model: StackedPredictor, max_norm: float) -> torch.Tensor:
    """Scale each run's gradient to a global 2-norm of at most ``max_norm``, as
    ``torch.nn.utils.clip_grad_norm_`` does for one model; returns the (R,) norms."""
    norms = torch.linalg.vector_norm(model.flat_grad, dim=1)
    model.flat_grad.mul_(torch.clamp(max_norm / (norms + 1e-6), max=1.0).unsqueeze(1))
    return norms

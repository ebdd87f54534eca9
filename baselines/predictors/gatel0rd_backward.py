"""GateL0RD's training loss over R stacked runs, with a hand-written backward pass.

Autograd records about a hundred small ops per step of the unrolled GateL0RD predictor,
and on a CPU their bookkeeping, allocations and extra passes over memory cost more than
the arithmetic. ``GateL0RDGradients`` computes the loss of the autograd path of
``baselines.predictors.train`` (per run: MSE of the next observation plus lambda times
the mean gate activity Theta, straight-through) and writes its gradient into the
``StackedPredictor``'s flat gradient buffer:

* activations are feature-major, (R, width, B) per step: a layer is W (R, out, in) times
  its input (R, in, B), which multiplies several times faster than the batch-major
  product when a layer is as narrow as GateL0RD's gate (8 units), and slices of features
  (x and h of [x, h]) stay dense within each run;
* the forward pass writes every activation into buffers allocated once per shape, time
  major, and the backward pass walks the steps in reverse with in-place ops,
  accumulating each weight's gradient step by step.

Its gradients equal autograd's to float rounding (``tests/test_gatel0rd_backward.py``
compares them in float64 over the paper's RRC and Billiard Ball shapes).
"""

from __future__ import annotations

from typing import Optional

import torch

from baselines.predictors.stacked import StackedPredictor


class _Layer:
    """One stacked linear layer: its weights for the forward (R, out, in) and the
    backward (R, in, out) products, reloaded each update, and its gradient accumulators."""

    def __init__(self, weight: str, bias: str, tanh: bool) -> None:
        self.weight, self.bias, self.tanh = weight, bias, tanh

    def load(self, params: dict[str, torch.Tensor], batch: int) -> None:
        """This update's weights, and zeroed accumulators (the bias's per batch column)."""
        weight = params[self.weight]
        self.forward_weight = weight.contiguous()  # (R, out, in)
        self.backward_weight = weight.transpose(1, 2).contiguous()  # (R, in, out)
        self.bias_column = params[self.bias].unsqueeze(2)
        fan_out, fan_in = weight.shape[1:]
        # A long contraction (over the batch) into a small result multiplies fastest
        # with the result's shorter side first.
        self.transposed = fan_in <= fan_out
        shape = (weight.shape[0], fan_in, fan_out) if self.transposed else weight.shape
        self.grad_weight = weight.new_zeros(shape)
        self.grad_bias = weight.new_zeros(weight.shape[0], fan_out, batch)

    @property
    def fan_out(self) -> int:
        return self.forward_weight.shape[1]

    def forward(self, x: torch.Tensor, out: torch.Tensor) -> None:
        """``out`` (R, out, B) = the layer applied to ``x`` (R, in, B)."""
        if self.tanh:  # tanh(y) = 2 sigmoid(2y) - 1, several times cheaper; 2y from the matmul
            torch.baddbmm(self.bias_column, self.forward_weight, x, beta=2.0, alpha=2.0, out=out)
            out.sigmoid_().mul_(2.0).sub_(1.0)
        else:
            torch.baddbmm(self.bias_column, self.forward_weight, x, out=out)

    def accumulate(self, x: torch.Tensor, grad_out: torch.Tensor) -> None:
        """Add the gradient of one step (input ``x``, gradient at the pre-activation)."""
        if self.transposed:
            self.grad_weight.baddbmm_(x, grad_out.transpose(1, 2))
        else:
            self.grad_weight.baddbmm_(grad_out, x.transpose(1, 2))
        self.grad_bias.add_(grad_out)

    def write_gradient(self, grads: dict[str, torch.Tensor]) -> None:
        weight = self.grad_weight.transpose(1, 2) if self.transposed else self.grad_weight
        grads[self.weight].copy_(weight)
        grads[self.bias].copy_(self.grad_bias.sum(2))


class _Chain:
    """Consecutive layers, each writing its activation into a (steps, R, width, B) buffer."""

    def __init__(self, names: list[tuple[str, str]], tanh_last: bool = True) -> None:
        self.layers = [_Layer(weight, bias, tanh_last or i < len(names) - 1) for i, (weight, bias) in enumerate(names)]

    def load(self, params: dict[str, torch.Tensor], steps: int, batch: int, buffers: _Buffers) -> None:
        for layer in self.layers:
            layer.load(params, batch)
        runs = params[self.layers[0].weight].shape[0]
        widths = [layer.fan_out for layer in self.layers]
        self.activations = [buffers.get(self, ("a", i), (steps, runs, w, batch)) for i, w in enumerate(widths)]
        # Gradients at each layer's activation and at its pre-activation (a tanh's).
        self.activation_grads = [buffers.get(self, ("da", i), (runs, w, batch)) for i, w in enumerate(widths)]
        self.pre_grads = [buffers.get(self, ("dz", i), (runs, w, batch)) for i, w in enumerate(widths)]
        self.buffers, self.runs, self.batch = buffers, runs, batch

    def forward(self, step: int, x: torch.Tensor) -> torch.Tensor:
        for layer, activation in zip(self.layers, self.activations):
            layer.forward(x, activation[step])
            x = activation[step]
        return x

    def backward(
        self,
        step: int,
        x: torch.Tensor,
        grad_out: torch.Tensor,
        input_weight: Optional[torch.Tensor] = None,
        input_grad: bool = True,
    ) -> Optional[torch.Tensor]:
        """Accumulate the weight gradients of ``step`` (input ``x``, gradient at the last
        activation ``grad_out``) and return the gradient at the input (None without
        ``input_grad``), through ``input_weight`` (R, inputs, out) in place of the first
        layer's transposed weight when given (for a part of the input)."""
        grad = grad_out
        for i in reversed(range(len(self.layers))):
            layer, activation = self.layers[i], self.activations[i][step]
            if layer.tanh:  # d tanh = 1 - tanh^2
                pre = self.pre_grads[i]
                torch.mul(grad, activation, out=pre)
                torch.addcmul(grad, pre, activation, value=-1.0, out=pre)
            else:
                pre = grad
            layer.accumulate(self.activations[i - 1][step] if i else x, pre)
            if i:
                grad = torch.bmm(layer.backward_weight, pre, out=self.activation_grads[i - 1])
            elif input_grad:
                weight = layer.backward_weight if input_weight is None else input_weight
                out = self.buffers.get(self, "input", (self.runs, weight.shape[1], self.batch))
                return torch.bmm(weight, pre, out=out)
        return None

    def write_gradient(self, grads: dict[str, torch.Tensor]) -> None:
        for layer in self.layers:
            layer.write_gradient(grads)


class _Buffers:
    """Tensors reused from update to update (fresh large allocations page-fault on a CPU)."""

    def __init__(self) -> None:
        self.tensors: dict[tuple, torch.Tensor] = {}
        self.dtype, self.device = torch.float32, torch.device("cpu")

    def prepare(self, like: torch.Tensor) -> None:
        """Allocate from now on as ``like``; drop what was allocated otherwise."""
        if (like.dtype, like.device) != (self.dtype, self.device):
            self.tensors.clear()
            self.dtype, self.device = like.dtype, like.device

    def get(self, owner: object, key: object, shape: tuple[int, ...]) -> torch.Tensor:
        full_key = (id(owner), key, shape)
        if full_key not in self.tensors:
            self.tensors[full_key] = torch.empty(shape, dtype=self.dtype, device=self.device)
        return self.tensors[full_key]


class GateL0RDGradients:
    """The per-run loss of a stacked GateL0RD predictor and its gradient, by hand."""

    def __init__(self, stacked: StackedPredictor) -> None:
        if stacked.config.core != "gatel0rd":
            raise ValueError(f"the hand-written backward pass is GateL0RD's, not {stacked.config.core!r}'s")
        self.stacked = stacked
        layout = stacked.layout
        self.obs_size, self.action_size = stacked.obs_size, stacked.action_size
        self.pre = _Chain(layout.pre)
        (init,) = layout.inits
        self.init = _Chain(init)
        self.gate = _Chain(layout.gate, tanh_last=False)
        self.recommend = _Chain(layout.recommend)
        self.output = _Chain([layout.output], tanh_last=False)  # [p, o]: their activations applied here
        self.post = _Chain([layout.post], tanh_last=False)
        self.chains = (self.pre, self.init, self.gate, self.recommend, self.output, self.post)
        self.buffers = _Buffers()

    @torch.no_grad()
    def __call__(
        self,
        observations: torch.Tensor,
        actions: Optional[torch.Tensor],
        use_real: torch.Tensor,
        noise: Optional[torch.Tensor],
        lambdas: torch.Tensor,
        start_steps: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-run task loss and gate penalty (R,), as ``train._stacked_loss`` computes
        them from the same arguments; sets ``stacked.flat_grad`` to the gradient of their
        sum."""
        stacked, cfg = self.stacked, self.stacked.config
        runs, batch, num_steps = observations.shape[0], observations.shape[1], observations.shape[2] - 1
        features, latent, obs_size, action_size = cfg.feature_size, cfg.latent_size, self.obs_size, self.action_size
        start_steps = max(start_steps, cfg.init_inputs)
        buffers = self.buffers
        buffers.prepare(observations)

        def buffer(key: str, *shape: int) -> torch.Tensor:
            return buffers.get(self, key, shape)

        params = {name: value.detach() for name, value in stacked.params.items()}
        for chain in self.chains:
            chain.load(params, 1 if chain is self.init else num_steps, batch, buffers)

        # Time-major, feature-major inputs: (T, R, A + O, B), each step's [action, observation].
        inputs = buffer("inputs", num_steps, runs, action_size + obs_size, batch)
        real = buffer("real", num_steps + 1, runs, obs_size, batch).copy_(observations.permute(2, 0, 3, 1))
        inputs[:, :, action_size:].copy_(real[:-1])
        if actions is not None:
            inputs[:, :, :action_size].copy_(actions.permute(2, 0, 3, 1))
        keep = use_real.permute(2, 0, 1).unsqueeze(2).to(observations.dtype)  # (T, R, 1, B)
        keep_previous = 1.0 - keep
        noise_steps = None
        if noise is not None:
            noise_steps = buffer("noise", num_steps, runs, latent, batch).copy_(noise.permute(2, 0, 3, 1))
        step_inputs = inputs[:, :, action_size:]  # the observation each step reads
        joint_before = buffer("joint_before", num_steps, runs, features + latent, batch)  # [x_t, h_{t-1}]
        joint_after = buffer("joint_after", num_steps, runs, features + latent, batch)  # [x_t, h_t]
        gates = buffer("gates", num_steps, runs, latent, batch)
        outputs = buffer("outputs", num_steps, runs, features, batch)

        first = inputs[: cfg.init_inputs].transpose(0, 1).reshape(runs, -1, batch)  # the first K inputs
        joint_before[0][:, features:].copy_(self.init.forward(0, first))
        predictions = self.post.activations[0]  # f_post's, made predictions in place
        for t in range(num_steps):
            step_input = step_inputs[t]
            if t >= start_steps:  # the real observation or the previous prediction, a 0/1 blend as in autograd's
                step_input.mul_(keep[t]).addcmul_(predictions[t - 1], keep_previous[t])
            x = self.pre.forward(t, inputs[t])
            before, after = joint_before[t], joint_after[t]
            before[:, :features].copy_(x)
            after[:, :features].copy_(x)
            h_previous = before[:, features:]
            s = self.gate.forward(t, before)
            candidate = self.recommend.forward(t, before)
            if noise_steps is not None:
                s.add_(noise_steps[t])
            # The exact tanh on the gate, so that it is 0 exactly where the plain cell's is.
            torch.tanh(s, out=gates[t]).relu_()
            h = after[:, features:]
            torch.sub(candidate, h_previous, out=h)
            h.mul_(gates[t]).add_(h_previous)
            if t + 1 < num_steps:
                joint_before[t + 1][:, features:].copy_(h)
            p_and_o = self.output.forward(t, after)
            tanh_p = p_and_o[:, :features].mul_(2.0).sigmoid_().mul_(2.0).sub_(1.0)
            sigmoid_o = p_and_o[:, features:].sigmoid_()
            torch.mul(tanh_p, sigmoid_o, out=outputs[t])
            self.post.forward(t, outputs[t]).mul_(cfg.output_scale).add_(step_input)

        errors = buffer("errors", num_steps, runs, obs_size, batch)
        torch.sub(predictions, real[1:], out=errors)
        # Summed per run over a run-major copy: each run's sum then takes the same order of
        # additions whatever the other runs in the batch (a run resumed in another batch
        # reports the same loss to the last bit).
        squares = buffer("squares", runs, num_steps, obs_size, batch)
        torch.square(errors.transpose(0, 1), out=squares)
        task = squares.view(runs, -1).sum(dim=1) / (batch * num_steps * obs_size)
        openings = gates.sign().sum(dim=(0, 2, 3))  # gates >= 0: the count of open ones, exactly
        penalty = lambdas * openings / (batch * num_steps * latent)
        grad_predictions = errors.mul_(2.0 / (batch * num_steps * obs_size))
        grad_gate_penalty = (lambdas / (batch * num_steps * latent)).reshape(runs, 1, 1)

        # Backward, from the last step to the first; buffers (R, width, B).
        grad_h = buffer("grad_h", runs, latent, batch).zero_()  # at h_t, from step t + 1
        grad_previous = buffer("grad_previous", runs, obs_size, batch).zero_()  # at prediction t, from step t + 1
        grad_prediction = buffer("grad_prediction", runs, obs_size, batch)
        grad_before = buffer("grad_before", runs, features + latent, batch)
        grad_x = buffer("grad_x", runs, features, batch)
        grad_h_total = buffer("grad_h_total", runs, latent, batch)
        grad_gate = buffer("grad_gate", runs, latent, batch)
        grad_s = buffer("grad_s", runs, latent, batch)
        grad_candidate = buffer("grad_candidate", runs, latent, batch)
        grad_p_and_o = buffer("grad_p_and_o", runs, 2 * features, batch)
        product = buffer("product", runs, features, batch)
        observation_weight = self.pre.layers[0].backward_weight[:, action_size:].contiguous()
        for t in reversed(range(num_steps)):
            torch.add(grad_predictions[t], grad_previous, out=grad_prediction)
            # prediction = input + scale * f_post(output)
            grad_post = torch.mul(grad_prediction, cfg.output_scale, out=self.post.pre_grads[0])
            grad_output = self.post.backward(t, outputs[t], grad_post)
            # output = tanh(p) * sigmoid(o)
            p_and_o = self.output.activations[0][t]
            tanh_p, sigmoid_o = p_and_o[:, :features], p_and_o[:, features:]
            grad_p, grad_o = grad_p_and_o[:, :features], grad_p_and_o[:, features:]
            torch.mul(grad_output, sigmoid_o, out=grad_p)  # at tanh(p)
            torch.mul(grad_p, tanh_p, out=product)
            torch.addcmul(grad_p, product, tanh_p, value=-1.0, out=grad_p)  # d tanh = 1 - tanh^2
            torch.mul(grad_output, tanh_p, out=product)  # at sigmoid(o)
            torch.mul(product, sigmoid_o, out=grad_o)
            torch.addcmul(grad_o, grad_o, sigmoid_o, value=-1.0, out=grad_o)  # d sigmoid = s (1 - s)
            after, before = joint_after[t], joint_before[t]
            grad_after = self.output.backward(t, after, grad_p_and_o)
            # h = h_prev + gate * (candidate - h_prev)
            torch.add(grad_after[:, features:], grad_h, out=grad_h_total)
            grad_x.copy_(grad_after[:, :features])
            gate, candidate, h_previous = gates[t], self.recommend.activations[-1][t], before[:, features:]
            torch.sub(candidate, h_previous, out=grad_gate)
            grad_gate.mul_(grad_h_total).add_(grad_gate_penalty)  # + the penalty's straight-through gradient
            torch.mul(grad_h_total, gate, out=grad_candidate)
            torch.sub(grad_h_total, grad_candidate, out=grad_h)  # d/d h_prev of the copy
            # gate = relu(tanh(s)): d = 1 - gate^2 where the gate is open, else 0
            torch.mul(grad_gate, gate, out=grad_s)
            torch.addcmul(grad_gate, grad_s, gate, value=-1.0, out=grad_s)
            grad_s.mul_(gate > 0)
            grad_before.copy_(self.gate.backward(t, before, grad_s))
            grad_before.add_(self.recommend.backward(t, before, grad_candidate))
            grad_h.add_(grad_before[:, features:])
            grad_x.add_(grad_before[:, :features])
            grad_input = self.pre.backward(t, inputs[t], grad_x, observation_weight)
            grad_input.add_(grad_prediction)  # the residual path
            if t >= start_steps:
                torch.mul(grad_input, keep_previous[t], out=grad_previous)
            else:
                grad_previous.zero_()
        self.init.backward(0, first, grad_h, input_grad=False)

        grads = {name: value.grad for name, value in stacked.params.items()}
        for chain in self.chains:
            chain.write_gradient(grads)
        return task, penalty

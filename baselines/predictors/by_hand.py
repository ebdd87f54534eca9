"""The predictors' training loss over R stacked runs, with a hand-written backward pass.

Autograd records about a hundred small ops per step of an unrolled predictor, and on a
CPU their bookkeeping, allocations and extra passes over memory cost more than the
arithmetic. ``PredictorGradients`` computes the loss of the autograd path of
``baselines.predictors.train`` (per run: MSE of the next observation, plus for GateL0RD
lambda times the mean gate activity Theta, straight-through) and writes its gradient
into the ``StackedPredictor``'s flat gradient buffer:

* activations are feature-major, (R, width, B) per step: a layer is W (R, out, in) times
  its input (R, in, B), which multiplies several times faster than the batch-major
  product when a layer is as narrow as the paper's (8 units), and slices of features
  stay dense within each run;
* the forward pass writes every activation into buffers allocated once per shape, time
  major, and the backward pass walks the steps in reverse with in-place ops,
  accumulating each weight's gradient step by step.

This module holds what every core shares (f_pre, f_init, f_post, the residual
prediction, scheduled sampling and the loss); a core's step and its gradient are a
subclass's (``baselines.predictors.gatel0rd_backward``, ``baselines.predictors.rnn_backward``).
Their gradients equal autograd's to float rounding (``tests/test_gradients_by_hand.py``
compares them in float64 over the paper's shapes).
"""

from __future__ import annotations

from typing import Optional

import torch

from baselines.predictors.stacked import StackedPredictor


class Layer:
    """One stacked linear layer: its weights for the forward (R, out, in) and the
    backward (R, in, out) products, reloaded each update, and its gradient accumulators."""

    def __init__(self, weight: str, bias: str, tanh: bool = False) -> None:
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

    def input_gradient(self, grad_out: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The gradient at the input (R, in, B) of one at the pre-activation."""
        return torch.bmm(self.backward_weight, grad_out, out=out)

    def write_gradient(self, grads: dict[str, torch.Tensor]) -> None:
        weight = self.grad_weight.transpose(1, 2) if self.transposed else self.grad_weight
        grads[self.weight].copy_(weight)
        grads[self.bias].copy_(self.grad_bias.sum(2))


class Chain:
    """Consecutive layers, each writing its activation into a (steps, R, width, B) buffer."""

    def __init__(self, names: list[tuple[str, str]], tanh_last: bool = True) -> None:
        self.layers = [Layer(weight, bias, tanh_last or i < len(names) - 1) for i, (weight, bias) in enumerate(names)]

    def load(self, params: dict[str, torch.Tensor], steps: int, batch: int, buffers: Buffers) -> None:
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
                grad = layer.input_gradient(pre, self.activation_grads[i - 1])
            elif input_grad:
                weight = layer.backward_weight if input_weight is None else input_weight
                out = self.buffers.get(self, "input", (self.runs, weight.shape[1], self.batch))
                return torch.bmm(weight, pre, out=out)
        return None

    def write_gradient(self, grads: dict[str, torch.Tensor]) -> None:
        for layer in self.layers:
            layer.write_gradient(grads)


class Buffers:
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


class PredictorGradients:
    """The per-run loss of a stacked predictor and its gradient, by hand: f_pre, f_init,
    f_post and the residual prediction here, the core's step in a subclass."""

    #: The cores a subclass computes.
    cores: tuple[str, ...] = ()

    def __init__(self, stacked: StackedPredictor) -> None:
        if stacked.config.core not in self.cores:
            raise ValueError(
                f"{type(self).__name__} is the hand-written backward pass of {', '.join(self.cores)}, "
                f"not of {stacked.config.core!r}"
            )
        self.stacked = stacked
        layout = stacked.layout
        self.obs_size, self.action_size = stacked.obs_size, stacked.action_size
        self.features, self.latent = stacked.config.feature_size, stacked.config.latent_size
        self.pre = Chain(layout.pre)
        self.inits = [Chain(names) for names in layout.inits]
        self.post = Chain([layout.post], tanh_last=False)
        self.buffers = Buffers()

    # The core's part; (R, width, B) tensors, step ``t`` of ``num_steps``.
    def core_chains(self) -> list[Chain]:
        """The core's chains, whose activations hold one slot per step."""
        return []

    def core_layers(self) -> list[Layer]:
        """The core's layers outside chains."""
        return []

    def core_prepare(self, runs: int, num_steps: int, batch: int) -> None:
        """Allocate this update's buffers (after the weights are loaded)."""

    def core_start(self, initial: list[torch.Tensor]) -> None:
        """Set the state before step 0 from each f_init's output."""
        raise NotImplementedError

    def core_forward(self, t: int, x: torch.Tensor, noise: Optional[torch.Tensor]) -> torch.Tensor:
        """Step ``t`` on features ``x``; returns the output f_post reads (kept until backward)."""
        raise NotImplementedError

    def core_penalty(self, lambdas: torch.Tensor, batch: int, num_steps: int) -> torch.Tensor:
        """The (R,) penalty added to the task loss (none: zeros)."""
        return torch.zeros_like(lambdas)

    def core_backward(self, t: int, grad_output: torch.Tensor) -> torch.Tensor:
        """Accumulate step ``t``'s gradients from the one at its output (and the state's,
        carried from step t + 1); returns the gradient at the features."""
        raise NotImplementedError

    def core_initial_gradients(self) -> list[torch.Tensor]:
        """After step 0's backward: the gradient at each f_init's output."""
        raise NotImplementedError

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
        """Per-run task loss and penalty (R,), as ``train._stacked_loss`` computes them
        from the same arguments; sets ``stacked.flat_grad`` to the gradient of their sum."""
        stacked, cfg = self.stacked, self.stacked.config
        runs, batch, num_steps = observations.shape[0], observations.shape[1], observations.shape[2] - 1
        obs_size, action_size = self.obs_size, self.action_size
        start_steps = max(start_steps, cfg.init_inputs)
        buffers = self.buffers
        buffers.prepare(observations)

        def buffer(key: str, *shape: int) -> torch.Tensor:
            return buffers.get(self, key, shape)

        params = {name: value.detach() for name, value in stacked.params.items()}
        for chain in (self.pre, self.post, *self.core_chains()):
            chain.load(params, num_steps, batch, buffers)
        for chain in self.inits:
            chain.load(params, 1, batch, buffers)
        for layer in self.core_layers():
            layer.load(params, batch)
        self.core_prepare(runs, num_steps, batch)

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
            noise_steps = buffer("noise", num_steps, runs, noise.shape[-1], batch).copy_(noise.permute(2, 0, 3, 1))
        step_inputs = inputs[:, :, action_size:]  # the observation each step reads

        first = inputs[: cfg.init_inputs].transpose(0, 1).reshape(runs, -1, batch)  # the first K inputs
        self.core_start([chain.forward(0, first) for chain in self.inits])
        predictions = self.post.activations[0]  # f_post's, made predictions in place
        outputs = []
        for t in range(num_steps):
            step_input = step_inputs[t]
            if t >= start_steps:  # the real observation or the previous prediction, a 0/1 blend as in autograd's
                step_input.mul_(keep[t]).addcmul_(predictions[t - 1], keep_previous[t])
            x = self.pre.forward(t, inputs[t])
            outputs.append(self.core_forward(t, x, None if noise_steps is None else noise_steps[t]))
            self.post.forward(t, outputs[t]).mul_(cfg.output_scale).add_(step_input)

        errors = buffer("errors", num_steps, runs, obs_size, batch)
        torch.sub(predictions, real[1:], out=errors)
        # Summed per run over a run-major copy: each run's sum then takes the same order of
        # additions whatever the other runs in the batch (a run resumed in another batch
        # reports the same loss to the last bit).
        squares = buffer("squares", runs, num_steps, obs_size, batch)
        torch.square(errors.transpose(0, 1), out=squares)
        task = squares.view(runs, -1).sum(dim=1) / (batch * num_steps * obs_size)
        penalty = self.core_penalty(lambdas, batch, num_steps)
        grad_predictions = errors.mul_(2.0 / (batch * num_steps * obs_size))

        # Backward, from the last step to the first; buffers (R, width, B).
        grad_previous = buffer("grad_previous", runs, obs_size, batch).zero_()  # at prediction t, from step t + 1
        grad_prediction = buffer("grad_prediction", runs, obs_size, batch)
        observation_weight = self.pre.layers[0].backward_weight[:, action_size:].contiguous()
        for t in reversed(range(num_steps)):
            torch.add(grad_predictions[t], grad_previous, out=grad_prediction)
            # prediction = input + scale * f_post(output)
            grad_post = torch.mul(grad_prediction, cfg.output_scale, out=self.post.pre_grads[0])
            grad_output = self.post.backward(t, outputs[t], grad_post)
            grad_x = self.core_backward(t, grad_output)
            grad_input = self.pre.backward(t, inputs[t], grad_x, observation_weight)
            grad_input.add_(grad_prediction)  # the residual path
            if t >= start_steps:
                torch.mul(grad_input, keep_previous[t], out=grad_previous)
            else:
                grad_previous.zero_()
        for chain, grad in zip(self.inits, self.core_initial_gradients()):
            chain.backward(0, first, grad, input_grad=False)

        grads = {name: value.grad for name, value in stacked.params.items()}
        for chain in (self.pre, self.post, *self.inits, *self.core_chains()):
            chain.write_gradient(grads)
        for layer in self.core_layers():
            layer.write_gradient(grads)
        return task, penalty

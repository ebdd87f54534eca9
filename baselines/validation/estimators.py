"""Hidden-state estimators: networks trained, with the true hidden factors as labels, to
read every factor from what an agent sees (observations and its own actions).

Three kinds differ only in what they may remember:

* ``recurrent``: a GRU over the whole history;
* ``current``: an MLP of the current step's input alone (memoryless);
* ``window``: an MLP of the last ``window`` steps' inputs (a short memory).

The input of step t is [encoded observation t, the action that led to it] (zeros at
t = 0); image observations go through a small conv encoder, vector ones are
standardised. Each factor has its own head: continuous factors (``Box``) are regressed
on standardised targets (MSE), discrete ones (``Discrete``, ``MultiBinary``,
``MultiDiscrete``) classified per component (cross-entropy); the losses are summed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from pomdp_envs.datasets import Sequences

KINDS = ("recurrent", "current", "window")


@dataclasses.dataclass(frozen=True)
class EstimatorConfig:
    kind: str = "recurrent"  # one of KINDS
    window: int = 4  # steps the "window" kind sees
    hidden_size: int = 64
    updates: int = 1500
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if min(self.window, self.hidden_size, self.updates, self.batch_size) < 1:
            raise ValueError("window, hidden_size, updates and batch_size must be >= 1")


class FactorCodec:
    """How each hidden factor becomes a training target and a prediction: a regression
    block (Box) or a list of classification components (everything discrete)."""

    def __init__(self, hidden_space: spaces.Dict, train: Sequences) -> None:
        self.names = list(hidden_space.spaces)
        self.regress: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (mean, std) per component
        self.classes: dict[str, list[tuple[int, int]]] = {}  # name -> [(n classes, start)] per component
        for name, space in hidden_space.spaces.items():
            if isinstance(space, spaces.Box):
                values = train.hidden[name].reshape(-1, int(np.prod(space.shape))).astype(np.float64)
                self.regress[name] = (values.mean(0), values.std(0) + 1e-6)
            elif isinstance(space, spaces.Discrete):
                self.classes[name] = [(int(space.n), int(space.start))]
            elif isinstance(space, spaces.MultiBinary):
                self.classes[name] = [(2, 0)] * int(np.prod(space.shape))
            elif isinstance(space, spaces.MultiDiscrete):
                self.classes[name] = [(int(n), 0) for n in space.nvec.reshape(-1)]
            else:
                raise ValueError(f"hidden factor {name!r}: cannot estimate a {type(space).__name__} space")

    @property
    def output_size(self) -> int:
        return sum(len(mean) for mean, _ in self.regress.values()) + sum(
            n for parts in self.classes.values() for n, _ in parts
        )

    def loss(self, outputs: torch.Tensor, hidden: dict[str, torch.Tensor]) -> torch.Tensor:
        """Summed loss of outputs (B, T, output_size) against the true factors (B, T, ...)."""
        total, offset = outputs.new_zeros(()), 0
        batch, steps = outputs.shape[:2]
        for name in self.names:
            target = hidden[name].reshape(batch, steps, -1)
            if name in self.regress:
                mean, std = (torch.as_tensor(v, dtype=outputs.dtype) for v in self.regress[name])
                width = len(mean)
                total = total + ((outputs[..., offset : offset + width] - (target - mean) / std) ** 2).mean()
                offset += width
                continue
            for component, (n, start) in enumerate(self.classes[name]):
                logits = outputs[..., offset : offset + n].reshape(-1, n)
                labels = (target[..., component].long() - start).reshape(-1)
                total = total + nn.functional.cross_entropy(logits, labels)
                offset += n
        return total

    def decode(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        """Predicted factors from outputs (..., output_size): regressed values, or the
        most likely class of each component."""
        predicted, offset = {}, 0
        for name in self.names:
            if name in self.regress:
                mean, std = self.regress[name]
                predicted[name] = outputs[..., offset : offset + len(mean)] * std + mean
                offset += len(mean)
                continue
            parts = []
            for n, start in self.classes[name]:
                parts.append(outputs[..., offset : offset + n].argmax(-1) + start)
                offset += n
            predicted[name] = np.stack(parts, -1)
        return predicted


class InputEncoder(nn.Module):
    """Observation (standardised vector, or image through convs) and previous action."""

    def __init__(self, obs_shape: tuple[int, ...], action_size: int, obs_scale: np.ndarray, obs_mean: np.ndarray):
        super().__init__()
        self.image = len(obs_shape) == 3
        self.register_buffer("obs_mean", torch.as_tensor(obs_mean, dtype=torch.float32))
        self.register_buffer("obs_scale", torch.as_tensor(obs_scale, dtype=torch.float32))
        if self.image:
            height, width, channels = obs_shape
            layers: list[nn.Module] = []
            if min(height, width) >= 32:
                # Large frames (ShapeHerd's 64x64) averaged down to about 32 px, then three
                # stride-2 convs: a few times fewer operations than at full size.
                pool = min(height, width) // 32
                layers = [nn.AvgPool2d(pool)] if pool > 1 else []
                kernel, stride, count = 3, 2, 3
            else:  # symbolic grids (MiniGrid's 7x7): small convs at full resolution
                kernel, stride, count = 2, 1, 2
            size, depth = channels, 16
            for _ in range(count):
                layers += [nn.Conv2d(size, depth, kernel, stride=stride), nn.ReLU()]
                size, depth = depth, min(32, 2 * depth)
            self.conv = nn.Sequential(*layers, nn.Flatten())
            with torch.no_grad():
                flat = self.conv(torch.zeros(1, channels, height, width)).shape[1]
            self.size = flat + action_size
        else:
            self.size = int(np.prod(obs_shape)) + action_size

    def forward(self, observations: torch.Tensor, previous_actions: torch.Tensor) -> torch.Tensor:
        """(B, T, *obs_shape), (B, T, A) -> (B, T, size)."""
        batch, steps = observations.shape[:2]
        x = (observations.float() - self.obs_mean) / self.obs_scale
        if self.image:
            x = self.conv(x.reshape(batch * steps, *x.shape[2:]).permute(0, 3, 1, 2)).reshape(batch, steps, -1)
        else:
            x = x.reshape(batch, steps, -1)
        return torch.cat([x, previous_actions], -1)


class Estimator(nn.Module):
    def __init__(self, config: EstimatorConfig, encoder: InputEncoder, output_size: int) -> None:
        super().__init__()
        self.config, self.encoder = config, encoder
        width = config.hidden_size
        if config.kind == "recurrent":
            self.core: nn.Module = nn.GRU(encoder.size, width, batch_first=True)
        else:
            steps = 1 if config.kind == "current" else config.window
            self.core = nn.Sequential(nn.Linear(steps * encoder.size, width), nn.Tanh(), nn.Linear(width, width))
        self.head = nn.Sequential(nn.Tanh(), nn.Linear(width, output_size))

    def forward(self, observations: torch.Tensor, previous_actions: torch.Tensor) -> torch.Tensor:
        x = self.encoder(observations, previous_actions)
        if self.config.kind == "recurrent":
            x, _ = self.core(x)
        else:
            x = self.core(_last_steps(x, 1 if self.config.kind == "current" else self.config.window))
        return self.head(x)


def _last_steps(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, T, D) -> (B, T, window * D): each step with the window - 1 before it (zeros
    before the sequence's start), oldest first."""
    if window == 1:
        return x
    padded = torch.cat([x.new_zeros(x.shape[0], window - 1, x.shape[2]), x], 1)
    return torch.cat([padded[:, i : i + x.shape[1]] for i in range(window)], -1)


def previous_actions(sequences: Sequences, action_space: spaces.Space) -> np.ndarray:
    """(N, T + 1, A): the action that led to each observation (zeros at t = 0); discrete
    actions one-hot."""
    actions = sequences.actions
    if isinstance(action_space, spaces.Discrete):
        actions = np.eye(action_space.n, dtype=np.float32)[actions - action_space.start]
    actions = actions.reshape(actions.shape[0], actions.shape[1], -1).astype(np.float32)
    return np.concatenate([np.zeros_like(actions[:, :1]), actions], 1)


def train_estimator(
    config: EstimatorConfig,
    train: Sequences,
    hidden_space: spaces.Dict,
    action_space: spaces.Space,
) -> tuple[Estimator, FactorCodec]:
    """An estimator of every factor of ``hidden_space`` trained on ``train``'s sequences."""
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)  # the initial weights
    codec = FactorCodec(hidden_space, train)
    observations = torch.as_tensor(train.observations)
    actions = torch.as_tensor(previous_actions(train, action_space))
    hidden = {name: torch.as_tensor(train.hidden[name]) for name in codec.names}
    obs_shape = train.observations.shape[2:]
    if len(obs_shape) == 3:  # images: one scale per channel (no float copy of every frame)
        channel_max = train.observations.reshape(-1, obs_shape[-1]).max(0).astype(np.float64)
        mean, scale = np.zeros(obs_shape[-1]), np.maximum(channel_max, 1.0)
    else:
        flat = train.observations.reshape(-1, *obs_shape).astype(np.float64)
        mean, scale = flat.mean(0), flat.std(0) + 1e-6
    encoder = InputEncoder(tuple(obs_shape), actions.shape[-1], scale, mean)
    model = Estimator(config, encoder, codec.output_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    for _ in range(config.updates):
        index = torch.randint(len(observations), (config.batch_size,), generator=generator)
        outputs = model(observations[index], actions[index])
        loss = codec.loss(outputs, {name: value[index] for name, value in hidden.items()})
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return model, codec


@torch.no_grad()
def estimate(
    model: Estimator, codec: FactorCodec, sequences: Sequences, action_space: spaces.Space, batch: int = 256
) -> dict[str, Any]:
    """Every factor as the estimator reads it at every step of ``sequences``: name ->
    (N, T + 1, ...)."""
    actions = torch.as_tensor(previous_actions(sequences, action_space))
    outputs = [
        model(torch.as_tensor(sequences.observations[i : i + batch]), actions[i : i + batch]).numpy()
        for i in range(0, len(sequences), batch)
    ]
    return codec.decode(np.concatenate(outputs))

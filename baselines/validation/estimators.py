"""Hidden-state estimators: networks trained, with the true hidden factors as labels, to
read every factor from what an agent sees (observations and its own actions).

Three kinds differ only in what they may remember:

* ``recurrent``: a GRU over the whole history;
* ``current``: an MLP of the current step's input alone (memoryless);
* ``window``: an MLP of the last ``window`` steps' inputs (a short memory).

The input of step t is [encoded observation t, the action that led to it] (zeros at
t = 0). Vector observations are standardised. Images go through an encoder that the
memoryless estimator trains on single frames; the window and recurrent estimators then
read the same frozen per-frame features, so that all three see the same information of
each frame and differ only in memory (and an update of theirs costs no convolution).
Symbolic grids (MiniGrid's cells of object, colour and state indices) are one-hot coded
per channel before small convolutions; large frames (ShapeHerd's 64x64) go through an
encoder that localises small things: coordinate channels and a spatial soft-argmax (the
expected image position of each of a few learned feature maps), beside a coarse conv
summary of the whole frame.

Each factor has its own head: continuous factors (``Box``) are regressed on
standardised targets (MSE), discrete ones (``Discrete``, ``MultiBinary``,
``MultiDiscrete``) classified per component (cross-entropy); each factor's loss is the
mean over its components, and the factors' losses are summed. The
regression loss is Huber's (squared within one standard deviation, linear beyond), so a
heavy-tailed factor does not drown the others.
Training stops early when the loss on held-out sequences (``holdout`` of the training
set) has not improved for ``patience`` evaluations, or at ``updates``; the weights of the
best evaluation are kept.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Optional

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
    updates: int = 2000  # at most; early stopping may end sooner
    batch_size: int = 32  # sequences per update (window, recurrent)
    frame_batch: int = 128  # frames per update of the memoryless estimator on images
    lr: float = 2e-3
    eval_every: int = 100  # updates between evaluations on the held-out sequences
    patience: int = 5  # evaluations without a lower held-out loss before training stops
    holdout: float = 0.2  # share of the training sequences held out for early stopping
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if min(self.window, self.hidden_size, self.updates, self.batch_size, self.frame_batch) < 1:
            raise ValueError("window, hidden_size, updates, batch_size and frame_batch must be >= 1")
        if min(self.eval_every, self.patience) < 1 or not 0.0 < self.holdout < 1.0:
            raise ValueError("eval_every and patience must be >= 1 and holdout in (0, 1)")


class FactorCodec:
    """How each hidden factor becomes a training target and a prediction: a regression
    block (Box) or a list of classification components (everything discrete)."""

    def __init__(self, hidden_space: spaces.Dict, train: Sequences) -> None:
        self.names = list(hidden_space.spaces)
        self.regress: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (mean, std) per component
        self.classes: dict[str, list[tuple[int, int]]] = {}  # name -> [(n classes, start)] per component
        # name -> per component, the weight of each class in the loss (see _balanced_weights)
        self.class_weights: dict[str, list[torch.Tensor]] = {}
        for name, space in hidden_space.spaces.items():
            if isinstance(space, spaces.Box):
                values = train.hidden[name].reshape(-1, int(np.prod(space.shape))).astype(np.float64)
                self.regress[name] = (values.mean(0), values.std(0) + 1e-6)
                continue
            if isinstance(space, spaces.Discrete):
                self.classes[name] = [(int(space.n), int(space.start))]
            elif isinstance(space, spaces.MultiBinary):
                self.classes[name] = [(2, 0)] * int(np.prod(space.shape))
            elif isinstance(space, spaces.MultiDiscrete):
                self.classes[name] = [(int(n), 0) for n in space.nvec.reshape(-1)]
            else:
                raise ValueError(f"hidden factor {name!r}: cannot estimate a {type(space).__name__} space")
            labels = train.hidden[name].reshape(-1, len(self.classes[name])).astype(np.int64)
            self.class_weights[name] = [
                _balanced_weights(labels[:, component] - start, n)
                for component, (n, start) in enumerate(self.classes[name])
            ]

    @property
    def output_size(self) -> int:
        return sum(len(mean) for mean, _ in self.regress.values()) + sum(
            n for parts in self.classes.values() for n, _ in parts
        )

    def loss(self, outputs: torch.Tensor, hidden: dict[str, torch.Tensor]) -> torch.Tensor:
        """Loss of outputs (B, T, output_size) against the true factors (B, T, ...): the sum
        over factors of each one's mean over its components."""
        total, offset = outputs.new_zeros(()), 0
        batch, steps = outputs.shape[:2]
        for name in self.names:
            target = hidden[name].reshape(batch, steps, -1)
            if name in self.regress:
                mean, std = (torch.as_tensor(v, dtype=outputs.dtype) for v in self.regress[name])
                width = len(mean)
                # Huber: velocities are mostly near 0 with rare large pushes, whose squares
                # would swamp every other factor's gradient.
                standardised = ((target - mean) / std).to(outputs.dtype)
                total = total + nn.functional.huber_loss(outputs[..., offset : offset + width], standardised)
                offset += width
                continue
            parts = self.classes[name]
            for component, (n, start) in enumerate(parts):
                logits = outputs[..., offset : offset + n].reshape(-1, n)
                labels = (target[..., component].long() - start).reshape(-1)
                # Averaged over the factor's components, as the regression is: each factor
                # weighs the same, however many slots it has.
                weight = self.class_weights[name][component].to(outputs.dtype)
                total = total + nn.functional.cross_entropy(logits, labels, weight=weight) / len(parts)
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


def _balanced_weights(labels: np.ndarray, n: int) -> torch.Tensor:
    """Class weights inversely proportional to each class's share of ``labels`` (0 .. n-1),
    scaled so that a class present in ``labels`` weighs as if all were equally common: the
    loss then counts every class as balanced accuracy, the score, does (a rare door state
    would otherwise go unpredicted). Absent classes get the mean weight."""
    counts = np.bincount(labels, minlength=n)[:n].astype(np.float64)
    present = counts > 0
    weights = np.ones(n)
    weights[present] = labels.size / (present.sum() * counts[present])
    weights[~present] = weights[present].mean() if present.any() else 1.0
    return torch.as_tensor(weights)


class FrameEncoder(nn.Module):
    """Maps frames (F, *obs_shape) to features (F, ``size``); ``trainable``: whether the
    memoryless estimator trains it (a fixed standardisation is not)."""

    size: int
    trainable: bool


class VectorEncoder(FrameEncoder):
    """Standardised flat observations; nothing to train."""

    mean: torch.Tensor  # buffers
    scale: torch.Tensor

    def __init__(self, train_observations: np.ndarray) -> None:
        super().__init__()
        flat = train_observations.reshape(-1, *train_observations.shape[2:]).astype(np.float64)
        self.register_buffer("mean", torch.as_tensor(flat.mean(0), dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(flat.std(0) + 1e-6, dtype=torch.float32))
        self.size = int(np.prod(train_observations.shape[2:]))
        self.trainable = False

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """(F, *obs_shape) -> (F, size)."""
        return ((observations.float() - self.mean) / self.scale).reshape(len(observations), -1)


class GridEncoder(FrameEncoder):
    """Symbolic grids (H, W, C) of small integer codes: one-hot per channel (as many
    classes as the training data show), two 3x3 convs at full resolution, a linear map
    of every cell's features (so that where a thing is stays known)."""

    def __init__(self, train_observations: np.ndarray, width: int) -> None:
        super().__init__()
        height, breadth, channels = train_observations.shape[2:]
        most = train_observations.reshape(-1, channels).max(0).astype(np.int64)
        self.classes = [int(n) + 1 for n in most]
        self.convs = nn.Sequential(
            nn.Conv2d(sum(self.classes), 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 16, 3, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(16 * height * breadth, width),
            nn.LayerNorm(width),  # features of unit scale, so the estimators' tanh layers do not saturate
        )
        self.size, self.trainable = width, True

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        codes = observations.long()
        one_hot = [
            nn.functional.one_hot(codes[..., c].clamp(0, n - 1), n) for c, n in enumerate(self.classes)
        ]  # codes beyond the training data's largest count as it
        x = torch.cat(one_hot, -1).float().permute(0, 3, 1, 2)
        return self.convs(x)


#: Cells per side of the grid over which a large frame's encoder reports what is where.
PRESENCE_CELLS = 8


class LocatingEncoder(FrameEncoder):
    """Large frames (H, W, C): a plain strided conv net barely regresses the position of
    a thing a few pixels wide, so ``keypoints`` feature maps at full resolution (over the
    colour channels and two coordinate channels) each give the expected position of their
    softmax over the image, and their peak, beside a coarse strided summary of the frame
    averaged down to a quarter of its side and the largest of each first-layer feature in
    every cell of a ``PRESENCE_CELLS`` grid."""

    scale: torch.Tensor  # buffers
    coordinates: torch.Tensor
    map_coordinates: torch.Tensor

    def __init__(self, train_observations: np.ndarray, width: int, keypoints: int = 16) -> None:
        super().__init__()
        height, breadth, channels = train_observations.shape[2:]
        channel_max = train_observations.reshape(-1, channels).max(0).astype(np.float64)
        self.register_buffer("scale", torch.as_tensor(np.maximum(channel_max, 1.0), dtype=torch.float32))
        rows, columns = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, breadth), indexing="ij")
        self.register_buffer("coordinates", torch.stack([rows, columns]))  # (2, H, W)
        inputs = channels + 2
        # The first conv reads every pixel but keeps a map of half the side (a quarter of
        # the cost); the soft-argmax still places a thing between its cells.
        self.features = nn.Sequential(nn.Conv2d(inputs, 16, 3, stride=2, padding=1), nn.ReLU())
        self.keypoint_maps = nn.Conv2d(16, keypoints, 1)
        # Whether a region holds something: a max keeps a thing of a few pixels that an
        # average over the region (the coarse path) dilutes, and a soft-argmax, one place
        # per map, cannot count.
        self.presence = nn.Sequential(nn.AdaptiveMaxPool2d(PRESENCE_CELLS), nn.Flatten())
        with torch.no_grad():
            side = self.features(torch.zeros(1, inputs, height, breadth)).shape[2:]
        half_rows, half_columns = torch.meshgrid(
            torch.linspace(-1, 1, side[0]), torch.linspace(-1, 1, side[1]), indexing="ij"
        )
        self.register_buffer("map_coordinates", torch.stack([half_rows, half_columns]).flatten(1))  # (2, h * w)
        self.coarse = nn.Sequential(
            nn.AvgPool2d(4),
            nn.Conv2d(inputs, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            coarse_size = self.coarse(torch.zeros(1, inputs, height, breadth)).shape[1]
        presence_size = 16 * PRESENCE_CELLS**2
        self.out = nn.Sequential(nn.Linear(3 * keypoints + coarse_size + presence_size, width), nn.LayerNorm(width))
        self.size, self.trainable = width, True

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        frames = (observations.float() / self.scale).permute(0, 3, 1, 2)
        x = torch.cat([frames, self.coordinates.expand(len(frames), -1, -1, -1)], 1)
        features = self.features(x)
        logits = self.keypoint_maps(features).flatten(2)  # (F, K, H * W)
        weights = torch.softmax(logits, -1)
        where = torch.einsum("fkp,cp->fkc", weights, self.map_coordinates).flatten(1)  # (F, 2K)
        peak = logits.amax(-1)
        return self.out(torch.cat([where, peak, self.coarse(x), self.presence(features)], 1))


def make_encoder(train_observations: np.ndarray, width: int) -> FrameEncoder:
    """The encoder for observations shaped like ``train_observations`` (N, T + 1, ...)."""
    shape = train_observations.shape[2:]
    if len(shape) != 3:
        return VectorEncoder(train_observations)
    if min(shape[:2]) < 32:
        return GridEncoder(train_observations, width)
    return LocatingEncoder(train_observations, width)


class Estimator(nn.Module):
    """Encoder, memory (none, a window, or a GRU) and one output per factor component."""

    def __init__(self, config: EstimatorConfig, encoder: FrameEncoder, action_size: int, output_size: int) -> None:
        super().__init__()
        self.config, self.encoder = config, encoder
        width, inputs = config.hidden_size, encoder.size + action_size
        if config.kind == "recurrent":
            self.core: nn.Module = nn.GRU(inputs, width, batch_first=True)
        else:
            steps = 1 if config.kind == "current" else config.window
            self.core = nn.Sequential(nn.Linear(steps * inputs, width), nn.Tanh(), nn.Linear(width, width))
        self.head = nn.Sequential(nn.Tanh(), nn.Linear(width, output_size))
        self.trained_updates = 0  # set by training: where early stopping ended it

    def encode(self, observations: torch.Tensor, batch: int = 1024) -> torch.Tensor:
        """(B, T, *obs_shape) -> (B, T, encoder.size), in chunks of ``batch`` frames."""
        frames = observations.reshape(-1, *observations.shape[2:])
        features = torch.cat([self.encoder(frames[i : i + batch]) for i in range(0, len(frames), batch)])
        return features.reshape(*observations.shape[:2], -1)

    def read(self, features: torch.Tensor, previous_actions: torch.Tensor) -> torch.Tensor:
        """Outputs (B, T, output_size) from encoded observations (B, T, encoder.size)."""
        x = torch.cat([features, previous_actions], -1)
        if self.config.kind == "recurrent":
            x, _ = self.core(x)
        else:
            x = self.core(_last_steps(x, 1 if self.config.kind == "current" else self.config.window))
        return self.head(x)

    def forward(self, observations: torch.Tensor, previous_actions: torch.Tensor) -> torch.Tensor:
        return self.read(self.encode(observations), previous_actions)


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
    encoder: Optional[FrameEncoder] = None,
    features: Optional[torch.Tensor] = None,
) -> tuple[Estimator, FactorCodec]:
    """An estimator of every factor of ``hidden_space`` trained on ``train``'s sequences.

    ``encoder``: the trained encoder of a memoryless estimator, kept frozen. Without one,
    the memoryless kind trains its own, and the window and recurrent kinds on images
    first train a memoryless estimator (same seed) for theirs. ``features``: that frozen
    encoder's features of ``train``'s observations (N, T + 1, size), where the caller has
    them already, so that estimators sharing one encoder encode the frames once."""
    if features is not None and (encoder is None or tuple(features.shape[:2]) != train.observations.shape[:2]):
        raise ValueError("features need the encoder they came from and one row per step of train")
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)  # the initial weights
    order = torch.randperm(len(train), generator=generator).numpy()
    held = max(1, int(round(config.holdout * len(train))))
    if len(train) - held < 1:
        raise ValueError(f"need at least 2 training sequences to hold some out, got {len(train)}")
    fit_rows, held_rows = np.sort(order[held:]), np.sort(order[:held])
    fit, holdout = train.select(fit_rows), train.select(held_rows)
    codec = FactorCodec(hidden_space, fit)
    own_encoder = encoder is None
    if encoder is None and fit.observations.ndim == 5 and config.kind != "current":  # images: (N, T + 1, H, W, C)
        memoryless = dataclasses.replace(config, kind="current")
        encoder = train_estimator(memoryless, train, hidden_space, action_space)[0].encoder
        own_encoder = False
        torch.manual_seed(config.seed)  # the weights below start as they would with this encoder passed in
    elif encoder is None:
        encoder = make_encoder(fit.observations, config.hidden_size)
    action_size = previous_actions(fit.select(slice(0, 1)), action_space).shape[-1]
    model = Estimator(config, encoder, action_size, codec.output_size)
    end_to_end = own_encoder and config.kind == "current" and encoder.trainable
    if end_to_end:
        _train(model, codec, config, _FrameBatches(model, fit, holdout, action_space, config, generator))
    else:
        for parameter in encoder.parameters():
            parameter.requires_grad_(False)
        encoded = None if features is None else (features[fit_rows], features[held_rows])
        _train(model, codec, config, _SequenceBatches(model, fit, holdout, action_space, config, generator, encoded))
    model.eval()
    return model, codec


class _FrameBatches:
    """Single frames of the fitting sequences, encoded as the model trains (memoryless
    estimator on images); the held-out loss on up to 2,048 of the held-out frames."""

    def __init__(self, model, fit, holdout, action_space, config, generator) -> None:
        self.model, self.config, self.generator = model, config, generator
        self.observations = torch.as_tensor(fit.observations).flatten(0, 1)
        self.actions = torch.as_tensor(previous_actions(fit, action_space)).flatten(0, 1)
        self.hidden = {name: torch.as_tensor(value).flatten(0, 1) for name, value in fit.hidden.items()}
        pick = torch.randperm(len(holdout) * (holdout.num_steps + 1), generator=generator)[:2048]
        self.held = (
            torch.as_tensor(holdout.observations).flatten(0, 1)[pick],
            torch.as_tensor(previous_actions(holdout, action_space)).flatten(0, 1)[pick],
            {name: torch.as_tensor(value).flatten(0, 1)[pick] for name, value in holdout.hidden.items()},
        )

    def sample(self):
        index = torch.randint(len(self.observations), (self.config.frame_batch,), generator=self.generator)
        return self._outputs(self.observations[index], self.actions[index], self.hidden, index)

    def held_out(self):
        observations, actions, hidden = self.held
        return self._outputs(observations, actions, hidden, slice(None))

    def _outputs(self, observations, actions, hidden, index):
        outputs = self.model(observations[:, None], actions[:, None])
        return outputs, {name: value[index][:, None] for name, value in hidden.items()}


class _SequenceBatches:
    """Whole sequences of frozen features (encoded once, or given), for any kind of memory."""

    def __init__(self, model, fit, holdout, action_space, config, generator, encoded=None) -> None:
        self.model, self.config, self.generator = model, config, generator
        if encoded is None:
            with torch.no_grad():
                encoded = (
                    model.encode(torch.as_tensor(fit.observations)),
                    model.encode(torch.as_tensor(holdout.observations)),
                )
        self.features, held_features = encoded
        self.actions = torch.as_tensor(previous_actions(fit, action_space))
        self.hidden = {name: torch.as_tensor(value) for name, value in fit.hidden.items()}
        self.held = (
            held_features,
            torch.as_tensor(previous_actions(holdout, action_space)),
            {name: torch.as_tensor(value) for name, value in holdout.hidden.items()},
        )

    def sample(self):
        index = torch.randint(len(self.features), (self.config.batch_size,), generator=self.generator)
        outputs = self.model.read(self.features[index], self.actions[index])
        return outputs, {name: value[index] for name, value in self.hidden.items()}

    def held_out(self):
        features, actions, hidden = self.held
        return self.model.read(features, actions), hidden


def _train(model: Estimator, codec: FactorCodec, config: EstimatorConfig, batches) -> None:
    """Adam on ``batches`` until the held-out loss stops improving; keeps the best weights."""
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    best, best_state, waited = float("inf"), None, 0
    for update in range(1, config.updates + 1):
        outputs, hidden = batches.sample()
        loss = codec.loss(outputs, hidden)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if update % config.eval_every == 0 or update == config.updates:
            with torch.no_grad():
                held = float(codec.loss(*batches.held_out()))
            if held < best:
                best, best_state, waited = held, copy.deepcopy(model.state_dict()), 0
            else:
                waited += 1
                if waited >= config.patience:
                    break
    model.trained_updates = update
    if best_state is not None:
        model.load_state_dict(best_state)


@torch.no_grad()
def estimate(
    model: Estimator,
    codec: FactorCodec,
    sequences: Sequences,
    action_space: spaces.Space,
    batch: int = 64,
    features: Optional[torch.Tensor] = None,
) -> dict[str, Any]:
    """Every factor as the estimator reads it at every step of ``sequences``: name ->
    (N, T + 1, ...). ``features``: the model's (frozen) encoder's features of
    ``sequences``' observations, where the caller has them already."""
    actions = torch.as_tensor(previous_actions(sequences, action_space))
    outputs = []
    for i in range(0, len(sequences), batch):
        if features is None:
            outputs.append(model(torch.as_tensor(sequences.observations[i : i + batch]), actions[i : i + batch]))
        else:
            outputs.append(model.read(features[i : i + batch], actions[i : i + batch]))
    return codec.decode(torch.cat(outputs).numpy())

"""Latent world models: RSSM (DreamerV2), VSG and SVSG (Jain et al., "Learning robust
dynamics through variational sparse gating").

* ``rssm``: h_t = GRU(h_{t-1}, ELU(W [z_{t-1}, a_{t-1}])); prior p(z_t | h_t), posterior
  q(z_t | h_t, embed_t); model state [z_t, h_t].
* ``vsg``: as RSSM, but the GRU's update gate is a Bernoulli sample u_t ~ B(p_t) (straight-
  through gradient), so each step updates only some of h's dimensions and copies the rest;
  a sparsity loss alpha * KL(B(p_t) || B(kappa)) pulls the open rate towards kappa.
* ``svsg``: one Gaussian state s_t; the gated cell proposes a candidate, prior and
  posterior sample from it, and u_t mixes the sample into s_{t-1}; the KL counts only the
  dimensions updated at that step.

The stochastic latent is ``stoch`` categoricals of ``classes`` classes (one-hot samples,
straight-through) or, with ``classes = 0``, a ``stoch``-dim Gaussian (SVSG always).
Observations are 64x64x3 images (conv encoder/decoder) or vectors (MLPs). A batch of
sequences is laid out (B, T, ...): the action at index t is the one that led to
observation t (zeros at an episode's first step), and ``is_first`` resets the state.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Optional

import torch
import torch.nn.functional as F
from torch import distributions as D
from torch import nn

LatentState = dict[str, torch.Tensor]
MODELS = ("rssm", "vsg", "svsg")


@dataclasses.dataclass(frozen=True)
class WorldModelConfig:
    """Sizes and loss weights (defaults: the VSG paper's ShapeHerd settings)."""

    model: Literal["rssm", "vsg", "svsg"] = "vsg"
    deter: int = 1024  # recurrent state h (rssm, vsg)
    hidden: int = 1024  # width of the input and prior/posterior layers
    stoch: int = 32  # categorical variables, or Gaussian dimensions (svsg: the whole state)
    classes: int = 32  # classes per variable; 0 for a Gaussian latent
    cnn_depth: int = 48
    mlp_units: int = 400
    mlp_layers: int = 4  # reward and discount heads; also encoder/decoder MLPs for vectors
    kl_scale: float = 1.0
    kl_balance: float = 0.8  # weight of the term that trains the prior
    kl_free: float = 0.0  # nats; the KL is clipped below at this (after averaging)
    gate_prior: float = 0.4  # kappa
    gate_scale: float = 0.1  # alpha; 0 switches the sparsity loss off
    gate_free: float = 0.1  # the sparsity loss is clipped below at this
    discount_head: bool = True

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if self.model == "svsg" and self.classes:
            raise ValueError("svsg has a Gaussian state: set classes=0")
        if not 0.0 < self.gate_prior < 1.0:
            raise ValueError("gate_prior (kappa) must lie in (0, 1)")
        if min(self.deter, self.hidden, self.stoch, self.cnn_depth, self.mlp_units, self.mlp_layers) < 1:
            raise ValueError("sizes must be >= 1")

    @property
    def gated(self) -> bool:
        return self.model in ("vsg", "svsg")

    @property
    def stoch_size(self) -> int:
        return self.stoch * self.classes if self.classes else self.stoch

    @property
    def feature_size(self) -> int:
        return self.stoch_size if self.model == "svsg" else self.stoch_size + self.deter


def for_model(base: WorldModelConfig, model: str) -> WorldModelConfig:
    """``base`` set up for ``model`` as the VSG paper runs it: SVSG replaces the
    categorical latent and the deterministic path by one Gaussian state as wide as
    ``deter``, and uses free nats 1.0; RSSM and VSG keep ``base``."""
    if model == "svsg":
        return dataclasses.replace(base, model=model, stoch=base.deter, classes=0, kl_free=SVSG_FREE_NATS)
    return dataclasses.replace(base, model=model)


SVSG_FREE_NATS = 1.0


def elu_mlp(sizes: list[int], last_activation: bool = False) -> nn.Sequential:
    """Dense layers of ``sizes`` with ELU between them (DreamerV2's heads and encoders)."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if last_activation or i < len(sizes) - 2:
            layers.append(nn.ELU())
    return nn.Sequential(*layers)


class RecurrentCell(nn.Module):
    """DreamerV2's GRU, and VSG's gated version of it.

    One dense layer on [x, h] gives the reset, candidate and update pre-activations (in
    that order); DreamerV2 normalises them with LayerNorm (eps 1e-3, no dense bias), VSG
    does not. v = sigmoid(reset), candidate = tanh(v * cand) (the reset gate scales the
    whole candidate pre-activation, unlike ``nn.GRUCell``), p = sigmoid(update - 1). The
    GRU mixes softly, gate = p; VSG samples gate = u ~ Bernoulli(p) with straight-through
    gradients (forward: the sample, backward: as if u = p). Returns (candidate, gate, p);
    the caller mixes gate * candidate + (1 - gate) * previous.
    """

    def __init__(self, input_size: int, size: int, layer_norm: bool, bernoulli_gate: bool) -> None:
        super().__init__()
        self.layer = nn.Linear(input_size + size, 3 * size, bias=not layer_norm)
        self.norm = nn.LayerNorm(3 * size, eps=1e-3) if layer_norm else None
        self.bernoulli_gate = bernoulli_gate

    def forward(self, x: torch.Tensor, previous: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        parts = self.layer(torch.cat([x, previous], -1))
        if self.norm is not None:
            parts = self.norm(parts)
        reset, cand, update = parts.chunk(3, -1)
        candidate = torch.tanh(torch.sigmoid(reset) * cand)
        prob = torch.sigmoid(update - 1.0)  # an untrained gate opens with p ~ 0.27
        if not self.bernoulli_gate:
            return candidate, prob, prob
        sample = torch.bernoulli(prob.detach())
        return candidate, sample + prob - prob.detach(), prob


class LatentDynamics(nn.Module):
    """Prior (``img_step``) and posterior (``obs_step``) transitions of the latent state."""

    def __init__(self, config: WorldModelConfig, action_size: int, embed_size: int) -> None:
        super().__init__()
        self.config = config
        c = config
        recurrent = c.stoch_size if c.model == "svsg" else c.deter
        self.input_layer = elu_mlp([c.stoch_size + action_size, c.hidden], last_activation=True)
        # The models differ here only: VSG and SVSG drop the LayerNorm and sample the gate.
        self.cell = RecurrentCell(c.hidden, recurrent, layer_norm=not c.gated, bernoulli_gate=c.gated)
        stats_size = 2 * c.stoch if not c.classes else c.stoch * c.classes
        self.prior_net = elu_mlp([recurrent, c.hidden, stats_size])
        self.posterior_net = elu_mlp([recurrent + embed_size, c.hidden, stats_size])

    def initial(self, batch: int, device: torch.device | str | None = None) -> LatentState:
        c = self.config
        device = self.prior_net[0].weight.device if device is None else device
        state = {"stoch": torch.zeros(batch, c.stoch_size, device=device)}
        if c.model != "svsg":
            state["deter"] = torch.zeros(batch, c.deter, device=device)
        return state

    def feature(self, state: LatentState) -> torch.Tensor:
        if self.config.model == "svsg":
            return state["stoch"]
        return torch.cat([state["stoch"], state["deter"]], -1)

    def distribution(self, stats: torch.Tensor) -> D.Distribution:
        c = self.config
        stats = stats.float()  # distributions in float32, also under mixed precision
        if c.classes:
            logits = stats.reshape(*stats.shape[:-1], c.stoch, c.classes)
            return D.Independent(D.OneHotCategoricalStraightThrough(logits=logits), 1)
        mean, raw_std = stats.chunk(2, -1)
        return D.Independent(D.Normal(mean, 2 * torch.sigmoid(raw_std / 2) + 0.1), 1)

    def _sample(self, stats: torch.Tensor, sample: bool = True) -> torch.Tensor:
        dist = self.distribution(stats)
        if sample:
            value = dist.rsample()
        elif self.config.classes:
            value = F.one_hot(dist.base_dist.probs.argmax(-1), self.config.classes).float()
        else:
            value = dist.mean
        return value.reshape(*stats.shape[:-1], self.config.stoch_size)

    def _recur(self, state: LatentState, action: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The recurrent part: the new h (rssm, vsg) or the candidate s (svsg), plus gates."""
        x = self.input_layer(torch.cat([state["stoch"], action], -1))
        previous = state["stoch"] if self.config.model == "svsg" else state["deter"]
        candidate, gate, prob = self.cell(x, previous)
        if self.config.model == "rssm":
            return gate * candidate + (1 - gate) * previous, {}
        if self.config.model == "vsg":
            return gate * candidate + (1 - gate) * previous, {"gate": gate, "gate_prob": prob}
        return candidate, {"gate": gate, "gate_prob": prob}

    def img_step(self, state: LatentState, action: torch.Tensor, sample: bool = True) -> LatentState:
        recurrent, gates = self._recur(state, action)
        return self._finish(state, recurrent, gates, self.prior_net(recurrent), sample)

    def obs_step(
        self, state: LatentState, action: torch.Tensor, embed: torch.Tensor, sample: bool = True
    ) -> tuple[LatentState, LatentState]:
        """(posterior, prior) after ``action`` and seeing ``embed``; gates are shared."""
        recurrent, gates = self._recur(state, action)
        prior = self._finish(state, recurrent, gates, self.prior_net(recurrent), sample)
        posterior_stats = self.posterior_net(torch.cat([recurrent, embed], -1))
        return self._finish(state, recurrent, gates, posterior_stats, sample), prior

    def _finish(
        self,
        previous: LatentState,
        recurrent: torch.Tensor,
        gates: dict[str, torch.Tensor],
        stats: torch.Tensor,
        sample: bool,
    ) -> LatentState:
        value = self._sample(stats, sample)
        if self.config.model == "svsg":
            gate = gates["gate"]
            return {"stoch": gate * value + (1 - gate) * previous["stoch"], "stats": stats, **gates}
        return {"stoch": value, "deter": recurrent, "stats": stats, **gates}

    def observe(
        self, embeds: torch.Tensor, actions: torch.Tensor, is_first: torch.Tensor, state: Optional[LatentState] = None
    ) -> tuple[LatentState, LatentState]:
        """Filter (B, T) sequences; returns posteriors and priors stacked on axis 1."""
        batch, steps = embeds.shape[:2]
        state = self.initial(batch) if state is None else state
        posts, priors = [], []
        for t in range(steps):
            keep = (1.0 - is_first[:, t].float())[:, None]
            state = {key: value * keep for key, value in state.items() if key in ("stoch", "deter")}
            post, prior = self.obs_step(state, actions[:, t] * keep, embeds[:, t])
            posts.append(post)
            priors.append(prior)
            state = post
        return _stack(posts), _stack(priors)

    def kl_loss(self, posterior: LatentState, prior: LatentState) -> tuple[torch.Tensor, torch.Tensor]:
        """(balanced loss, mean KL) between posterior and prior statistics.

        KL balancing: ``kl_balance`` of the gradient trains the prior towards the
        (fixed) posterior, the rest the posterior towards the (fixed) prior. SVSG counts
        only the dimensions its gate updated.
        """
        c = self.config

        def kl(post_stats: torch.Tensor, prior_stats: torch.Tensor) -> torch.Tensor:
            post, pri = self.distribution(post_stats), self.distribution(prior_stats)
            if c.model == "svsg":
                per_dim = D.kl_divergence(post.base_dist, pri.base_dist)
                return (per_dim * posterior["gate"].detach()).sum(-1)
            return D.kl_divergence(post, pri)

        post_stats, prior_stats = posterior["stats"], prior["stats"]
        # Detaching changes gradients, not values: either term's mean is the KL itself.
        to_prior = kl(post_stats.detach(), prior_stats).mean()
        to_post = kl(post_stats, prior_stats.detach()).mean()
        loss = c.kl_balance * to_prior.clamp(min=c.kl_free) + (1 - c.kl_balance) * to_post.clamp(min=c.kl_free)
        return c.kl_scale * loss, to_prior.detach()


def sparsity_loss(gate_prob: torch.Tensor, kappa: float, free: float) -> torch.Tensor:
    """Mean over steps of sum over dims of KL(Bernoulli(p) || Bernoulli(kappa)), clipped below at ``free``."""
    p = gate_prob.clamp(1e-6, 1 - 1e-6)
    kl = p * torch.log(p / kappa) + (1 - p) * torch.log((1 - p) / (1 - kappa))
    return kl.sum(-1).mean().clamp(min=free)


def _stack(states: list[LatentState]) -> LatentState:
    return {key: torch.stack([state[key] for state in states], 1) for key in states[0]}


class ImageEncoder(nn.Module):
    """64x64x3 uint8 -> 4 convs (kernel 4, stride 2, depth x 1, 2, 4, 8) -> flat (2*2*8*depth)."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        channels = [3, depth, 2 * depth, 4 * depth, 8 * depth]
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(channels, channels[1:]):
            layers += [nn.Conv2d(fan_in, fan_out, 4, 2), nn.ELU()]
        self.net = nn.Sequential(*layers, nn.Flatten())
        self.output_size = 32 * depth

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        lead = images.shape[:-3]
        x = preprocess_image(images).reshape(-1, *images.shape[-3:]).permute(0, 3, 1, 2)
        return self.net(x).reshape(*lead, -1)


class ImageDecoder(nn.Module):
    """Feature -> 32*depth -> transposed convs (kernels 5, 5, 6, 6, stride 2) -> 64x64x3 mean."""

    def __init__(self, feature_size: int, depth: int) -> None:
        super().__init__()
        self.depth = depth
        self.linear = nn.Linear(feature_size, 32 * depth)
        channels = [32 * depth, 4 * depth, 2 * depth, depth, 3]
        layers: list[nn.Module] = []
        for i, (kernel, fan_in, fan_out) in enumerate(zip((5, 5, 6, 6), channels, channels[1:])):
            layers.append(nn.ConvTranspose2d(fan_in, fan_out, kernel, 2))
            if i < 3:
                layers.append(nn.ELU())
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        lead = features.shape[:-1]
        x = self.linear(features).reshape(-1, 32 * self.depth, 1, 1)
        return self.net(x).permute(0, 2, 3, 1).reshape(*lead, 64, 64, 3)


def preprocess_image(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> floats in [-0.5, 0.5]."""
    return images.float() / 255.0 - 0.5


class WorldModel(nn.Module):
    """Encoder, latent dynamics, and decoder, reward and discount heads."""

    def __init__(self, config: WorldModelConfig, obs_shape: tuple[int, ...], action_size: int) -> None:
        super().__init__()
        self.config, self.obs_shape, self.action_size = config, tuple(obs_shape), action_size
        self.images = len(self.obs_shape) == 3
        if self.images:
            if self.obs_shape != (64, 64, 3):
                raise ValueError(f"image observations must be 64x64x3, got {self.obs_shape}")
            self.encoder: nn.Module = ImageEncoder(config.cnn_depth)
            embed_size = self.encoder.output_size
            self.decoder: nn.Module = ImageDecoder(config.feature_size, config.cnn_depth)
        else:
            (obs_size,) = self.obs_shape
            hidden = [config.mlp_units] * config.mlp_layers
            self.encoder = elu_mlp([obs_size, *hidden], last_activation=True)
            embed_size = config.mlp_units
            self.decoder = elu_mlp([config.feature_size, *hidden, obs_size])
        self.dynamics = LatentDynamics(config, action_size, embed_size)
        heads = [config.feature_size] + [config.mlp_units] * config.mlp_layers
        self.reward_head = elu_mlp([*heads, 1])
        self.discount_head = elu_mlp([*heads, 1]) if config.discount_head else None

    def target(self, observations: torch.Tensor) -> torch.Tensor:
        return preprocess_image(observations) if self.images else observations.float()

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, LatentState, dict[str, float]]:
        """World-model loss on a (B, T) batch with ``observation``, ``action``, ``reward``,
        ``discount`` and ``is_first``; returns (loss, posteriors, metrics)."""
        c = self.config
        embeds = self.encoder(batch["observation"])
        posts, priors = self.dynamics.observe(embeds, batch["action"], batch["is_first"])
        features = self.dynamics.feature(posts)
        reconstruction = self.decoder(features)
        sum_dims = tuple(range(2, reconstruction.ndim))
        image_loss = 0.5 * ((reconstruction - self.target(batch["observation"])) ** 2).sum(sum_dims).mean()
        reward_loss = 0.5 * ((self.reward_head(features).squeeze(-1) - batch["reward"]) ** 2).mean()
        kl_loss, kl_value = self.dynamics.kl_loss(posts, priors)
        loss = image_loss + reward_loss + kl_loss
        metrics = {"image_loss": image_loss.item(), "reward_loss": reward_loss.item(), "kl": kl_value.item()}
        if self.discount_head is not None:
            logits = self.discount_head(features).squeeze(-1)
            discount_loss = F.binary_cross_entropy_with_logits(logits, batch["discount"])
            loss = loss + discount_loss
            metrics["discount_loss"] = discount_loss.item()
        if c.gated:
            metrics["gate_rate"] = posts["gate"].mean().item()
            metrics["gate_prob"] = posts["gate_prob"].mean().item()
            if c.gate_scale > 0:
                sparsity = sparsity_loss(posts["gate_prob"], c.gate_prior, c.gate_free)
                loss = loss + c.gate_scale * sparsity
                metrics["sparsity_loss"] = sparsity.item()
        metrics["model_loss"] = loss.item()
        return loss, posts, metrics

"""World model, actor and critic with their optimisers, and one update of all three."""

from __future__ import annotations

import copy

import torch
from torch import nn

from baselines.agents.dreamer.actor import Actor
from baselines.agents.dreamer.config import DreamerConfig
from baselines.agents.world_model import LatentState, WorldModel, elu_mlp

#: The attributes whose state dicts a resume checkpoint holds: networks and optimisers.
STATE_PARTS = ("world", "actor", "critic", "slow_critic", "model_opt", "actor_opt", "critic_opt")


class Dreamer:
    """World model, actor and critic with their optimisers."""

    def __init__(self, config: DreamerConfig, obs_shape: tuple[int, ...], action_size: int) -> None:
        self.config, self.device = config, torch.device(config.device)
        self.world = WorldModel(config.world, obs_shape, action_size).to(self.device)
        feature = config.world.feature_size
        self.actor = Actor(feature, action_size, config.actor_units, config.actor_layers).to(self.device)
        self.critic = elu_mlp([feature] + [config.actor_units] * config.actor_layers + [1]).to(self.device)
        self.slow_critic = copy.deepcopy(self.critic).requires_grad_(False)
        adam = dict(eps=config.adam_eps)
        self.model_opt = torch.optim.Adam(self.world.parameters(), lr=config.model_lr, **adam)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr, **adam)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr, **adam)
        self.updates = 0

    def state(self) -> dict:
        """Everything that decides the next updates: the networks, the slow critic, the
        three optimisers and the update count."""
        return {**{name: getattr(self, name).state_dict() for name in STATE_PARTS}, "updates": self.updates}

    def load_state(self, state: dict) -> None:
        for name in STATE_PARTS:
            getattr(self, name).load_state_dict(state[name])
        self.updates = state["updates"]

    def num_parameters(self) -> int:
        return sum(p.numel() for module in (self.world, self.actor, self.critic) for p in module.parameters())

    def autocast(self):
        """bfloat16 autocast on CUDA with ``amp``; a no-op otherwise."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.amp)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        batch = {key: value.to(self.device, non_blocking=True) for key, value in batch.items()}
        # DreamerV2's discount target: 0 at a terminal step, else the discount itself.
        batch["discount"] = batch["discount"] * cfg.discount
        with self.autocast():
            loss, posts, metrics = self.world.loss(batch)
        self._step(self.model_opt, loss, self.world)
        start = {key: posts[key].detach().flatten(0, 1) for key in ("stoch", "deter") if key in posts}
        with self.autocast():
            metrics.update(self._behaviour(start))
        self.updates += 1
        if self.updates % cfg.slow_critic_every == 0:
            self.slow_critic.load_state_dict(self.critic.state_dict())
        return metrics

    def _step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor, module: nn.Module) -> None:
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(module.parameters(), self.config.grad_clip)
        optimizer.step()
        if self.config.weight_decay:
            with torch.no_grad():
                for parameter in module.parameters():
                    parameter.mul_(1.0 - self.config.weight_decay)

    def _behaviour(self, start: LatentState) -> dict[str, float]:
        """Actor and critic on imagined rollouts from ``start``."""
        cfg = self.config
        dynamics = self.world.dynamics
        self.world.requires_grad_(False)  # gradients flow through the model, not into it
        try:
            state, features, entropies = start, [dynamics.feature(start)], []
            for _ in range(cfg.imagine_horizon):
                dist = self.actor(features[-1].detach())
                entropies.append(dist.entropy().sum(-1))
                state = dynamics.img_step(state, Actor.sample(dist))
                features.append(dynamics.feature(state))
            feats = torch.stack(features)  # (H + 1, N, F)
            rewards = self.world.reward_head(feats[1:]).squeeze(-1)
            if self.world.discount_head is not None:  # trained on targets already scaled by the discount
                discounts = torch.sigmoid(self.world.discount_head(feats[1:]).squeeze(-1))
            else:
                discounts = torch.full_like(rewards, cfg.discount)
            values = self.slow_critic(feats).squeeze(-1)
            returns = lambda_returns(rewards, values[1:], discounts, cfg.lambda_)
            weights = torch.cumprod(torch.cat([torch.ones_like(discounts[:1]), discounts[:-1]]), 0).detach()
            entropy = torch.stack(entropies)
            actor_loss = -(weights * (returns + cfg.actor_entropy * entropy)).mean()
            self._step(self.actor_opt, actor_loss, self.actor)
        finally:
            self.world.requires_grad_(True)
        value_prediction = self.critic(feats[:-1].detach()).squeeze(-1)
        critic_loss = (weights * 0.5 * (value_prediction - returns.detach()) ** 2).mean()
        self._step(self.critic_opt, critic_loss, self.critic)
        return {
            "actor_loss": actor_loss.item(),
            "critic_loss": critic_loss.item(),
            "imagined_return": returns.mean().item(),
            "actor_entropy": entropy.mean().item(),
        }


def lambda_returns(
    rewards: torch.Tensor, next_values: torch.Tensor, discounts: torch.Tensor, lambda_: float
) -> torch.Tensor:
    """R_t = r_t + d_t ((1 - lambda) v_{t+1} + lambda R_{t+1}), R_H bootstrapped with v_H.

    All (H, N); ``rewards[t]``, ``discounts[t]`` and ``next_values[t]`` belong to the step
    from imagined state t to t + 1.
    """
    returns = []
    last = next_values[-1]
    for t in reversed(range(len(rewards))):
        last = rewards[t] + discounts[t] * ((1 - lambda_) * next_values[t] + lambda_ * last)
        returns.append(last)
    return torch.stack(returns[::-1])

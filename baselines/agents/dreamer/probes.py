"""How well the world model's latent state encodes the true hidden factors."""

from __future__ import annotations

import torch

from baselines.agents.world_model import WorldModel
from pomdp_envs import scoring
from pomdp_envs.datasets import Sequences


def probe_scores(world: WorldModel, sequences: Sequences) -> dict[str, float]:
    """``pomdp_envs.scoring`` probes from the posterior features to each true hidden
    factor (R^2, or balanced accuracy for discrete factors), on offline sequences of a
    vector env (``baselines.predictors.splits.load_split``): the same scores the GateL0RD predictors
    get, so the latents can be compared."""
    observations = torch.as_tensor(sequences.observations, dtype=torch.float32)
    batch, steps = observations.shape[:2]
    actions = torch.zeros(batch, steps, world.action_size)
    if sequences.actions.ndim == 3 and world.action_size:
        actions[:, 1:] = torch.as_tensor(sequences.actions, dtype=torch.float32)
    is_first = torch.zeros(batch, steps, dtype=torch.bool)
    is_first[:, 0] = True
    with torch.no_grad():
        posts, _ = world.dynamics.observe(world.encoder(observations), actions, is_first)
        features = world.dynamics.feature(posts).numpy()
    return scoring.score_latents(features, sequences, start_steps=1)

"""A Dreamer-style agent (DreamerV2 recipe) on an RSSM, VSG or SVSG world model.

    python -m baselines.agents.dreamer cpu-small --world.model vsg          # ShapeHerd, sized for a CPU
    python -m baselines.agents.dreamer paper --world.model rssm             # the paper's sizes
    python -m baselines.agents.dreamer paper-svsg                           # SVSG: Gaussian state, free nats 1
    python -m baselines.agents.dreamer cpu-small --env-id pomdp_envs/RobotRemoteControl-v0 --help

The agent collects episodes with its current policy (uniform random actions during
``prefill``) into a seeded replay of whole episodes, and every ``train_every`` env steps
makes one update: the world model on a batch of ``batch_size`` x ``sequence_length``
windows, then actor and critic on ``imagine_horizon``-step rollouts of the prior from
every posterior state of that batch (lambda-returns bootstrapped with a slow critic
copy, actor trained by back-propagating returns through the dynamics, entropy bonus).

Writes ``metrics.csv`` (one row per ``log_every`` env steps: episodes, return and
objects scored of the episodes finished since the last row, world-model losses, KL,
gate rate, actor/critic losses), ``checkpoint.pt``, ``scores.json`` and ``curve.png``.

One module a job: ``config`` (options and presets), ``actor``, ``replay``, ``agent``
(the update of world model, actor and critic), ``loop`` (training, scores, cost),
``probes`` (latent state against the true hidden factors), ``__main__`` (command line).
"""

from baselines.agents.dreamer.actor import ActionMap, Actor, TruncatedNormal
from baselines.agents.dreamer.agent import Dreamer, lambda_returns
from baselines.agents.dreamer.config import PRESETS, DreamerConfig
from baselines.agents.dreamer.loop import check_budget, estimate_seconds, final_scores, make_env, time_parts, train
from baselines.agents.dreamer.probes import probe_scores
from baselines.agents.dreamer.replay import Episode, Replay

__all__ = [
    "PRESETS",
    "ActionMap",
    "Actor",
    "Dreamer",
    "DreamerConfig",
    "Episode",
    "Replay",
    "TruncatedNormal",
    "check_budget",
    "estimate_seconds",
    "final_scores",
    "lambda_returns",
    "make_env",
    "probe_scores",
    "time_parts",
    "train",
]

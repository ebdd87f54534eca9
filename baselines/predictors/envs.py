"""Everything the predictors know of each environment, in one table (``PREDICTOR_ENVS``,
keyed by the registry's short names): the paper's model and training settings, how the
train, test and generalisation splits are collected, the points the overlay plot draws
and the scores only that env's data defines. Adding an env to the predictor baselines
is one entry here (and one in ``pomdp_envs.registration``).

The splits follow the GateL0RD paper's protocol:

* ``billiard``: the paper's 16 sub-datasets of 50-step windows, cut from its six
  kinds of 200-step sequences (``pomdp_envs.datasets.BILLIARD_KINDS``):
  ``pocket_drop_50`` from step 0 and each other kind from steps 0, 50 and 100
  (:data:`BILLIARD_SUBSETS`). Row ``i`` of a split belongs to sub-dataset ``i % 16``,
  and :func:`balanced_batch_index` draws the paper's balanced batches (8 rows of each
  sub-dataset in a batch of 128). All windows of one sequence are in the same split,
  as in the paper (whose split is 800/200/200 of each file; here each split is drawn
  with its own seeds). Generalisation: the same windows of faster shots (speeds
  1.6-2.4 instead of 0.6-1.6 units/s), an addition of this package.
* ``rrc``: 50-step sequences of the biased policy (train, test), half with the robot
  taken under control, half without; generalisation: the uniform policy, same balance.
* ``shepherd``: 100-step sequences, the paper's four kinds in equal parts;
  generalisation: the paper's generalisation wall heights (0.5 +- U(0.15, 0.30),
  outside the training range 0.35-0.65), so the sheep is visible for more or fewer
  steps than in training.
* ``fetch``: the first 25 steps of reach-grasp-transport episodes (flat observation
  without the goal, 11 values) whose fingers close on the object at step 5, the
  paper's ``grasp_at_5`` (episodes that reach the object too late are rejected, about
  one in three); generalisation: the grasp at step 18 (needs the ``fetch`` extra;
  collected through ``SyncVectorEnv``, about a second per 20 sequences).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from baselines.predictors import metrics
from baselines.predictors.data import BILLIARD_SUBSETS, BILLIARD_WINDOW, window
from pomdp_envs.datasets import (
    BILLIARD_KINDS,
    Sequences,
    collect_billiard_kind,
    collect_sequences,
    collect_shepherd_kind,
)
from pomdp_envs.policies.robot_remote_control import BiasedPolicy, UniformPolicy
from pomdp_envs.policies.shepherd import KINDS
from pomdp_envs.registration import entry_by_short_name


@dataclasses.dataclass(frozen=True)
class EnvDefaults:
    """The paper's per-environment settings (``settings/*`` of its code)."""

    latent_size: int  # H
    feature_size: int  # F
    internal_layers: int  # GateL0RD's g and r
    rnn_layers: int  # the RNN baselines' stacked cells
    init_layers: int  # W
    init_inputs: int  # K, also the steps that always see real inputs
    num_steps: int  # transitions per training sequence
    reg_lambda: float
    ss_lr: float  # learning rate with scheduled sampling (all cores)
    ss_floor: float
    paper_epochs: int
    batches_per_epoch: int

    @property
    def start_steps(self) -> int:
        return self.init_inputs


Collector = Callable[[str, int, int], Sequences]  # (split, number of sequences, seed) -> sequences
Score = Callable[..., float]  # (model, test sequences, start steps) -> value


@dataclasses.dataclass(frozen=True)
class PredictorEnv:
    """What the predictor baselines need of one registered env."""

    defaults: EnvDefaults
    collect: Collector
    points: dict[str, tuple[int, int]]  # observation indices of the (x, y) points the overlay draws, by name
    masked_points: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)  # value = not shown
    scores: dict[str, Score] = dataclasses.field(default_factory=dict)  # scores only this env defines


def _billiard(split: str, num_sequences: int, seed: int) -> Sequences:
    speeds = {"min_speed": 1.6, "max_speed": 2.4} if split == "generalisation" else {}
    per_file = -(-num_sequences // len(BILLIARD_SUBSETS))
    files = {kind: collect_billiard_kind(kind, per_file, seed=seed, **speeds) for kind in BILLIARD_KINDS}
    subsets = [window(files[kind], start, BILLIARD_WINDOW) for kind, start in BILLIARD_SUBSETS]
    # Interleave: row i of the split is row i // 16 of sub-dataset i % 16.
    merged = Sequences.concatenate(subsets)
    order = np.arange(len(merged)).reshape(len(subsets), per_file).T.ravel()
    return merged.select(order[:num_sequences])


def _rrc(split: str, num_sequences: int, seed: int) -> Sequences:
    def policy(part_seed: int):
        return UniformPolicy(part_seed) if split == "generalisation" else BiasedPolicy(seed=part_seed)

    controlled = num_sequences // 2
    parts = [
        collect_sequences(
            entry_by_short_name("rrc").id,
            policy(seed),
            controlled,
            50,
            seed=seed,
            num_envs=4096,
            accept=lambda hidden: hidden["robot_controlled"][:, -1] == 1,
        ),
        collect_sequences(
            entry_by_short_name("rrc").id,
            policy(seed + 1),
            num_sequences - controlled,
            50,
            seed=seed + 5_000_000,
            num_envs=1024,
            accept=lambda hidden: hidden["robot_controlled"][:, -1] == 0,
        ),
    ]
    return _interleave(parts, seed)


def _shepherd(split: str, num_sequences: int, seed: int) -> Sequences:
    overrides = {"wall_heights": "generalisation"} if split == "generalisation" else {}
    kinds = sorted(KINDS)
    sizes = [num_sequences // len(kinds) + (i < num_sequences % len(kinds)) for i in range(len(kinds))]
    parts = [
        collect_shepherd_kind(kind, size, seed=seed + 1_000_000 * i, num_envs=512, **overrides)
        for i, (kind, size) in enumerate(zip(kinds, sizes))
        if size > 0
    ]
    return _interleave(parts, seed)


def _fetch(split: str, num_sequences: int, seed: int) -> Sequences:
    from pomdp_envs.policies import make_policy
    from pomdp_envs.policies.fetch_pick_and_place import grasp_accepts

    # The registry's policies: "oracle" grasps at the paper's step 5, "grasp-later" at 18.
    env_id = entry_by_short_name("fetch").id
    policy = make_policy(env_id, "grasp-later" if split == "generalisation" else "oracle", seed)
    sequences = collect_sequences(
        env_id, policy, num_sequences, 25, seed=seed, num_envs=16, accept=grasp_accepts(policy.grasp_step)
    )
    # The model sees the 11 position/finger values; the goal is not part of its input.
    sequences.observations = np.ascontiguousarray(sequences.observations[..., :11])
    return sequences


def _interleave(parts: list[Sequences], seed: int) -> Sequences:
    """Concatenate and shuffle, so that any prefix mixes the parts."""
    merged = Sequences.concatenate(parts)
    return merged.select(np.random.default_rng(seed).permutation(len(merged)))


PREDICTOR_ENVS: dict[str, PredictorEnv] = {
    "billiard": PredictorEnv(
        defaults=EnvDefaults(8, 16, 3, 3, 3, 2, 50, 1e-3, 5e-4, 0.0, 4900, 100),
        collect=_billiard,
        points={"ball": (0, 1)},
    ),
    "rrc": PredictorEnv(
        defaults=EnvDefaults(8, 8, 1, 1, 2, 1, 49, 1e-3, 5e-3, 0.02, 10000, 50),
        collect=_rrc,
        points={"agent": (0, 1), "robot (x - 2)": (2, 3)},
    ),
    "shepherd": PredictorEnv(
        defaults=EnvDefaults(8, 16, 1, 1, 3, 2, 100, 1e-4, 1e-3, 0.05, 10000, 100),
        collect=_shepherd,
        points={"agent": (0, 1), "cage": (2, 3), "sheep (x - 2)": (4, 5)},
        masked_points={"sheep (x - 2)": (0.0, 0.0)},  # the sheep's (0, 0) means hidden, not a position
        scores={"sheep_reappearance_error": metrics.sheep_reappearance_error},
    ),
    "fetch": PredictorEnv(
        defaults=EnvDefaults(16, 16, 1, 1, 2, 1, 25, 1e-4, 5e-3, 0.05, 19900, 25),
        collect=_fetch,
        points={"gripper (x, z)": (0, 2), "object (x, z)": (3, 5)},
    ),
}


def env_id(env: str) -> str:
    """The registered id of a predictor env's short name."""
    return entry_by_short_name(env).id

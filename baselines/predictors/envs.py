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
  The paper's batches hold 64 of each (:attr:`PredictorEnv.batch_groups`).
* ``shepherd``: 100-step sequences, the paper's four kinds in equal parts, row ``i``
  of kind ``i % 4`` (the paper's batches: 32 of each kind); generalisation: the paper's generalisation wall heights (0.5 +- U(0.15, 0.30),
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
    # The paper's set sizes (sequences): training, test, and generalisation (on Billiard
    # Ball and Shepherd, where the paper has none, this package's, as large as the test set).
    paper_train: int
    paper_test: int
    paper_generalisation: int

    @property
    def start_steps(self) -> int:
        return self.init_inputs


Collector = Callable[[str, int, int], Sequences]  # (split, number of sequences, seed) -> sequences
Score = Callable[..., float]  # (model, test sequences, start steps) -> value
Groups = Callable[[Sequences], np.ndarray]  # a split's sequences -> (N,) group of each


def _one_group(sequences: Sequences) -> np.ndarray:
    return np.zeros(len(sequences), dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class PredictorEnv:
    """What the predictor baselines need of one registered env."""

    defaults: EnvDefaults
    collect: Collector
    points: dict[str, tuple[int, int]]  # observation indices of the (x, y) points the overlay draws, by name
    masked_points: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)  # value = not shown
    scores: dict[str, Score] = dataclasses.field(default_factory=dict)  # scores only this env defines
    # The paper's batch composition: every batch holds as many sequences of each group (of
    # the collected split, before it is cut to ``num_steps``).
    batch_groups: Groups = _one_group


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
    # Row i is row i // 4 of kind i % 4 (the first kinds hold one more where the sizes differ).
    merged = Sequences.concatenate(parts)
    starts = np.cumsum([0, *sizes[:-1]])
    order = [starts[i % len(kinds)] + i // len(kinds) for i in range(num_sequences)]
    return merged.select(np.array(order, dtype=np.int64))


def _by_row(groups: int) -> Groups:
    """Row ``i`` belongs to group ``i % groups``."""
    return lambda sequences: np.arange(len(sequences)) % groups


def _robot_controlled(sequences: Sequences) -> np.ndarray:
    """1 where the robot was taken under control by the sequence's end, else 0."""
    return sequences.hidden["robot_controlled"][:, -1].astype(np.int64)


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
    # Sets: 800 / 200 of each of 16 sub-datasets; 3200 control + 3200 no-control sequences
    # each (the paper's RRC test set: indices 3200-6399 of its two test files); 3200 / 3200
    # of each of 4 kinds; 3200 grasp_at_5 / 640, and 3200 grasp_at_later sequences.
    "billiard": PredictorEnv(
        defaults=EnvDefaults(8, 16, 3, 3, 3, 2, 50, 1e-3, 5e-4, 0.0, 4900, 100, 12800, 3200, 3200),
        collect=_billiard,
        points={"ball": (0, 1)},
        batch_groups=_by_row(len(BILLIARD_SUBSETS)),
    ),
    "rrc": PredictorEnv(
        defaults=EnvDefaults(8, 8, 1, 1, 2, 1, 49, 1e-3, 5e-3, 0.02, 10000, 50, 6400, 6400, 6400),
        collect=_rrc,
        points={"agent": (0, 1), "robot (x - 2)": (2, 3)},
        batch_groups=_robot_controlled,
    ),
    "shepherd": PredictorEnv(
        defaults=EnvDefaults(8, 16, 1, 1, 3, 2, 100, 1e-4, 1e-3, 0.05, 10000, 100, 12800, 12800, 12800),
        collect=_shepherd,
        points={"agent": (0, 1), "cage": (2, 3), "sheep (x - 2)": (4, 5)},
        masked_points={"sheep (x - 2)": (0.0, 0.0)},  # the sheep's (0, 0) means hidden, not a position
        scores={"sheep_reappearance_error": metrics.sheep_reappearance_error},
        batch_groups=_by_row(len(KINDS)),
    ),
    "fetch": PredictorEnv(
        defaults=EnvDefaults(16, 16, 1, 1, 2, 1, 25, 1e-4, 5e-3, 0.05, 19900, 25, 3200, 640, 3200),
        collect=_fetch,
        points={"gripper (x, z)": (0, 2), "object (x, z)": (3, 5)},
    ),
}


def env_id(env: str) -> str:
    """The registered id of a predictor env's short name."""
    return entry_by_short_name(env).id

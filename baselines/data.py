"""Offline datasets for the prediction benchmarks: train, test and generalisation splits
per environment, collected with the environments' own policies and cached as ``.npz``.

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

import functools
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

import torch

from pomdp_envs.datasets import (
    BILLIARD_KINDS,
    Sequences,
    collect_billiard_kind,
    collect_sequences,
    collect_shepherd_kind,
)
from pomdp_envs.policies.robot_remote_control import BiasedPolicy, UniformPolicy
from pomdp_envs.policies.shepherd import KINDS

ENV_IDS = {
    "billiard": "pomdp_envs/BilliardBall-v0",
    "rrc": "pomdp_envs/RobotRemoteControl-v0",
    "shepherd": "pomdp_envs/Shepherd-v0",
    "fetch": "pomdp_envs/FetchPickAndPlacePO-v0",
}
SPLITS = ("train", "test", "generalisation")
# Seeds far apart so that no split shares an episode seed with another.
_SPLIT_SEED_OFFSET = {"train": 0, "test": 10_000_000, "generalisation": 20_000_000}


def default_cache_dir() -> Path:
    return Path(os.environ.get("POMDP_ENVS_CACHE", Path.home() / ".cache" / "pomdp_envs"))


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of the package version and of every source file that shapes a dataset (the
    envs, their dynamics and policies, the collectors): cached data is keyed by it, so a
    change to any of them collects afresh instead of reusing stale sequences."""
    import pomdp_envs

    root = Path(pomdp_envs.__file__).parent
    files = sorted(
        [
            *root.glob("core/*.py"),
            *root.glob("dynamics/*.py"),
            *root.glob("envs/*.py"),
            *root.glob("policies/*.py"),
            root / "datasets.py",
            Path(__file__),
        ]
    )
    digest = hashlib.sha1(pomdp_envs.__version__.encode())
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:10]


def load_split(
    env: str, split: str, num_sequences: int, seed: int = 0, cache_dir: str | os.PathLike | None = None
) -> Sequences:
    """The ``split`` of ``env`` with ``num_sequences`` sequences, from cache or collected."""
    if env not in ENV_IDS:
        raise ValueError(f"unknown env {env!r}; choose from {sorted(ENV_IDS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"{env}-{split}-n{num_sequences}-seed{seed}-{code_fingerprint()}.npz"
    if path.exists():
        return Sequences.load(path)
    sequences = _COLLECTORS[env](split, num_sequences, seed + _SPLIT_SEED_OFFSET[split])
    sequences.save(path)
    return sequences


BILLIARD_WINDOW = 50  # steps per training window (51 positions)
#: The paper's 16 Billiard Ball sub-datasets: (kind, first step of the window).
BILLIARD_SUBSETS = (
    ("pocket_drop_50", 0),
    *((kind, start) for kind in BILLIARD_KINDS[1:] for start in (0, 50, 100)),
)


def window(sequences: Sequences, start: int, num_steps: int) -> Sequences:
    """Steps ``start`` to ``start + num_steps`` of every sequence."""
    observed = slice(start, start + num_steps + 1)
    acted = slice(start, start + num_steps)
    changed = {k: v[:, observed].copy() for k, v in sequences.hidden_changed.items()}
    for flags in changed.values():
        flags[:, 0] = False  # nothing changes "before" a window's first observation
    return Sequences(
        sequences.env_id,
        sequences.observations[:, observed],
        sequences.actions[:, acted],
        sequences.rewards[:, acted],
        {k: v[:, observed] for k, v in sequences.hidden.items()},
        changed,
    )


def balanced_batch_index(
    num_rows: int, num_groups: int, batch_size: int, generator: torch.Generator, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Row indices of a batch with ``batch_size / num_groups`` rows from each group,
    where row ``i`` belongs to group ``i % num_groups`` (the paper's Billiard Ball
    batches: 8 rows of each of 16 sub-datasets)."""
    if batch_size % num_groups or num_rows < num_groups:
        raise ValueError(f"a balanced batch needs batch_size divisible by {num_groups} and at least {num_groups} rows")
    groups = torch.arange(num_groups, device=device).repeat_interleave(batch_size // num_groups)
    group_sizes = (num_rows - groups + num_groups - 1) // num_groups
    within = (torch.rand(batch_size, generator=generator, device=device) * group_sizes).long()
    return groups + num_groups * within


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
            ENV_IDS["rrc"],
            policy(seed),
            controlled,
            50,
            seed=seed,
            num_envs=4096,
            accept=lambda hidden: hidden["robot_controlled"][:, -1] == 1,
        ),
        collect_sequences(
            ENV_IDS["rrc"],
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


FETCH_GENERALISATION_GRASP_STEP = 18


def _fetch(split: str, num_sequences: int, seed: int) -> Sequences:
    from pomdp_envs.policies.fetch_pick_and_place import (
        PAPER_GRASP_STEP,
        ReachGraspTransportPolicy,
        grasp_accepts,
    )

    grasp_step = FETCH_GENERALISATION_GRASP_STEP if split == "generalisation" else PAPER_GRASP_STEP
    sequences = collect_sequences(
        ENV_IDS["fetch"],
        ReachGraspTransportPolicy(grasp_step, seed=seed),
        num_sequences,
        25,
        seed=seed,
        num_envs=16,
        accept=grasp_accepts(grasp_step),
    )
    # The model sees the 11 position/finger values; the goal is not part of its input.
    sequences.observations = np.ascontiguousarray(sequences.observations[..., :11])
    return sequences


def _interleave(parts: list[Sequences], seed: int) -> Sequences:
    """Concatenate and shuffle, so that any prefix mixes the parts."""
    merged = Sequences.concatenate(parts)
    return merged.select(np.random.default_rng(seed).permutation(len(merged)))


_COLLECTORS: dict[str, Callable[[str, int, int], Sequences]] = {
    "billiard": _billiard,
    "rrc": _rrc,
    "shepherd": _shepherd,
    "fetch": _fetch,
}


def export_minari(sequences: Sequences, dataset_id: str, description: str | None = None):
    """Write ``sequences`` as a Minari dataset (needs ``minari[hdf5]``); returns it.

    Each sequence becomes one episode truncated at its last step; the true hidden
    factors and their change flags are kept in the episode infos.
    """
    import gymnasium as gym
    import minari
    from minari.data_collector.episode_buffer import EpisodeBuffer

    env = gym.make(sequences.env_id)
    episodes = []
    for i in range(len(sequences)):
        truncations = np.zeros(sequences.num_steps, dtype=bool)
        truncations[-1] = True
        infos = {
            "hidden": {k: v[i] for k, v in sequences.hidden.items()},
            "hidden_changed": {k: v[i] for k, v in sequences.hidden_changed.items()},
        }
        episodes.append(
            EpisodeBuffer(
                id=i,
                observations=sequences.observations[i],
                actions=sequences.actions[i],
                rewards=sequences.rewards[i],
                terminations=np.zeros(sequences.num_steps, dtype=bool),
                truncations=truncations,
                infos=infos,
            )
        )
    return minari.create_dataset_from_buffers(
        dataset_id, episodes, env=env, description=description, data_format="hdf5"
    )

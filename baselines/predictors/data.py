"""Loading the predictors' datasets: the splits of each env (collected as
``baselines.predictors.envs`` describes, cached as ``.npz`` and keyed by the code that
made them), windows of sequences, the paper's balanced batches and a Minari export."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np

import torch

from pomdp_envs.datasets import BILLIARD_KINDS, Sequences

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
            *root.glob("worlds/*.py"),
            *root.glob("wrappers/*.py"),
            *root.glob("policies/*.py"),
            root / "datasets.py",
            Path(__file__),
            Path(__file__).with_name("envs.py"),
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
    # The env table imports this module's tools, so it is looked up here, not at import.
    from baselines.predictors.envs import PREDICTOR_ENVS

    if env not in PREDICTOR_ENVS:
        raise ValueError(f"unknown env {env!r}; choose from {sorted(PREDICTOR_ENVS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"{env}-{split}-n{num_sequences}-seed{seed}-{code_fingerprint()}.npz"
    if path.exists():
        return Sequences.load(path)
    sequences = PREDICTOR_ENVS[env].collect(split, num_sequences, seed + _SPLIT_SEED_OFFSET[split])
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

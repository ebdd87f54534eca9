"""Shaping the predictors' datasets: windows of sequences, the paper's balanced
batches and a Minari export (the splits themselves: ``baselines.predictors.splits``)."""

from __future__ import annotations

import numpy as np
import torch

from pomdp_envs.datasets import BILLIARD_KINDS, Sequences

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


class ShuffledPasses:
    """Batches of ``batch_size`` row indices, ``batch_size / G`` of each of the G groups of
    ``groups`` (N,), that walk through each group's rows in a fresh random order per pass,
    as a shuffling data loader does: with the paper's set sizes one pass of every group is
    one epoch (RRC: 50 batches of 64 of 3200 control sequences). A group whose pass ends
    within a batch starts its next one there. The orders are drawn from ``generator``
    when a pass starts; ``state()`` holds the passes in progress (with the generator's
    state, enough to continue them)."""

    def __init__(
        self, groups: np.ndarray, batch_size: int, generator: torch.Generator, device: torch.device | str = "cpu"
    ) -> None:
        labels = np.unique(groups)
        if batch_size % len(labels):
            raise ValueError(f"a batch of {batch_size} cannot hold as many rows of each of {len(labels)} groups")
        self.members = [torch.from_numpy(np.flatnonzero(groups == label)).to(device) for label in labels]
        self.per_group, self.generator = batch_size // len(labels), generator
        self.orders = [members[:0] for members in self.members]  # no pass started yet
        self.cursors = [0] * len(labels)

    def next(self) -> torch.Tensor:
        parts = []
        for g, members in enumerate(self.members):
            needed = self.per_group
            while needed:
                if self.cursors[g] == len(self.orders[g]):
                    order = torch.randperm(len(members), generator=self.generator, device=members.device)
                    self.orders[g], self.cursors[g] = members[order], 0
                taken = self.orders[g][self.cursors[g] : self.cursors[g] + needed]
                parts.append(taken)
                self.cursors[g] += len(taken)
                needed -= len(taken)
        return torch.cat(parts)

    def state(self) -> dict:
        # int32 on disk: a checkpoint of the paper's RRC set is 13 KB of orders, not 51.
        return {"orders": [order.cpu().int() for order in self.orders], "cursors": list(self.cursors)}

    def load_state(self, state: dict) -> None:
        self.orders = [order.to(members.device).long() for order, members in zip(state["orders"], self.members)]
        self.cursors = list(state["cursors"])


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

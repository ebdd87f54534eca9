"""Collect fixed-length sequences (observations, actions, hidden factors) through the
native vector envs, and save or load them as ``.npz``."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from pomdp_envs.core.hidden import without_masks
from pomdp_envs.files import atomic_write
from pomdp_envs.policies.base import Policy
from pomdp_envs.registration import find_entry


@dataclasses.dataclass
class Sequences:
    """N sequences of T steps. Index t of ``observations``/``hidden`` is the state before
    ``actions[:, t]``; the last one (t = T) is the state after the final action."""

    env_id: str
    observations: np.ndarray  # (N, T + 1, *obs_shape)
    actions: np.ndarray  # (N, T, *action_shape)
    rewards: np.ndarray  # (N, T) reward of each action
    hidden: dict[str, np.ndarray]  # name -> (N, T + 1, ...)
    hidden_changed: dict[str, np.ndarray]  # name -> (N, T + 1) bool, False at t = 0

    def __len__(self) -> int:
        return len(self.observations)

    @property
    def num_steps(self) -> int:
        return self.actions.shape[1]

    def any_hidden_changed(self) -> np.ndarray:
        """(N, T + 1) bool: some hidden factor changed at step t."""
        return np.any(np.stack(list(self.hidden_changed.values())), axis=0)

    def select(self, index: Any) -> Sequences:
        """The sequences picked by a boolean mask, slice or index array."""
        return Sequences(
            self.env_id,
            self.observations[index],
            self.actions[index],
            self.rewards[index],
            {k: v[index] for k, v in self.hidden.items()},
            {k: v[index] for k, v in self.hidden_changed.items()},
        )

    @staticmethod
    def concatenate(parts: list[Sequences]) -> Sequences:
        first = parts[0]
        return Sequences(
            first.env_id,
            np.concatenate([p.observations for p in parts]),
            np.concatenate([p.actions for p in parts]),
            np.concatenate([p.rewards for p in parts]),
            {k: np.concatenate([p.hidden[k] for p in parts]) for k in first.hidden},
            {k: np.concatenate([p.hidden_changed[k] for p in parts]) for k in first.hidden_changed},
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write as ``.npz`` whole or not at all (a writer killed midway leaves the
        previous file, or none), so a shared cache never holds a truncated file."""
        path = Path(path)
        arrays: dict[str, Any] = {
            "env_id": np.array(self.env_id),
            "observations": self.observations,
            "actions": self.actions,
            "rewards": self.rewards,
        }
        arrays.update({f"hidden/{k}": v for k, v in self.hidden.items()})
        arrays.update({f"hidden_changed/{k}": v for k, v in self.hidden_changed.items()})
        return atomic_write(path, lambda handle: np.savez_compressed(handle, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Sequences:
        with np.load(path) as data:

            def group(prefix: str) -> dict[str, np.ndarray]:
                return {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith(prefix + "/")}

            return cls(
                str(data["env_id"]),
                data["observations"],
                data["actions"],
                data["rewards"],
                group("hidden"),
                group("hidden_changed"),
            )


def collect_sequences(
    env_id: str,
    policy: Policy,
    num_sequences: int,
    num_steps: int,
    seed: int = 0,
    num_envs: int = 256,
    accept: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None,
    max_batches: int = 1000,
    drop_early_ends: bool = False,
    **env_kwargs: Any,
) -> Sequences:
    """Roll ``policy`` in a vector env of ``num_envs`` (the native one where the env has
    one, else Gymnasium's ``SyncVectorEnv``) until ``num_sequences``
    sequences of ``num_steps`` actions pass ``accept`` (all pass when None).

    Batch ``b`` is reset with seed ``seed + b * num_envs``, so results depend only on
    the arguments and the policy's seed. Early episode ends are switched off for the
    registered envs; an env that still terminates mid-sequence (MiniGrid, whose episodes
    end on success or failure) raises ``RuntimeError``, or with ``drop_early_ends`` its
    sequence is left out (which keeps only episodes that last the whole sequence).
    """
    if num_sequences < 1 or num_steps < 1 or num_envs < 1:
        raise ValueError("num_sequences, num_steps and num_envs must be >= 1")
    entry = find_entry(env_id)
    kwargs = {**(entry.no_early_end if entry is not None else {}), **env_kwargs}
    envs = gym.make_vec(env_id, num_envs=num_envs, max_episode_steps=num_steps, **kwargs)
    parts: list[Sequences] = []
    collected = 0
    try:
        for batch in range(max_batches):
            part = _roll_batch(envs, env_id, policy, num_steps, seed + batch * num_envs, drop_early_ends)
            if accept is not None:
                part = part.select(np.asarray(accept(part.hidden), dtype=bool))
            parts.append(part)
            collected += len(part)
            if collected >= num_sequences:
                return Sequences.concatenate(parts).select(slice(0, num_sequences))
    finally:
        envs.close()
    raise RuntimeError(
        f"only {collected} of {num_sequences} sequences accepted after {max_batches} batches of {num_envs}"
    )


def collect_shepherd_kind(
    kind: str, num_sequences: int, num_steps: int = 100, seed: int = 0, num_envs: int = 256, **env_overrides: Any
) -> Sequences:
    """Sequences of one of the paper's four Shepherd kinds (see ``policies.shepherd.KINDS``);
    ``env_overrides`` change other Shepherd settings (e.g. ``wall_heights``).

    The kinds' filters look at step 100, so ``num_steps`` must be at least 100.
    """
    from pomdp_envs.policies.shepherd import KINDS

    if kind not in KINDS:
        raise ValueError(f"unknown Shepherd kind {kind!r}; choose from {sorted(KINDS)}")
    if num_steps < 100:
        raise ValueError(f"Shepherd kinds are filtered at step 100; num_steps must be >= 100, got {num_steps}")
    spec = KINDS[kind]
    return collect_sequences(
        "pomdp_envs/Shepherd-v0",
        spec.make_policy(seed),
        num_sequences,
        num_steps,
        seed=seed,
        num_envs=num_envs,
        accept=spec.accept,
        **{**spec.env_kwargs, **env_overrides},
    )


#: The GateL0RD paper's six Billiard Ball datasets of 201 positions (200 steps).
BILLIARD_KINDS = (
    "pocket_drop_50",
    "pocket_drop_100",
    "pocket_drop_150",
    "no_pocket_drop_1",
    "no_pocket_drop_2",
    "no_pocket_drop_3",
)
BILLIARD_STEPS = 200
_KIND_SEED_STRIDE = 10_000_000  # kinds of one seed never share an episode seed


def billiard_kind_accepts(kind: str) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    """The acceptance test of one Billiard Ball kind on hidden factors (N, T + 1, ...).

    ``pocket_drop_X``: the ball is first pocketed at an observation index in
    (X - 50, X]; ``no_pocket_drop_*``: it is never pocketed.
    """
    if kind not in BILLIARD_KINDS:
        raise ValueError(f"unknown Billiard Ball kind {kind!r}; choose from {list(BILLIARD_KINDS)}")
    if kind.startswith("no_pocket_drop"):
        return lambda hidden: hidden["pocketed"][:, -1] == 0
    last = int(kind.rsplit("_", 1)[1])

    def accept(hidden: dict[str, np.ndarray]) -> np.ndarray:
        pocketed = hidden["pocketed"]
        return (pocketed[:, last] == 1) & (pocketed[:, last - 50] == 0)

    return accept


def collect_billiard_kind(
    kind: str, num_sequences: int, seed: int = 0, num_envs: int = 1024, **env_overrides: Any
) -> Sequences:
    """Sequences of 200 steps (201 positions) of one of the paper's six Billiard Ball
    kinds (:data:`BILLIARD_KINDS`), by rejection sampling; the three ``no_pocket_drop``
    kinds are independent draws of the same distribution."""
    from pomdp_envs.policies.base import NoOpPolicy

    accept = billiard_kind_accepts(kind)
    return collect_sequences(
        "pomdp_envs/BilliardBall-v0",
        NoOpPolicy(seed),
        num_sequences,
        BILLIARD_STEPS,
        seed=seed + _KIND_SEED_STRIDE * BILLIARD_KINDS.index(kind),
        num_envs=num_envs,
        accept=accept,
        **env_overrides,
    )


def _roll_batch(
    envs: gym.vector.VectorEnv, env_id: str, policy: Policy, num_steps: int, seed: int, drop_early_ends: bool = False
) -> Sequences:
    obs, info = envs.reset(seed=seed)
    ended = np.zeros(envs.num_envs, dtype=bool)
    policy.reset(obs)
    observations, actions, rewards = [obs], [], []
    hidden = {k: [v] for k, v in without_masks(info["hidden"]).items()}
    changed = {k: [v] for k, v in without_masks(info["hidden_changed"]).items()}
    for t in range(num_steps):
        action = policy.act(obs, info)
        obs, reward, terminated, _, info = envs.step(action)
        if terminated.any() and not drop_early_ends:
            raise RuntimeError(f"{env_id} terminated at step {t + 1}; pass settings that disable early ends")
        ended |= terminated
        observations.append(obs)
        actions.append(action)
        rewards.append(reward)
        for k, v in without_masks(info["hidden"]).items():
            hidden[k].append(v)
        for k, v in without_masks(info["hidden_changed"]).items():
            changed[k].append(v)
    stack = lambda items: np.stack(items, axis=1)  # noqa: E731
    sequences = Sequences(
        env_id,
        stack(observations),
        stack(actions),
        stack(rewards),
        {k: stack(v) for k, v in hidden.items()},
        {k: stack(v) for k, v in changed.items()},
    )
    return sequences.select(~ended) if ended.any() else sequences

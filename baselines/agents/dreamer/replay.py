"""Episodes as the replay stores them, and the replay that samples training windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pomdp_envs.files import atomic_write


class Episode:
    """One episode in the replay's layout: action, reward and discount at index t are those
    that led to observation t (zeros, 0 and 1 at the first step)."""

    def __init__(self, observation: np.ndarray, info: dict, action_size: int) -> None:
        self.observations = [observation]
        self.actions = [np.zeros(action_size, dtype=np.float32)]
        self.rewards, self.discounts = [0.0], [1.0]
        self.last_info = info

    @property
    def last_observation(self) -> np.ndarray:
        return self.observations[-1]

    def append(self, observation: np.ndarray, action: np.ndarray, reward: float, terminated: bool, info: dict) -> None:
        self.observations.append(observation)
        self.actions.append(np.asarray(action, dtype=np.float32))
        self.rewards.append(float(reward))
        self.discounts.append(0.0 if terminated else 1.0)
        self.last_info = info

    def arrays(self) -> dict[str, np.ndarray]:
        is_first = np.zeros(len(self.rewards), dtype=bool)
        is_first[0] = True
        observations = np.stack(self.observations)
        if observations.dtype != np.uint8:
            observations = observations.astype(np.float32)
        return {
            "observation": observations,
            "action": np.stack(self.actions),
            "reward": np.asarray(self.rewards, dtype=np.float32),
            "discount": np.asarray(self.discounts, dtype=np.float32),
            "is_first": is_first,
        }

    def summary(self) -> dict[str, float]:
        hidden = self.last_info.get("hidden", {})
        scored = float(np.sum(hidden["object_scored"])) if "object_scored" in hidden else float("nan")
        return {"return": float(np.sum(self.rewards)), "objects_scored": scored, "length": len(self.rewards) - 1}


class Replay:
    """Finished episodes, sampled as uniform windows of fixed length with a seeded generator."""

    def __init__(self, seed: int) -> None:
        self.episodes: list[dict[str, np.ndarray]] = []
        self.rng = np.random.default_rng(seed)
        self.steps = 0

    def add(self, episode: dict[str, np.ndarray]) -> None:
        self.episodes.append(episode)
        self.steps += len(episode["reward"])

    def save(self, folder: Path) -> dict:
        """Write the episodes not yet in ``folder`` (one ``.npz`` each, atomically: an
        episode never changes once added) and return what ``load`` needs besides them."""
        for index in range(len(self.episodes)):
            path = folder / f"{index:07d}.npz"
            if not path.exists():
                episode = self.episodes[index]
                atomic_write(path, lambda handle: np.savez(handle, **episode))
        return {"episodes": len(self.episodes), "rng": self.rng.bit_generator.state}

    def load(self, folder: Path, saved: dict) -> None:
        """The replay as ``save`` left it: its first ``saved["episodes"]`` episode files
        (later ones, written by a run killed before its checkpoint, are ignored)."""
        self.episodes, self.steps = [], 0
        for index in range(saved["episodes"]):
            with np.load(folder / f"{index:07d}.npz") as data:
                self.add({key: data[key] for key in data.files})
        for path in folder.glob("*.npz"):
            if int(path.stem) >= saved["episodes"]:
                path.unlink()
        self.rng.bit_generator.state = saved["rng"]

    def can_sample(self, length: int) -> bool:
        return any(len(ep["reward"]) >= length for ep in self.episodes)

    def sample(self, batch_size: int, length: int) -> dict[str, torch.Tensor]:
        usable = [ep for ep in self.episodes if len(ep["reward"]) >= length]
        windows = np.array([len(ep["reward"]) - length + 1 for ep in usable], dtype=float)
        picks = self.rng.choice(len(usable), size=batch_size, p=windows / windows.sum())
        batch: dict[str, list[np.ndarray]] = {key: [] for key in usable[0]}
        for pick in picks:
            start = self.rng.integers(0, windows[pick])
            for key, values in usable[pick].items():
                batch[key].append(values[start : start + length])
        out = {key: torch.as_tensor(np.stack(values)) for key, values in batch.items()}
        out["is_first"][:, 0] = True  # a window starts from a fresh state
        return out

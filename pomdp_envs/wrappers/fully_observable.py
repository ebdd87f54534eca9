"""The fully observable variant of an env: the control that shows what its partial view hides.

A task needs memory only if its current observation lacks something that decides the
future. ``FullyObservable(env)`` puts that back, so a memoryless model can be trained on
the same task with and without the missing information:

* Envs with a vector observation and bounded hidden factors (Billiard Ball, Robot Remote
  Control, Shepherd, and a user's own env that follows the hidden-factor protocol): the
  hidden factors of ``hidden_space`` are appended to the observation, flattened, discrete
  ones one-hot, each entry scaled into the observation's range (its smallest low to its
  largest high), in ``hidden_space``'s key order.
* Envs that know their own full view expose it as ``full_observation_space`` and
  ``full_observation()``: MiniGrid the whole grid as upstream's full-observation wrapper
  encodes it, ShapeHerd the whole arena as its 64x64 image, Fetch the upstream dimensions
  the partial view drops.

On a native vector env (``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")``) it wraps
the whole batch; for Gymnasium's ``SyncVectorEnv`` pass it as a per-env wrapper
(``gymnasium.make_vec(id, n, wrappers=[FullyObservable])``). Rewards, termination, the
action space and ``info`` (the hidden factors included) are the wrapped env's; an env
with its own full view adds ``info["partial_observation"]``, what the wrapped env showed,
so that a policy that acts on the agent's view (the MiniGrid solver) drives both variants
through the same episodes.
"""

from __future__ import annotations

from typing import Any, Protocol, SupportsFloat, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from pomdp_envs.core.hidden import without_masks


class OwnFullView(Protocol):
    """An env that draws its own fully observable variant (MiniGrid, ShapeHerd, Fetch)."""

    full_observation_space: gym.Space

    def full_observation(self) -> np.ndarray: ...


class HiddenEncoder:
    """Batched hidden factors (name -> (N, ...)) as (N, size) observation entries in
    [low, high], one part per entry of ``hidden_space`` in its key order."""

    def __init__(self, hidden_space: spaces.Dict, low: float, high: float) -> None:
        self.hidden_space, self.low, self.high = hidden_space, float(low), float(high)
        self.size = 0
        for name, space in hidden_space.spaces.items():
            if isinstance(space, spaces.Box):
                if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
                    raise ValueError(
                        f"hidden factor {name!r} has unbounded space {space}: it cannot be scaled into the "
                        "observation's range; give the env full_observation_space and full_observation()"
                    )
                self.size += int(np.prod(space.shape))
            elif isinstance(space, spaces.Discrete):
                self.size += int(space.n)
            elif isinstance(space, spaces.MultiBinary):
                self.size += int(np.prod(space.shape))
            elif isinstance(space, spaces.MultiDiscrete):
                self.size += int(np.sum(space.nvec))
            else:
                raise ValueError(f"hidden factor {name!r}: cannot encode a {type(space).__name__} space")

    def encode(self, hidden: dict[str, Any]) -> np.ndarray:
        """(N, size) entries for ``hidden`` batched over N envs."""
        parts = []
        for name, space in self.hidden_space.spaces.items():
            value = np.asarray(hidden[name])
            batch = value.shape[0]
            if isinstance(space, spaces.Box):
                unit = (value.reshape(batch, -1) - space.low.reshape(1, -1)) / (space.high - space.low).reshape(1, -1)
                parts.append(np.clip(unit, 0.0, 1.0))
            elif isinstance(space, spaces.Discrete):
                parts.append(np.eye(space.n)[value.reshape(batch) - space.start])
            elif isinstance(space, spaces.MultiBinary):
                parts.append(value.reshape(batch, -1).astype(float))
            elif isinstance(space, spaces.MultiDiscrete):  # one one-hot block per entry
                flat = value.reshape(batch, -1)
                parts += [np.eye(n)[flat[:, i]] for i, n in enumerate(space.nvec.reshape(-1))]
        unit = np.concatenate(parts, axis=1) if parts else np.zeros((0, 0))
        return self.low + (self.high - self.low) * unit


def _appended_space(observation_space: spaces.Space, encoder_size: int) -> tuple[spaces.Box, float, float]:
    if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
        raise ValueError(
            f"FullyObservable appends hidden factors to a flat Box observation, not {observation_space}; "
            "an env with another observation gives full_observation_space and full_observation()"
        )
    low, high = float(np.min(observation_space.low)), float(np.max(observation_space.high))
    if not (np.isfinite(low) and np.isfinite(high)):
        low, high = 0.0, 1.0
    space = spaces.Box(
        np.concatenate([observation_space.low, np.full(encoder_size, low)]).astype(observation_space.dtype),
        np.concatenate([observation_space.high, np.full(encoder_size, high)]).astype(observation_space.dtype),
        dtype=observation_space.dtype,
    )
    return space, low, high


class FullyObservable(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """``env`` with its hidden factors in the observation (see the module docstring).
    Given a native vector env, returns a ``FullyObservableVector`` of it."""

    def __new__(cls, env: Any = None, *args: Any, **kwargs: Any) -> Any:
        # env None: unpickling, which calls __new__ alone.
        if isinstance(env, gym.vector.VectorEnv):
            return FullyObservableVector(env)
        return super().__new__(cls)

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)  # so that env.spec can rebuild it
        gym.Wrapper.__init__(self, env)
        self._own_view = hasattr(env.unwrapped, "full_observation")
        if self._own_view:
            self.observation_space = cast(OwnFullView, env.unwrapped).full_observation_space
            self._encoder = None
        else:
            hidden_space = env.get_wrapper_attr("hidden_space")
            size = HiddenEncoder(hidden_space, 0.0, 1.0).size
            self.observation_space, low, high = _appended_space(env.observation_space, size)
            self._encoder = HiddenEncoder(hidden_space, low, high)

    def append_hidden(self, observations: np.ndarray, hidden: dict[str, Any]) -> np.ndarray:
        """Observations (N, D) of the wrapped env with hidden factors (name -> (N, ...))
        appended: this variant's observations, for data recorded from the partial env."""
        if self._encoder is None:
            raise ValueError(
                "this env gives its own full view: its observations cannot be rebuilt from the hidden factors"
            )
        extra = self._encoder.encode(hidden)
        return np.concatenate([observations, extra], axis=1).astype(self.observation_space.dtype)

    def _full(self, observation: Any, info: dict[str, Any]) -> Any:
        if self._encoder is None:
            info["partial_observation"] = observation
            return cast(OwnFullView, self.env.unwrapped).full_observation()
        hidden = {name: np.asarray(value)[None] for name, value in info["hidden"].items()}
        return self.append_hidden(np.asarray(observation)[None], hidden)[0]

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(**kwargs)
        return self._full(observation, info), info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        return self._full(observation, info), reward, terminated, truncated, info


class FullyObservableVector(gym.vector.VectorWrapper):
    """A native vector env with every env's hidden factors appended to its observation."""

    def __init__(self, env: gym.vector.VectorEnv) -> None:
        super().__init__(env)
        hidden_space = cast(Any, env.unwrapped).single_hidden_space  # the native vector envs' own attribute
        size = HiddenEncoder(hidden_space, 0.0, 1.0).size
        self.single_observation_space, low, high = _appended_space(env.single_observation_space, size)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, env.num_envs)
        self._encoder = HiddenEncoder(hidden_space, low, high)

    def _full(self, observations: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        extra = self._encoder.encode(without_masks(info["hidden"]))
        return np.concatenate([observations, extra], axis=1).astype(self.single_observation_space.dtype)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        observations, info = self.env.reset(**kwargs)
        return self._full(observations, info), info

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        observations, rewards, terminations, truncations, info = self.env.step(actions)
        return self._full(observations, info), rewards, terminations, truncations, info


def fully_observed_sequences(sequences: Any) -> Any:
    """``Sequences`` recorded from an env with vector observations, as its fully
    observable variant would have shown them: the hidden factors appended at every step."""
    import dataclasses

    wrapped = FullyObservable(gym.make(sequences.env_id))
    n, steps = sequences.observations.shape[:2]
    flat_hidden = {name: value.reshape(n * steps, *value.shape[2:]) for name, value in sequences.hidden.items()}
    flat = wrapped.append_hidden(sequences.observations.reshape(n * steps, -1), flat_hidden)
    wrapped.close()
    return dataclasses.replace(sequences, observations=flat.reshape(n, steps, -1))

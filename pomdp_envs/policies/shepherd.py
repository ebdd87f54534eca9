"""Policies for Shepherd-v0, and the mix that yields the paper's four kinds of sequences.

The GateL0RD paper trains on four sets of 100-step Shepherd sequences:

* ``gate_closed``: the agent starts on the left and never opens the gate;
* ``gate_opened_left``: it starts on the left and opens the gate after the sheep hid;
* ``gate_opened_right``: it starts on the right, opens the gate, the sheep is not caught;
* ``sheep_caught``: it starts on the right, places the cage and catches the sheep.

``KINDS`` maps each name to the env settings, the policy and the acceptance test that
produce it; :func:`pomdp_envs.datasets.collect_shepherd_kind` collects them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from pomdp_envs.dynamics.shepherd import ShepherdConfig
from pomdp_envs.policies.base import Policy, toward

START_LEFT = (-0.95, 1.0)  # agent_start_x_range of the left-start kinds
START_RIGHT = (1.0, 2.95)
CARRY, DROP, TO_LEVER, WAIT = range(4)  # phases of OraclePolicy


class RandomPolicy(Policy):
    """Random moves and a sticky grasp intent, as in the paper's data.

    dx, dy are uniform in [-1, 1]; grasp is uniform in [-0.5, 0.5] plus 0.5 times an
    intent of +1 (hold) or -1 (drop) that starts at hold and flips with probability 0.1.
    """

    flip_probability = 0.1

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(seed)
        self.intent = np.ones(0)

    def reset(self, observations: np.ndarray) -> None:
        super().reset(observations)
        self.intent = np.ones(len(observations))

    def _act(self, observations: np.ndarray) -> np.ndarray:
        n = len(observations)
        flip = self.rng.random(n) < self.flip_probability
        self.intent = np.where(flip, -self.intent, self.intent)
        grasp = self.rng.uniform(-0.5, 0.5, n) + 0.5 * self.intent
        moves = self.rng.uniform(-1.0, 1.0, (n, 2))
        return np.concatenate([moves, grasp[:, None]], axis=1)


class LeverAvoidingPolicy(RandomPolicy):
    """:class:`RandomPolicy` that turns away from the lever, so the gate stays closed."""

    def __init__(self, config: ShepherdConfig | None = None, seed: int | None = None) -> None:
        super().__init__(seed)
        self.config = config or ShepherdConfig()

    def _act(self, observations: np.ndarray) -> np.ndarray:
        actions = super()._act(observations)
        agent = observations[:, 1:3]
        lever = np.asarray(self.config.lever_xy)
        # One step moves at most step_size * sqrt(2); stay that far outside the reach.
        margin = self.config.lever_reach + 2.0 * self.config.step_size
        near = np.linalg.norm(agent - lever, axis=1) < margin
        away = np.sign(agent - lever) * np.abs(actions[:, :2])
        actions[:, :2] = np.where(near[:, None], away, actions[:, :2])
        return actions


class LeverSeekingPolicy(RandomPolicy):
    """:class:`RandomPolicy` that, from a random step in ``switch_steps``, walks to the
    lever (with noise) and pulls it, then goes back to random moves."""

    def __init__(
        self,
        switch_steps: tuple[int, int],
        config: ShepherdConfig | None = None,
        noise: float = 0.3,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        self.switch_steps = switch_steps
        self.config = config or ShepherdConfig()
        self.noise = noise
        self.switch_at = np.zeros(0, dtype=int)
        self.pulled = np.zeros(0, dtype=bool)

    def reset(self, observations: np.ndarray) -> None:
        super().reset(observations)
        low, high = self.switch_steps
        self.switch_at = self.rng.integers(low, high + 1, size=len(observations))
        self.pulled = np.zeros(len(observations), dtype=bool)

    def _act(self, observations: np.ndarray) -> np.ndarray:
        actions = super()._act(observations)
        agent = observations[:, 1:3]
        lever = np.asarray(self.config.lever_xy)
        self.pulled |= np.linalg.norm(agent - lever, axis=1) < 0.5 * self.config.lever_reach
        seeking = (self.step_index >= self.switch_at) & ~self.pulled
        noisy = toward(agent, lever, self.config.step_size) + self.rng.normal(0.0, self.noise, agent.shape)
        actions[:, :2] = np.where(seeking[:, None], np.clip(noisy, -1.0, 1.0), actions[:, :2])
        return actions


class OraclePolicy(Policy):
    """Remember the sheep's x while it is visible, carry the cage under it, drop it,
    walk to the lever and wait: the sheep walks out of the gate into the cage.

    ``noise`` adds Gaussian noise to the moves; ``cage_y_range`` is where the cage is
    dropped (drawn per episode).
    """

    def __init__(
        self,
        config: ShepherdConfig | None = None,
        noise: float = 0.0,
        cage_y_range: tuple[float, float] = (-0.3, -0.3),
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        self.config = config or ShepherdConfig()
        self.noise = noise
        self.cage_y_range = cage_y_range
        self.cage_target = np.zeros((0, 2))
        self.phase = np.zeros(0, dtype=int)

    def reset(self, observations: np.ndarray) -> None:
        super().reset(observations)
        n = len(observations)
        sheep_x = observations[:, 5]
        # A hidden sheep shows x = 0; aim at the middle of its start range instead.
        sheep_x = np.where(sheep_x == 0.0, np.mean(self.config.sheep_x_range), sheep_x)
        self.cage_target = np.stack([sheep_x, self.rng.uniform(*self.cage_y_range, size=n)], axis=1)
        self.phase = np.full(n, CARRY)

    def _act(self, observations: np.ndarray) -> np.ndarray:
        cfg = self.config
        agent, cage = observations[:, 1:3], observations[:, 3:5]
        lever = np.asarray(cfg.lever_xy)
        placed = (self.phase == CARRY) & (np.linalg.norm(cage - self.cage_target, axis=1) < 0.02)
        at_lever = (self.phase == TO_LEVER) & (np.linalg.norm(agent - lever, axis=1) < 0.5 * cfg.lever_reach)
        # A dropped cage still moves with the agent on the dropping step: drop standing still.
        self.phase = np.select([placed, self.phase == DROP, at_lever], [DROP, TO_LEVER, WAIT], self.phase)

        # The held cage moves with the agent, so steer by the cage's position.
        carry = toward(cage, self.cage_target, cfg.step_size)
        to_lever = toward(agent, lever, cfg.step_size)
        phase = self.phase[:, None]
        moves = np.select([phase == CARRY, phase == TO_LEVER], [carry, to_lever], 0.0)
        if self.noise > 0:
            noisy = np.clip(moves + self.rng.normal(0.0, self.noise, moves.shape), -1.0, 1.0)
            moves = np.where(phase == DROP, 0.0, noisy)
        grasp = np.where(self.phase == CARRY, 1.0, -1.0)
        return np.concatenate([moves, grasp[:, None]], axis=1)


@dataclasses.dataclass(frozen=True)
class SequenceKind:
    """How to produce one kind of Shepherd sequence."""

    env_kwargs: dict[str, Any]
    make_policy: Callable[[int | None], Policy]
    accept: Callable[[dict[str, np.ndarray]], np.ndarray]  # hidden (N, T+1, ...) -> (N,) bool


def _gate_ever_open(hidden: dict[str, np.ndarray]) -> np.ndarray:
    return hidden["gate_open"][:, -1] == 1


def _never_caught(hidden: dict[str, np.ndarray]) -> np.ndarray:
    return hidden["sheep_caught"][:, -1] == 0


def _opened_after_hiding(hidden: dict[str, np.ndarray]) -> np.ndarray:
    # The paper's filter: gate still closed at step 30, open by the end, sheep free.
    return (hidden["gate_open"][:, 30] == 0) & _gate_ever_open(hidden) & _never_caught(hidden)


KINDS: dict[str, SequenceKind] = {
    "gate_closed": SequenceKind(
        env_kwargs={"agent_start_x_range": START_LEFT},
        make_policy=lambda seed: LeverAvoidingPolicy(seed=seed),
        accept=lambda hidden: ~_gate_ever_open(hidden),
    ),
    "gate_opened_left": SequenceKind(
        env_kwargs={"agent_start_x_range": START_LEFT},
        make_policy=lambda seed: LeverSeekingPolicy(switch_steps=(30, 60), seed=seed),
        accept=_opened_after_hiding,
    ),
    "gate_opened_right": SequenceKind(
        env_kwargs={"agent_start_x_range": START_RIGHT},
        make_policy=lambda seed: LeverSeekingPolicy(switch_steps=(10, 40), seed=seed),
        accept=_opened_after_hiding,
    ),
    "sheep_caught": SequenceKind(
        env_kwargs={"agent_start_x_range": START_RIGHT},
        make_policy=lambda seed: OraclePolicy(noise=0.3, cage_y_range=(-0.6, -0.2), seed=seed),
        accept=lambda hidden: hidden["sheep_caught"][:, -1] == 1,
    ),
}

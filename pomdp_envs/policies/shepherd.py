"""Policies for Shepherd-v0, and the GateL0RD paper's four kinds of sequences.

The paper trains on four sets of 100-step Shepherd sequences, all of them rolled out
with its random data policy and kept by an acceptance filter on the hidden flags
(step indices count observations: index t is the state after t actions):

* ``gate_opened_left``: start left; gate closed at t = 30 and open at t = 70;
* ``gate_opened_right``: start right, walk-up / walk-left bias; the same, and the sheep
  not caught at t = 100;
* ``sheep_caught``: start right, with the bias; the sheep caught at t = 100;
* ``gate_closed``: start left; the gate still closed at t = 100.

``KINDS`` maps each name to the env settings, the policy and the acceptance test;
:func:`pomdp_envs.datasets.collect_shepherd_kind` collects them. The lever-seeking and
oracle policies are extra policies, not part of the paper's recipes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from pomdp_envs.dynamics.shepherd import ShepherdConfig, observed_positions
from pomdp_envs.policies.base import Policy, toward

CARRY, DROP, TO_LEVER, WAIT = range(4)  # phases of OraclePolicy


class RandomPolicy(Policy):
    """The paper's data policy: random moves and a sticky grasp intent.

    dx, dy are uniform in [-1, 1]; grasp is uniform in [-0.5, 0.5] plus 0.5 times an
    intent of +1 (hold) or -1 (drop) that starts at hold and flips with probability 0.1
    before each step.

    ``walk_bias=True`` adds the bias of the paper's start-right data: before each step a
    "walk up" and, independently, a "walk left" switch each turn on for good with
    probability 0.02; from the step after it turned on, and while the gate is closed
    (read from ``info["hidden"]["gate_open"]``), dy is mapped to 0.5 * dy + 0.5 (up) and
    dx to 0.5 * dx - 0.5 (left).
    """

    flip_probability = 0.1
    bias_probability = 0.02

    def __init__(self, walk_bias: bool = False, seed: int | None = None) -> None:
        super().__init__(seed)
        self.walk_bias = walk_bias
        self.intent = np.ones(0)
        self.walk_up = np.zeros(0, dtype=bool)
        self.walk_left = np.zeros(0, dtype=bool)

    def reset(self, observations: np.ndarray) -> None:
        super().reset(observations)
        n = len(observations)
        self.intent = np.ones(n)
        self.walk_up = np.zeros(n, dtype=bool)
        self.walk_left = np.zeros(n, dtype=bool)

    def _act(self, observations: np.ndarray, info: dict | None) -> np.ndarray:
        n = len(observations)
        flip = self.rng.random(n) < self.flip_probability
        self.intent = np.where(flip, -self.intent, self.intent)
        grasp = self.rng.uniform(-0.5, 0.5, n) + 0.5 * self.intent
        moves = self.rng.uniform(-1.0, 1.0, (n, 2))
        if self.walk_bias:
            gate_closed = _gate_open(info, n) == 0
            # A switch that turns on now biases the moves from the next step on.
            up_now = self.walk_up & gate_closed
            left_now = self.walk_left & gate_closed
            self.walk_up |= self.rng.random(n) < self.bias_probability
            self.walk_left |= self.rng.random(n) < self.bias_probability
            moves[:, 1] = np.where(up_now, 0.5 * moves[:, 1] + 0.5, moves[:, 1])
            moves[:, 0] = np.where(left_now, 0.5 * moves[:, 0] - 0.5, moves[:, 0])
        return np.concatenate([moves, grasp[:, None]], axis=1)


def _gate_open(info: dict | None, n: int) -> np.ndarray:
    if info is None or "hidden" not in info:
        raise ValueError("RandomPolicy(walk_bias=True) needs the env's info: call act(obs, info)")
    return np.broadcast_to(np.asarray(info["hidden"]["gate_open"]), (n,))


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
        super().__init__(seed=seed)
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

    def _act(self, observations: np.ndarray, info: dict | None) -> np.ndarray:
        actions = super()._act(observations, info)
        agent = observed_positions(observations).agent_xy
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
        seen = observed_positions(observations)
        # A hidden sheep has no x to read; aim at the middle of its start range instead.
        sheep_x = np.where(seen.sheep_visible, seen.sheep_xy[:, 0], np.mean(self.config.sheep_x_range))
        self.cage_target = np.stack([sheep_x, self.rng.uniform(*self.cage_y_range, size=n)], axis=1)
        self.phase = np.full(n, CARRY)

    def _act(self, observations: np.ndarray, info: dict | None) -> np.ndarray:
        cfg = self.config
        seen = observed_positions(observations)
        agent, cage = seen.agent_xy, seen.cage_xy
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


def _opened_between_30_and_70(hidden: dict[str, np.ndarray]) -> np.ndarray:
    return (hidden["gate_open"][:, 30] == 0) & (hidden["gate_open"][:, 70] == 1)


def _caught_at_100(hidden: dict[str, np.ndarray]) -> np.ndarray:
    return hidden["sheep_caught"][:, 100] == 1


KINDS: dict[str, SequenceKind] = {
    "gate_opened_left": SequenceKind(
        env_kwargs={"start_side": "left"},
        make_policy=lambda seed: RandomPolicy(seed=seed),
        accept=_opened_between_30_and_70,
    ),
    "gate_opened_right": SequenceKind(
        env_kwargs={"start_side": "right"},
        make_policy=lambda seed: RandomPolicy(walk_bias=True, seed=seed),
        accept=lambda hidden: _opened_between_30_and_70(hidden) & ~_caught_at_100(hidden),
    ),
    "sheep_caught": SequenceKind(
        env_kwargs={"start_side": "right"},
        make_policy=lambda seed: RandomPolicy(walk_bias=True, seed=seed),
        accept=_caught_at_100,
    ),
    "gate_closed": SequenceKind(
        env_kwargs={"start_side": "left"},
        make_policy=lambda seed: RandomPolicy(seed=seed),
        accept=lambda hidden: hidden["gate_open"][:, 100] == 0,
    ),
}

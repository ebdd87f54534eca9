"""``gymnasium.Env`` shell for the envs simulated by one stateful object (a pymunk
space, an upstream MiniGrid or MuJoCo env) rather than by batched dynamics.

The shell owns what every env of the package does alike: the render-mode check, action
validation, reset-option checks, ``ResetNeeded`` before the first reset, and the
hidden-factor protocol of ``pomdp_envs.core.hidden`` (``info["hidden"]``,
``info["hidden_changed"]``, ``info["is_success"]``). A subclass writes how its
simulation resets, steps, reports its hidden factors and draws itself, as MiniGrid's
subclasses write only ``_gen_grid``.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar, NamedTuple

import gymnasium as gym
import numpy as np

from pomdp_envs.core.checks import ActionChecker, can_render, check_render_mode, check_reset_options


class SimulationStep(NamedTuple):
    """What a subclass's ``_step_simulation`` returns."""

    observation: Any
    reward: float
    terminated: bool
    truncated: bool
    success: bool


class StatefulEnv(gym.Env):
    """Base of the envs that are not batched.

    Subclasses call ``super().__init__(render_mode)`` first, set ``observation_space``,
    ``action_space`` and ``hidden_space``, and implement ``_reset_simulation``,
    ``_step_simulation``, ``_read_hidden`` and ``_render_frame``; ``_hidden_changed``
    flags a factor whenever its value differs unless they say otherwise.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 30}
    reset_option_keys: ClassVar[tuple[str, ...]] = ()
    hidden_space: gym.spaces.Dict

    def __init__(self, render_mode: str | None = None) -> None:
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        self._hidden: dict[str, Any] | None = None

    @functools.cached_property
    def _action_checker(self) -> ActionChecker:
        # Built on first use: a subclass sets its action space after this shell's __init__.
        return ActionChecker(self.action_space)

    # What a subclass writes.

    def _reset_simulation(self, seed: int | None, options: dict[str, Any]) -> Any:
        """Start an episode (``self.np_random`` is already seeded); return the observation."""
        raise NotImplementedError

    def _step_simulation(self, action: Any) -> SimulationStep:
        """Advance by a validated ``action`` (the space's dtype and shape)."""
        raise NotImplementedError

    def _read_hidden(self) -> dict[str, Any]:
        """The hidden factors now, in ``hidden_space`` order, as fresh values."""
        raise NotImplementedError

    def _render_frame(self) -> np.ndarray:
        """An RGB frame (H, W, 3) uint8 of the current state."""
        raise NotImplementedError

    def _hidden_changed(self, previous: dict[str, Any], hidden: dict[str, Any]) -> dict[str, bool]:
        """Change flags of one step: by default, a factor changed when its value did."""
        return {name: previous[name].tobytes() != value.tobytes() for name, value in hidden.items()}

    # The Gymnasium API.

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        checked = check_reset_options(options, self.reset_option_keys)
        observation = self._reset_simulation(seed, checked)
        self._hidden = self._read_hidden()
        return observation, self._info(False, {name: False for name in self._hidden})

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self._hidden is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        result = self._step_simulation(self._action_checker(action)[0])
        previous, self._hidden = self._hidden, self._read_hidden()
        info = self._info(result.success, self._hidden_changed(previous, self._hidden))
        return result.observation, float(result.reward), bool(result.terminated), bool(result.truncated), info

    def render(self) -> np.ndarray | None:
        return self._render_frame() if can_render(self.render_mode, self._hidden is not None) else None

    def _info(self, success: bool, changed: dict[str, bool]) -> dict[str, Any]:
        # A copy, so that a caller editing the info cannot corrupt the next change flags.
        return {"is_success": bool(success), "hidden": dict(self._hidden or {}), "hidden_changed": changed}

"""``gymnasium.Env`` shell around batched dynamics (a batch of one)."""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from pomdp_envs.core.checks import ActionChecker, can_render, check_render_mode, check_reset_options
from pomdp_envs.core.dynamics import Dynamics, make_config
from pomdp_envs.core.hidden import no_changes, single_info


class EnvSpaces(NamedTuple):
    """The three spaces of one env family, built from its config."""

    observation: spaces.Space
    action: spaces.Space
    hidden: spaces.Dict


class BatchedCoreEnv(gym.Env):
    """A single environment whose dynamics run as a batch of one.

    Subclasses set ``dynamics_cls``, ``config_cls``, ``metadata`` and
    ``default_max_episode_steps``, and implement ``build_spaces`` and ``render_state``.
    Episode truncation comes from Gymnasium's ``TimeLimit`` (added by ``gymnasium.make``
    from the registered ``max_episode_steps``), as for Gymnasium's classic-control envs.
    """

    dynamics_cls: ClassVar[type[Dynamics]]
    config_cls: ClassVar[type]
    default_max_episode_steps: ClassVar[int]
    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, render_mode: str | None = None, config: Any = None, **config_overrides: Any) -> None:
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        self.config = make_config(self.config_cls, config, config_overrides)
        self.dynamics = self.dynamics_cls(self.config)
        env_spaces = self.build_spaces(self.config)
        self.observation_space = env_spaces.observation
        self.action_space = env_spaces.action
        self.hidden_space = env_spaces.hidden
        self._check_action = ActionChecker(self.action_space)
        self.state: tuple | None = None

    @classmethod
    def build_spaces(cls, config: Any) -> EnvSpaces:
        """Observation, action and hidden-factor spaces for ``config``."""
        raise NotImplementedError

    @classmethod
    def render_state(cls, config: Any, state: Any) -> np.ndarray:
        """An RGB frame (H, W, 3) uint8 of a batch-of-one ``state``."""
        raise NotImplementedError

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        checked = check_reset_options(options, self.dynamics.reset_option_keys)
        uniforms = self.np_random.random((1, self.dynamics.num_reset_uniforms))
        state = self.dynamics.initial_state(uniforms)
        if checked:
            state = self.dynamics.apply_reset_options(state, checked)
        self.state = state
        hidden = self.dynamics.hidden(state)
        info = single_info(hidden, no_changes(hidden), self.dynamics.task_info(state))
        return self.dynamics.observe(state)[0], info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.state is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        batch_action = self._check_action(action)
        transition = self.dynamics.step(self.state, batch_action)
        self.state = transition.state
        info = single_info(
            self.dynamics.hidden(self.state), transition.hidden_changed, self.dynamics.task_info(self.state)
        )
        obs = self.dynamics.observe(self.state)[0]
        return obs, float(transition.reward[0]), bool(transition.terminated[0]), False, info

    def render(self) -> np.ndarray | None:
        return (
            self.render_state(self.config, self.state) if can_render(self.render_mode, self.state is not None) else None
        )

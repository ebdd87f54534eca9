"""Native ``gymnasium.vector.VectorEnv`` shell: the same dynamics on a batch of N."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from pomdp_envs.core.checks import ActionChecker, can_render, check_render_mode, check_reset_options
from pomdp_envs.core.dynamics import make_config, take_state
from pomdp_envs.core.hidden import no_changes, vector_info
from pomdp_envs.core.single import BatchedCoreEnv


class BatchedCoreVectorEnv(VectorEnv):
    """N environments stepped together by one call of the batched dynamics.

    Behaves exactly like ``SyncVectorEnv`` over N copies of ``single_env_cls`` made with
    ``gymnasium.make``: sub-env ``i`` is seeded with ``seed + i``, draws its start states
    from its own generator, truncates after ``max_episode_steps`` and resets on the
    step after it ends (``AutoresetMode.NEXT_STEP``: that step ignores its action and
    returns the reset observation with reward 0).
    """

    single_env_cls: ClassVar[type[BatchedCoreEnv]]
    #: Start states each sub-env draws from its generator at once. Drawing k uniforms
    #: b times gives the same numbers as drawing b * k once, so buffering keeps the
    #: streams identical to single envs while saving a Python call per reset.
    reset_block: ClassVar[int] = 64

    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        config: Any = None,
        **config_overrides: Any,
    ) -> None:
        if int(num_envs) != num_envs or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        single = self.single_env_cls
        check_render_mode(render_mode, single.metadata["render_modes"])
        if max_episode_steps is None:
            max_episode_steps = single.default_max_episode_steps
        if max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {max_episode_steps}")

        self.num_envs = int(num_envs)
        self.max_episode_steps = int(max_episode_steps)
        self.render_mode = render_mode
        self.metadata = {**single.metadata, "autoreset_mode": AutoresetMode.NEXT_STEP}
        self.config = make_config(single.config_cls, config, config_overrides)
        self.dynamics = single.dynamics_cls(self.config)

        env_spaces = single.build_spaces(self.config)
        self.single_observation_space = env_spaces.observation
        self.single_action_space = env_spaces.action
        self.single_hidden_space = env_spaces.hidden
        self.observation_space = batch_space(env_spaces.observation, self.num_envs)
        self.action_space = batch_space(env_spaces.action, self.num_envs)
        self.hidden_space = batch_space(env_spaces.hidden, self.num_envs)
        self._check_action = ActionChecker(env_spaces.action)

        self.state: tuple | None = None
        self.env_rngs: list[np.random.Generator] = []
        k = self.dynamics.num_reset_uniforms
        self._uniform_buffer = np.empty((self.num_envs, self.reset_block, k))
        self._buffer_next = np.full(self.num_envs, self.reset_block)
        self.episode_steps = np.zeros(self.num_envs, dtype=np.int64)
        self.prev_done = np.zeros(self.num_envs, dtype=bool)

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        checked = check_reset_options(options, self.dynamics.reset_option_keys)
        self._seed_envs(seed)
        state = self._fresh_states(np.arange(self.num_envs))
        if checked:
            state = self.dynamics.apply_reset_options(state, checked)
        self.state = state
        self.episode_steps[:] = 0
        self.prev_done[:] = False
        hidden = self.dynamics.hidden(state)
        info = vector_info(hidden, no_changes(hidden), self.dynamics.task_info(state))
        return self.dynamics.observe(state), info

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self.state is None:
            raise ResetNeeded("call reset() before step()")
        batch_action = self._check_action(actions, self.num_envs)
        transition = self.dynamics.step(self.state, batch_action)
        state, changed = transition.state, transition.hidden_changed
        reward, terminated = transition.reward, transition.terminated
        self.episode_steps += 1
        truncated = self.episode_steps >= self.max_episode_steps

        if self.prev_done.any():
            # Sub-envs that ended last step start a new episode instead of stepping.
            done_idx = np.flatnonzero(self.prev_done)
            state = _scatter(state, self._fresh_states(done_idx), done_idx)
            reward = np.where(self.prev_done, 0.0, reward)
            terminated = terminated & ~self.prev_done
            truncated = truncated & ~self.prev_done
            changed = {name: flag & ~self.prev_done for name, flag in changed.items()}
            self.episode_steps[done_idx] = 0

        self.state = state
        self.prev_done = terminated | truncated
        info = vector_info(self.dynamics.hidden(state), changed, self.dynamics.task_info(state))
        return self.dynamics.observe(state), reward, terminated, truncated, info

    def render(self) -> tuple[np.ndarray, ...] | None:
        """One frame per sub-env (``rgb_array``), as ``SyncVectorEnv`` returns them."""
        # As the single env: a warning without a render mode, an error before reset.
        if not can_render(self.render_mode, self.state is not None):
            return None
        state, render = self.state, self.single_env_cls.render_state
        assert state is not None  # can_render raised before the first reset
        return tuple(render(self.config, take_state(state, i)) for i in range(self.num_envs))

    def _seed_envs(self, seed: int | Sequence[int | None] | None) -> None:
        if seed is None:
            if not self.env_rngs:
                self._seed_envs([None] * self.num_envs)
            return
        if isinstance(seed, (int, np.integer)):
            seeds: list[int | None] = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"expected {self.num_envs} seeds, got {len(seeds)}")
        self.env_rngs = [seeding.np_random(s)[0] for s in seeds]
        self._buffer_next[:] = self.reset_block  # drop draws from the old generators
        self._np_random, self._np_random_seed = seeding.np_random(seeds[0])

    def _fresh_states(self, env_idx: np.ndarray) -> tuple:
        """Start states for the given sub-envs, each drawn from its own generator."""
        block, k = self.reset_block, self.dynamics.num_reset_uniforms
        for i in env_idx[self._buffer_next[env_idx] == block]:
            self._uniform_buffer[i] = self.env_rngs[i].random((block, k))
            self._buffer_next[i] = 0
        uniforms = self._uniform_buffer[env_idx, self._buffer_next[env_idx]]
        self._buffer_next[env_idx] += 1
        return self.dynamics.initial_state(uniforms)


def _scatter(template: tuple, rows: tuple, idx: np.ndarray) -> tuple:
    """A copy of batched ``template`` with ``rows`` written at positions ``idx``."""
    fields = []
    for full, part in zip(template, rows):
        out = full.copy()
        out[idx] = part
        fields.append(out)
    return type(template)(*fields)

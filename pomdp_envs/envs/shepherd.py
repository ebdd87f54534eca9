"""Shepherd: remember where the sheep went behind the wall."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from pomdp_envs.core.single import BatchedCoreEnv, EnvSpaces
from pomdp_envs.core.vector import BatchedCoreVectorEnv
from pomdp_envs.dynamics.shepherd import (
    FIELD_HIGH,
    FIELD_LOW,
    SHEEP_BOTTOM_Y,
    SHEEP_TOP_Y,
    SHEEP_X_LIMITS,
    ShepherdConfig,
    ShepherdDynamics,
    ShepherdState,
)
from pomdp_envs.rendering.shepherd import render_shepherd


class ShepherdEnv(BatchedCoreEnv):
    """Catch a sheep in a cage after it has been hidden behind a wall for a long time.

    A wall along y = 0 separates the stable above from the field below (world units).
    The sheep starts at the top of the stable, x uniform in [1.5, 2.5], y = 0.95, and
    walks straight down 0.025 per step. Below the occluder height h (uniform in
    [0.35, 0.65], observed) it is hidden while the gate is closed, and it waits behind
    the wall at y = 0. The agent (field x in [-0.95, 2.95], y in [-0.95, -0.05]) starts
    holding a cage. Touching the lever at (-0.85, 0) (within 0.2) opens the gate for
    good; the sheep then reappears at the same x and walks down through the field. It is
    caught when it comes within 0.1 of the cage while the cage lies on the ground and
    the gate is open. The sheep is visible for only 12 to 24 steps at the start, so the
    agent must remember its x to place the cage.

    ## Observation space

    ``Box(7,), float32``, world units:

    | index | name | min | max |
    |-------|------|-----|-----|
    | 0 | occluder height h | 0 | 0.95 |
    | 1, 2 | agent x, y | (-0.95, -0.95) | (2.95, -0.05) |
    | 3, 4 | cage x, y | (-0.95, -0.95) | (2.95, -0.05) |
    | 5, 6 | sheep x, y; **(0, 0) while hidden** | (-0.95, -1.05) | (2.95, 0.95) |

    A visible sheep never has x = 0 (its x stays in [1.05, 2.95] until caught), so the
    mask value is unambiguous.

    ## Action space

    ``Box(-1, 1, (3,), float32)``: (dx, dy, grasp). The agent moves by 0.1 * (dx, dy),
    clipped to the field; a held cage moves with it. ``grasp > 0`` picks the cage up
    when the agent is within 0.1 of it (and keeps holding it); ``grasp <= 0`` drops it.
    Actions outside the box raise ``ValueError``.

    ## Reward, termination, truncation

    Reward 1 on the step the sheep is caught, else 0; ``info["is_success"]`` is True
    once it is caught. The episode terminates then (``terminate_on_catch=False`` keeps
    it running: a caught sheep stays in the cage). ``gymnasium.make`` truncates after
    100 steps.

    ## Start state

    Agent x uniform in ``agent_start_x_range`` (default the whole field), y uniform in
    the field; cage held, within 0.05 of the agent per axis; h and the sheep's x as
    above; gate closed (six uniforms from ``np_random``). ``reset(options=...)`` accepts
    ``agent_xy``, ``sheep_x`` and ``occluder_height``.

    ## Hidden factors (``info["hidden"]``, ``hidden_space``)

    | name | space | changed (``info["hidden_changed"]``) when |
    |------|-------|-------------------------------------------|
    | ``sheep_xy`` | ``Box((2,), float32)``, the true position also while hidden | the sheep stops (at the closed gate, at the bottom, in the cage) or starts walking again (gate opens) |
    | ``gate_open`` | ``Discrete(2)`` | the agent touches the lever |
    | ``cage_held`` | ``Discrete(2)`` | the cage is picked up or dropped |
    | ``sheep_caught`` | ``Discrete(2)`` | the sheep is caught |

    ## Policies

    :mod:`pomdp_envs.policies.shepherd` has the data-collection policy mix that yields
    the paper's four kinds of sequences and a scripted oracle.

    ## Arguments

    Keyword arguments override :class:`ShepherdConfig` fields (``lever_xy``,
    ``lever_reach``, ``grasp_reach``, ``catch_reach``, ``sheep_speed``,
    ``sheep_x_range``, ``occluder_height_range``, ``agent_start_x_range``,
    ``terminate_on_catch``, ``step_size``). ``render_mode="rgb_array"`` returns 800x440
    frames; the sheep is drawn dimmed behind the occluder while hidden.

    ## Version history

    * v0: initial release.
    """

    dynamics_cls = ShepherdDynamics
    config_cls = ShepherdConfig
    default_max_episode_steps = 100
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    @classmethod
    def build_spaces(cls, config: ShepherdConfig) -> EnvSpaces:
        obs_low = np.array([0.0, *FIELD_LOW, *FIELD_LOW, FIELD_LOW[0], SHEEP_BOTTOM_Y], dtype=np.float32)
        obs_high = np.array([SHEEP_TOP_Y, *FIELD_HIGH, *FIELD_HIGH, SHEEP_X_LIMITS[1], SHEEP_TOP_Y], dtype=np.float32)
        flag = spaces.Discrete(2)
        return EnvSpaces(
            observation=spaces.Box(obs_low, obs_high, dtype=np.float32),
            action=spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32),
            hidden=spaces.Dict(
                {
                    "sheep_xy": spaces.Box(obs_low[5:], obs_high[5:], dtype=np.float32),
                    "gate_open": flag,
                    "cage_held": flag,
                    "sheep_caught": flag,
                }
            ),
        )

    @classmethod
    def render_state(cls, config: ShepherdConfig, state: ShepherdState) -> np.ndarray:
        return render_shepherd(config, state)


class ShepherdVectorEnv(BatchedCoreVectorEnv):
    """Native vector version of :class:`ShepherdEnv` (same dynamics, batched)."""

    single_env_cls = ShepherdEnv

"""Shepherd: remember where the sheep went behind the wall."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from pomdp_envs.core.single import BatchedCoreEnv, EnvSpaces
from pomdp_envs.core.vector import BatchedCoreVectorEnv
from pomdp_envs.dynamics.shepherd import (
    CAGE_START_OFFSET,
    FIELD_HIGH,
    FIELD_LOW,
    FIELD_OBS_SCALE,
    FIELD_OBS_SHIFT,
    SHEEP_BOTTOM_Y,
    SHEEP_OBS_SHIFT,
    SHEEP_START_Y_JITTER,
    SHEEP_TOP_Y,
    SHEEP_X_LIMITS,
    START_X_RANGES,
    START_Y_RANGE,
    WALL_HEIGHT_LIMITS,
    ShepherdConfig,
    ShepherdDynamics,
    ShepherdState,
)
from pomdp_envs.rendering.shepherd import render_shepherd


class ShepherdEnv(BatchedCoreEnv):
    """Catch a sheep in a cage after it has been hidden behind a wall for a long time.

    The GateL0RD paper's Shepherd task. A wall along y = 0 separates the stable above
    from the field below (world units). The sheep starts at the top of the stable, x
    uniform in [1.5, 2.5], y = 0.95 +- 0.005, and walks straight down 0.025 per step.
    Once it is below the wall height h while the gate is closed, it is hidden and waits
    behind the wall at y = 0. The agent (field x in [-0.95, 2.95], y in
    [-0.95, -0.05]) starts holding a cage. Touching the lever at (-0.85, 0) (within
    0.2) opens the gate for good; the sheep then reappears at the stable's mouth at the
    same x, one step after the gate opened, and walks down through the field. It is
    caught when it comes within 0.1 of the cage while the cage lies on the ground and
    the gate is open. The sheep is visible for only ceil((0.95 - h) / 0.025), i.e. 12 to
    24, steps at the start, so the agent must remember its x to place the cage. The
    order of updates within a step is listed in :mod:`pomdp_envs.dynamics.shepherd`.

    ## Observation space

    ``Box(7,), float32``, the paper's layout and scaling (x, y in world units):

    | index | name | value | min | max |
    |-------|------|-------|-----|-----|
    | 0, 1 | agent x', y' | ((x - 1) / 2, (y + 0.5) / 2) | (-3.025, -0.775) | (1.025, 0.275) |
    | 2, 3 | cage x', y' | same scaling | (-3.025, -0.775) | (1.025, 0.275) |
    | 4, 5 | sheep | (x - 2, y); **(0, 0) while hidden** | (-0.95, -1.05) | (0.95, 0.955) |
    | 6 | wall height h | h | 0 | 0.95 |

    After the first step agent and cage lie in the field: x' in [-0.975, 0.975],
    y' in [-0.225, 0.225]. The wider bounds hold the unclipped start positions (see
    below).

    ## Action space

    ``Box(-1, 1, (3,), float32)``: (dx, dy, grasp). The agent moves by 0.1 * (dx, dy),
    clipped to the field; a held cage moves by the same amount and is clipped on its
    own. ``grasp > 0`` picks the cage up when the agent is within 0.1 of it (and keeps
    holding it); ``grasp <= 0`` drops it (after this step's move). Actions outside the
    box raise ``ValueError``.

    ## Reward, termination, truncation

    Reward 1 on every step the sheep is in the cage, else 0; ``info["is_success"]`` is
    True once it is caught. The episode terminates then (``terminate_on_catch=False``
    keeps it running: a caught sheep stays caught). ``gymnasium.make`` truncates after
    100 steps.

    ## Start state

    As in the paper's env, without clipping: agent x uniform in [-5, 3] for
    ``start_side="left"`` (so about half the starts lie beyond the left wall and are
    clipped to it, near the lever, by the first step) or in [1, 3] for ``"right"``;
    agent y uniform in [-2, 0]; cage held, within 0.05 of the agent per axis; gate
    closed. The wall height h is uniform in [0.35, 0.65] (``wall_heights="train"``),
    0.5 +- U(0.15, 0.30) (``"generalisation"``: [0.2, 0.35] or [0.65, 0.8]) or 0.5
    (``"fixed"``). ``clip_start=True`` clips agent and cage into the field at reset.
    Eight uniforms from ``np_random``. ``reset(options=...)`` accepts ``agent_xy``
    (inside the field), ``sheep_x`` and ``wall_height``.

    ## Hidden factors (``info["hidden"]``, ``hidden_space``)

    | name | space | changed (``info["hidden_changed"]``) when |
    |------|-------|-------------------------------------------|
    | ``sheep_xy`` | ``Box((2,), float32)``, world units, the true position also while hidden | the sheep goes behind the wall or reappears, reaches the bottom or is caught |
    | ``gate_open`` | ``Discrete(2)`` | the agent touches the lever |
    | ``cage_held`` | ``Discrete(2)`` | the cage is picked up or dropped |
    | ``sheep_caught`` | ``Discrete(2)`` | the sheep is caught |

    ``pomdp_envs.wrappers.FullyObservable(env)`` appends them to the observation, each
    scaled into the observation's range [-3.025, 1.025]: ``Box((15,), float32)``, the seven
    entries above, then ``cage_held``, ``gate_open`` and ``sheep_caught`` one-hot (-3.025 for
    no, 1.025 for yes) and ``sheep_xy`` mapped linearly from its box.

    ## Policies

    :mod:`pomdp_envs.policies.shepherd` has the paper's random data policy (with the
    start-right walk-up / walk-left bias), the paper's four acceptance filters, and
    a lever-seeking and a scripted oracle policy.

    ## Arguments

    Keyword arguments override :class:`ShepherdConfig` fields (``start_side``,
    ``wall_heights``, ``clip_start``, ``terminate_on_catch``, ``lever_xy``,
    ``lever_reach``, ``grasp_reach``, ``catch_reach``, ``sheep_speed``,
    ``sheep_x_range``, ``step_size``). ``render_mode="rgb_array"`` returns 800x440
    frames; the sheep is drawn dimmed behind the wall while hidden.

    ## Version history

    * v0: initial release. Differences from the paper's env, all deliberate: seeded
      through ``np_random`` (same distributions, not the same draws); Gymnasium's
      five-tuple step with truncation after 100 steps; the wall-proximity entries of the
      paper's info array are not reported.
    """

    dynamics_cls = ShepherdDynamics
    config_cls = ShepherdConfig
    default_max_episode_steps = 100
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    @classmethod
    def build_spaces(cls, config: ShepherdConfig) -> EnvSpaces:
        # Start positions are not clipped: the widest ones bound the first observation.
        start_low = np.array([START_X_RANGES["left"][0], START_Y_RANGE[0]]) - CAGE_START_OFFSET
        start_high = np.array([max(r[1] for r in START_X_RANGES.values()), START_Y_RANGE[1]]) + CAGE_START_OFFSET
        field_low = (np.minimum(start_low, FIELD_LOW) - FIELD_OBS_SHIFT) / FIELD_OBS_SCALE
        field_high = (np.maximum(start_high, FIELD_HIGH) - FIELD_OBS_SHIFT) / FIELD_OBS_SCALE
        sheep_low = np.array([SHEEP_X_LIMITS[0], SHEEP_BOTTOM_Y])
        sheep_high = np.array([SHEEP_X_LIMITS[1], SHEEP_TOP_Y + SHEEP_START_Y_JITTER])
        obs_low = np.array([*field_low, *field_low, *(sheep_low - SHEEP_OBS_SHIFT), WALL_HEIGHT_LIMITS[0]])
        obs_high = np.array([*field_high, *field_high, *(sheep_high - SHEEP_OBS_SHIFT), WALL_HEIGHT_LIMITS[1]])
        flag = spaces.Discrete(2)
        return EnvSpaces(
            observation=spaces.Box(obs_low.astype(np.float32), obs_high.astype(np.float32), dtype=np.float32),
            action=spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32),
            hidden=spaces.Dict(
                {
                    "sheep_xy": spaces.Box(
                        sheep_low.astype(np.float32), sheep_high.astype(np.float32), dtype=np.float32
                    ),
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

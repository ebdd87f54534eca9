"""Robot Remote Control: does the agent control the robot yet?"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from pomdp_envs.core.single import BatchedCoreEnv, EnvSpaces
from pomdp_envs.core.vector import BatchedCoreVectorEnv
from pomdp_envs.dynamics.robot_remote_control import (
    RobotRemoteControlConfig,
    RobotRemoteControlDynamics,
    RobotRemoteControlState,
)
from pomdp_envs.rendering.robot_remote_control import render_robot_remote_control


class RobotRemoteControlEnv(BatchedCoreEnv):
    """An agent moves in one room; after it visits a terminal, a robot in the next room
    copies every move. Whether the robot is under control is the hidden factor.

    The GateL0RD paper's Robot Remote Control task; the order of updates within a step
    is the paper's: agent (and, if already controlled, robot) move, both are clipped to
    their rooms, then the terminal is checked, then the goal.

    Two rooms lie side by side (world units): the agent's room x, y in [-0.95, 0.95] and
    the robot's room x in [1.05, 2.95], y in [-0.95, 0.95]. Each step the agent moves by
    ``0.1 * action``, clipped to its room. When the agent ends a step within 0.1 of the
    terminal at (0.5, 0.5), it takes control of the robot for the rest of the episode;
    from the next step on the robot moves by the same displacement, clipped to its room.
    The task is to bring the robot to the goal at (2.5, -0.5).

    ## Observation space

    ``Box(-1, 1, (4,), float32)``; the robot's x is shifted by -2 so that both
    entities share one frame. After the first step every entry lies in [-0.95, 0.95];
    the first observation can lie up to 0.05 outside, as start positions are not
    clipped (see below).

    | index | name | unit | min | max |
    |-------|------|------|-----|-----|
    | 0 | agent x | world units | -1 | 1 |
    | 1 | agent y | world units | -1 | 1 |
    | 2 | robot x - 2 | world units | -1 | 1 |
    | 3 | robot y | world units | -1 | 1 |

    ## Action space

    ``Box(-1, 1, (2,), float32)``: (dx, dy) of the agent in units of 0.1 world units.
    Actions outside the box raise ``ValueError`` (use ``gymnasium.wrappers.ClipAction``).

    ## Reward, termination, truncation

    Reward 1 on every step that ends with the robot within 0.1 of the goal, else 0
    (``reward_type="dense"``: minus the robot's distance to the goal, world units).
    ``info["is_success"]`` is True while the robot is within ``goal_reach`` (0.1) of the
    goal; the episode terminates then (``terminate_on_success=False`` keeps it running,
    as the data-collection code does). ``gymnasium.make`` truncates after 50 steps.

    ## Start state

    As in the paper: agent uniform in [-1, 1]^2, robot uniform in [1, 3] x [-1, 1], not
    clipped until the first step (``clip_start=True`` clips them into the rooms at
    reset); robot not controlled (four uniforms from ``np_random``).
    ``reset(options={"agent_xy": ..., "robot_xy": ..., "controlled": 0 or 1})``
    overrides any part (points inside the rooms).

    ## Hidden factors (``info["hidden"]``, ``hidden_space``)

    | name | space | changed (``info["hidden_changed"]``) when |
    |------|-------|-------------------------------------------|
    | ``robot_controlled`` | ``Discrete(2)`` | the agent reaches the terminal (at most once per episode) |

    ``pomdp_envs.wrappers.FullyObservable(env)`` appends it to the observation:
    ``Box(-1, 1, (6,), float32)``, the four positions, then ``robot_controlled`` one-hot
    (-1 for no, 1 for yes).

    ## Policies

    :mod:`pomdp_envs.policies.robot_remote_control` has the paper's "biased" and
    "uniform" data-collection policies and a scripted oracle.

    ## Arguments

    Keyword arguments override :class:`RobotRemoteControlConfig` fields (``step_size``,
    ``terminal_xy``, ``terminal_reach``, ``goal_xy``, ``goal_reach``, ``reward_type``,
    ``clip_start``, ``terminate_on_success``). ``render_mode="rgb_array"`` returns
    800x400 frames showing both rooms, the terminal (green once control is taken), the
    goal, and a link from agent to robot while it is controlled.

    ## Version history

    * v0: initial release. Differences from the paper's env, all deliberate: seeded
      through ``np_random`` (same distributions, not the same draws); Gymnasium's
      five-tuple step with truncation after 50 steps; the wall-proximity entries of the
      paper's info array are not reported.
    """

    dynamics_cls = RobotRemoteControlDynamics
    config_cls = RobotRemoteControlConfig
    default_max_episode_steps = 50
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    @classmethod
    def build_spaces(cls, config: RobotRemoteControlConfig) -> EnvSpaces:
        return EnvSpaces(
            observation=spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32),
            action=spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32),
            hidden=spaces.Dict({"robot_controlled": spaces.Discrete(2)}),
        )

    @classmethod
    def render_state(cls, config: RobotRemoteControlConfig, state: RobotRemoteControlState) -> np.ndarray:
        return render_robot_remote_control(config, state)


class RobotRemoteControlVectorEnv(BatchedCoreVectorEnv):
    """Native vector version of :class:`RobotRemoteControlEnv` (same dynamics, batched)."""

    single_env_cls = RobotRemoteControlEnv

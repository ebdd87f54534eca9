"""Partially observable Fetch Pick&Place: the object's velocity, rotation and whether it
is held are hidden."""

from __future__ import annotations

import atexit
import os
import weakref
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from pomdp_envs.core.stateful import SimulationStep, StatefulEnv

# Upstream 25-d observation indices kept (GateL0RD paper, footnote 4).
KEPT = slice(0, 11)  # upstream indices 0-10 are kept
NUM_KEPT = 11
NUM_DROPPED = 14  # upstream indices 11-24
MOVING_SPEED = 0.01  # m/s: the object counts as moving above this speed
WORKSPACE_BOUND = 5.0  # m, bound of every observed coordinate


def _check_gl_backend(render_mode: str | None) -> None:
    """A clear error, instead of MuJoCo's, when frames are asked for with no display to
    draw on and no headless backend chosen (the ``pomdp-envs`` commands choose EGL)."""
    if render_mode is not None and "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
        raise gym.error.DependencyNotInstalled(
            "rendering FetchPickAndPlacePO without a display needs a headless OpenGL backend: "
            "set MUJOCO_GL=egl (or osmesa) in the environment before mujoco is imported"
        )


class FetchPickAndPlacePOEnv(StatefulEnv):
    """Gymnasium-Robotics ``FetchPickAndPlace-v4`` with velocities and rotation removed.

    A Fetch arm must move a block to a goal (on the table or in the air). Only
    positions and finger widths are observed, so whether the block is being carried,
    and how it moves, must be inferred from position changes. Needs the ``fetch``
    extra (gymnasium-robotics with mujoco 3.3.7-3.10).

    ## Observation space

    ``flat_observation=True`` (default): ``Box(-5, 5, (14,), float64)`` (metres; upstream
    declares infinite bounds), upstream indices in brackets:

    | index | name | unit | upstream |
    |-------|------|------|----------|
    | 0-2 | gripper position (x, y, z) | m | [0-2] |
    | 3-5 | object position | m | [3-5] |
    | 6-8 | object position relative to gripper | m | [6-8] |
    | 9-10 | right, left finger joint displacement | m | [9-10] |
    | 11-13 | goal position | m | ``desired_goal`` |

    Removed: object rotation [11-13], object linear [14-16] and angular [17-19]
    velocity, gripper velocity [20-22], finger velocities [23-24].
    ``pomdp_envs.wrappers.FullyObservable(env)`` puts them back: a ``Box`` of 28 float64,
    the 14 entries above (same bounds) followed by upstream indices 11-24 in their order
    (unbounded, as upstream declares them); with ``flat_observation=False``, the dict with
    upstream's full 25-d ``observation``.
    ``flat_observation=False`` gives the upstream dict layout instead:
    ``{"observation": (11,), "achieved_goal": (3,), "desired_goal": (3,)}`` and keeps
    ``compute_reward`` for hindsight relabelling (the flat variant has none, so that it
    is not taken for a goal env).

    ## Action space

    ``Box(-1, 1, (4,), float32)``: end-effector displacement (dx, dy, dz), 0.05 m per
    unit, and the gripper command (positive opens). Outside the box: ``ValueError``.

    ## Reward, termination, truncation

    As upstream: sparse reward -1 / 0 (0 within 5 cm of the goal; ``reward_type=
    "dense"`` gives minus the distance); ``info["is_success"]``; never terminates;
    ``gymnasium.make`` truncates after 50 steps (2 s at 25 Hz).

    ## Start state

    As upstream: gripper above the table; object on the table at a horizontal offset
    from the gripper drawn uniformly from the square of +-0.15 m per axis and drawn again
    while closer than 0.10 m, so 0.10-0.21 m away; goal on the table or up to 0.45 m above
    it; seeded through ``reset(seed=)``.

    ## Hidden factors (``info["hidden"]``, ``hidden_space``)

    | name | space | unit | changed (``info["hidden_changed"]``) when |
    |------|-------|------|-------------------------------------------|
    | ``object_velocity`` | Box (3,) | m/s, world frame | the object starts or stops moving (speed crosses 0.01 m/s) |
    | ``object_angular_velocity`` | Box (3,) | rad/s | as above |
    | ``object_rotation`` | Box (3,) | rad, XYZ Euler | never flagged (changes continuously) |
    | ``object_grasped`` | Discrete(2) | - | the object is grasped or released |

    ``object_grasped`` is 1 while both finger geoms touch the object geom (MuJoCo
    contacts after the step).

    ## Rendering

    ``render_mode="rgb_array"`` returns ``height`` x ``width`` frames (480 x 480 by
    default; pass e.g. ``width=128, height=128`` for small ones). Without a display,
    ``MUJOCO_GL=egl`` is set when the variable is unset.

    ## Version history

    * v0: initial release, on ``FetchPickAndPlace-v4``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(
        self,
        render_mode: str | None = None,
        flat_observation: bool = True,
        reward_type: str = "sparse",
        width: int = 480,
        height: int = 480,
    ) -> None:
        super().__init__(render_mode)
        _check_gl_backend(render_mode)
        try:
            MujocoFetchPickAndPlaceEnv = _upstream_class()
        except ImportError as error:
            raise gym.error.DependencyNotInstalled(
                'FetchPickAndPlacePO needs gymnasium-robotics and mujoco: pip install "pomdp-envs[fetch]"'
            ) from error
        self._args = dict(flat_observation=flat_observation, reward_type=reward_type, width=width, height=height)
        self.flat_observation = flat_observation
        self.upstream = MujocoFetchPickAndPlaceEnv(
            reward_type=reward_type, render_mode=render_mode, width=width, height=height
        )
        self._closed = False
        self._exit_hook = False
        import mujoco

        model = self.upstream.model
        self._finger_geoms = {
            mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, f"robot0:{side}_gripper_finger_link")
            for side in ("l", "r")
        }
        self._object_geom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "object0")
        joint = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "object0:joint")
        address = model.jnt_dofadr[joint]
        self._object_qvel = slice(address, address + 6)  # free joint: linear, then angular

        # Finite bounds (upstream declares +-inf): no position leaves the arm's reach.
        goal = spaces.Box(-WORKSPACE_BOUND, WORKSPACE_BOUND, shape=(3,), dtype=np.float64)
        kept = spaces.Box(-WORKSPACE_BOUND, WORKSPACE_BOUND, shape=(NUM_KEPT,), dtype=np.float64)
        if flat_observation:
            self.observation_space = spaces.Box(
                -WORKSPACE_BOUND, WORKSPACE_BOUND, shape=(NUM_KEPT + 3,), dtype=np.float64
            )
        else:
            self.observation_space = spaces.Dict({"observation": kept, "achieved_goal": goal, "desired_goal": goal})
        self.action_space = self.upstream.action_space
        self.hidden_space = spaces.Dict(
            {
                # Unbounded, as MuJoCo velocities are; rotation is an Euler triple.
                "object_velocity": spaces.Box(-np.inf, np.inf, shape=(3,), dtype=np.float64),
                "object_angular_velocity": spaces.Box(-np.inf, np.inf, shape=(3,), dtype=np.float64),
                "object_rotation": spaces.Box(-np.pi, np.pi, shape=(3,), dtype=np.float64),
                "object_grasped": spaces.Discrete(2),
            }
        )
        self._upstream_obs: dict[str, np.ndarray] | None = None

    def _reset_simulation(self, seed: int | None, options: dict[str, Any]):
        self._upstream_obs, _ = self.upstream.reset(seed=seed)
        return self._observe(self._upstream_obs)

    def _step_simulation(self, action: np.ndarray) -> SimulationStep:
        # ``action`` is float32, as upstream gets it unwrapped.
        self._upstream_obs, reward, terminated, truncated, info = self.upstream.step(action)
        success = bool(info.get("is_success", False))
        return SimulationStep(self._observe(self._upstream_obs), reward, terminated, truncated, success)

    def _hidden_changed(self, previous: dict[str, Any], hidden: dict[str, Any]) -> dict[str, bool]:
        # Velocities change every step; an event is the object starting or stopping to move.
        moved = _moving(previous) != _moving(hidden)
        return {
            "object_velocity": moved,
            "object_angular_velocity": moved,
            "object_rotation": False,
            "object_grasped": bool(previous["object_grasped"] != hidden["object_grasped"]),
        }

    def _render_frame(self) -> np.ndarray:
        frame = self.upstream.render()
        if not self._exit_hook:
            # MuJoCo's EGL backend registers an exit hook that frees its display when it
            # creates its first context, at the first render. Exit hooks run last-registered
            # first, so one registered after that render closes this env while its GL
            # context can still be freed.
            self._exit_hook = True
            atexit.register(_close_if_alive, weakref.ref(self))
        return frame

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.upstream.close()

    @property
    def compute_reward(self):
        """Upstream's ``compute_reward(achieved_goal, desired_goal, info)`` for
        (relabelled) goals, for hindsight experience replay: only on the dict variant, so
        that tools which look for it (SB3's env checker) take only that one for a goal env."""
        if self.flat_observation:
            raise AttributeError("compute_reward is offered by the goal-env variant only (flat_observation=False)")
        return self.upstream.compute_reward

    @property
    def full_observation_space(self) -> spaces.Space:
        """The fully observable variant's space (``pomdp_envs.wrappers.FullyObservable``)."""
        if self.flat_observation:
            unbounded = np.full(NUM_DROPPED, np.inf)  # as upstream declares them
            flat = cast(spaces.Box, self.observation_space)
            low = np.concatenate([flat.low, -unbounded])
            return spaces.Box(low, np.concatenate([flat.high, unbounded]), dtype=np.float64)
        upstream = self.upstream.observation_space
        return spaces.Dict({**upstream.spaces})

    def full_observation(self) -> Any:
        """The observation with the dimensions it drops appended (upstream indices 11-24)."""
        observation = self._upstream_observation()
        observed = self._observe(cast(dict, self._upstream_obs))
        if not self.flat_observation:
            return {**observed, "observation": observation.copy()}
        return np.concatenate([observed, observation[NUM_KEPT:]])

    def _upstream_observation(self) -> np.ndarray:
        """Upstream's whole 25-dim observation vector of the current step."""
        if self._upstream_obs is None:
            raise gym.error.ResetNeeded("call reset() before asking for an observation")
        return self._upstream_obs["observation"]

    def _observe(self, upstream_obs: dict[str, np.ndarray]):
        kept = upstream_obs["observation"][KEPT]
        if self.flat_observation:
            flat = np.empty(NUM_KEPT + 3)
            flat[:NUM_KEPT], flat[NUM_KEPT:] = kept, upstream_obs["desired_goal"]
            return flat
        return {
            "observation": kept,
            "achieved_goal": upstream_obs["achieved_goal"],
            "desired_goal": upstream_obs["desired_goal"],
        }

    def _read_hidden(self) -> dict[str, Any]:
        qvel = self.upstream.data.qvel[self._object_qvel].copy()
        return {
            "object_velocity": qvel[:3],
            "object_angular_velocity": qvel[3:],
            "object_rotation": self._upstream_observation()[11:14].copy(),
            "object_grasped": np.int64(self._fingers_touch_object()),
        }

    def _fingers_touch_object(self) -> bool:
        # A handful of contacts: plain Python sets beat numpy's per-call overhead here.
        touching = set()
        for first, second in self.upstream.data.contact.geom.tolist():
            if first == self._object_geom:
                touching.add(second)
            elif second == self._object_geom:
                touching.add(first)
        return self._finger_geoms <= touching

    # Pickling rebuilds the simulator from the constructor arguments, then copies in
    # the whole MjData (derived quantities too: the next action is applied relative to
    # the gripper body's last computed position), the goal and the random generators,
    # so that a copy continues exactly like the original.
    def __getstate__(self) -> dict[str, Any]:
        return {
            "args": dict(self._args, render_mode=self.render_mode),
            "data": self.upstream.data,
            # The goal marker's site is moved in the model at each render, relative to
            # where it was: the copy needs the same model site positions.
            "site_pos": self.upstream.model.site_pos.copy(),
            "goal": self.upstream.goal.copy(),
            "upstream_rng": self.upstream.np_random.bit_generator.state,
            "rng": self.np_random.bit_generator.state if self._np_random is not None else None,
            "hidden": self._hidden,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        import mujoco

        type(self).__init__(self, **state["args"])
        self.upstream.model.site_pos[:] = state["site_pos"]
        mujoco.mj_copyData(self.upstream.data, self.upstream.model, state["data"])
        self.upstream.goal = state["goal"]
        self.upstream.np_random.bit_generator.state = state["upstream_rng"]
        if state["rng"] is not None:
            self.np_random.bit_generator.state = state["rng"]
        self._hidden = state["hidden"]


def _close_if_alive(env_ref: weakref.ref) -> None:
    env = env_ref()
    if env is not None:
        env.close()


def _moving(hidden: dict[str, Any]) -> bool:
    velocity = hidden["object_velocity"]
    return bool(velocity @ velocity > MOVING_SPEED**2)


def _upstream_class() -> type:
    """gymnasium-robotics' Fetch Pick&Place env class. Its first import prints a notice
    about the reward functions of its Adroit hand envs, which this env does not use: that
    notice is dropped, anything else printed is passed on."""
    import contextlib
    import io
    import sys

    printed = io.StringIO()
    with contextlib.redirect_stderr(printed):
        from gymnasium_robotics.envs.fetch.pick_and_place import MujocoFetchPickAndPlaceEnv
    kept = [line for line in printed.getvalue().splitlines(keepends=True) if "AdroitHand" not in line]
    sys.stderr.write("".join(kept))
    return MujocoFetchPickAndPlaceEnv

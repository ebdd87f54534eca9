"""ShapeHerd: push shapes into a goal while seeing only a small window around you."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from pomdp_envs.core.dynamics import make_config
from pomdp_envs.core.stateful import SimulationStep, StatefulEnv

if TYPE_CHECKING:
    from pomdp_envs.worlds.shape_herd import ShapeHerdWorld

SPEED_BOUND = 5000.0  # px/s, bound of reported velocities


class ShapeHerdEnv(StatefulEnv):
    """An agent disc pushes five objects into a goal recess, seeing only a 250 x 250 px
    window around itself (the VSG paper's environment, published as BringBackShapes).

    The arena (Basic size) is an 800 x 700 px canvas with 125 px walls, so the free
    interior is 550 x 450; the goal is a 100 x 225 recess in the right wall (x 575-675,
    y 237.5-462.5; y grows downwards). The agent cannot enter the goal; an object whose
    body origin gets 5 px past the goal's mouth is scored and leaves the arena. Each
    object is one of 5 shapes (triangle, square, rectangle, pentagon, hexagon) in one of
    5 colours, drawn uniformly; as published, the origin of the triangle, square and
    rectangle is a corner (the one it turns about and is scored by). Physics (pymunk):
    1/60 s steps, 30 % of velocity lost per second; objects mass 20, elasticity 1.0,
    friction 0.5, soft speed cap 800 px/s; walls elasticity 0.7, friction 1.0; agent
    radius 15, mass 70.7 (density 0.1 over its disc, as the published code ends up
    with), elasticity 0, friction 0.5; distractors density 0.1 (mass 60, turning about
    their centroid). Needs the ``shapeherd`` extra (pymunk, pygame-ce).

    ## Observation space

    ``Box(0, 255, (64, 64, 3), uint8)``: the 250 x 250 px window centred on the agent,
    rasterised straight at 64 x 64 (3.9 px per pixel, no antialiasing, as the published
    environment's bilinear resize of its window amounts to; the window snaps to the pixel
    grid, under half a pixel from the agent's exact position) and veiled as published: a
    grey (128, 128, 128) layer at alpha 100/255 over the window turns every pixel p into
    about 0.61 p + 50, so the floor reads (50, 50, 50), walls (141, 151, 152), the goal
    (50, 130, 89) (``veil=False``: floor black, walls grey, goal dark green, objects in
    their colours). Agent steel blue (a disc of radius 4 pixels); canvas beyond the arena
    (never reached in the Basic arena) mid grey.

    ``pomdp_envs.wrappers.FullyObservable(env)`` sees the whole arena instead, in the same
    ``Box(0, 255, (64, 64, 3), uint8)``: the arena scaled to fit (0.08 pixels per px in the
    Basic arena), centred on the mid grey canvas, drawn and veiled as the view is.

    ## Action space

    ``Box([0, 0], [2 pi, 400], float32)``: (angle in radians, image coordinates: 0 is
    +x, pi/2 is down; force magnitude). The push, a world-frame force of 100 x force
    (mass px / s^2) at the agent's centre, acts during every physics step: full force
    accelerates the agent at ~566 px/s^2 (speeds after 1 to 10 steps from rest: 37, 74,
    110, ..., 337 px/s, as published). ``action_repeat`` (default 4) physics steps make
    one env step. ``normalized_actions=True`` gives a ``Box(-1, 1, (2,), float32)``
    action instead, mapped linearly as the VSG agents' wrapper does: angle = (a0 + 1) pi,
    force = (a1 + 1) / 2 * 400, so that SB3 or CleanRL agents need no wrapper.

    ## Reward, termination, truncation

    +1 per object scored in the step. ``dense_reward=True`` adds
    ``max(0, 1.5 - frames / 1000)`` on a scoring step (frames = physics steps since
    reset), as in the paper's formula. The episode terminates when every object is
    scored; ``gymnasium.make`` truncates after 750 steps (3000 physics steps, 50 s).

    ## Start state

    As published: agent uniform in the whole interior (x 140-660, y 140-560 in the
    Basic arena), the goal column included: a start there is put back on the goal
    barrier (x = 560) in the first frame. Object origins uniform in x 125-510 (the left
    70 % of the interior), y 125-575, with a random rotation (an outline can overlap a
    wall at first; the solver pushes it out). Distractors (``num_distractors``, default
    0) uniform in the interior with a 12 px margin. All from ``np_random``; the pymunk
    space is rebuilt at each reset, so equal seeds and actions give identical
    trajectories.

    ## Goal barrier

    A body past the barrier (x + radius > 575) is put back on it and its whole velocity
    is multiplied by -0.3, as published. Because a physics step moves bodies with the
    velocity from before that step's push, an agent that pushes away from the barrier
    at full force keeps being flipped back onto it; one step without force frees it.
    ``flip_velocity_at_goal=False`` only sets the x velocity, pointing away.

    ## Hidden factors (``info["hidden"]``, ``hidden_space``), N = ``num_objects``

    | name | space | unit | changed (``info["hidden_changed"]``) when |
    |------|-------|------|-------------------------------------------|
    | ``agent_xy`` | Box (2,) | px | never flagged (moves continuously) |
    | ``agent_velocity`` | Box (2,) | px/s | never flagged |
    | ``object_xy`` | Box (N, 2) | px, centroid (scored: where it was scored) | an object is pushed or hits something (speed changes beyond damping) |
    | ``object_velocity`` | Box (N, 2) | px/s (0 once scored) | as ``object_xy`` |
    | ``object_shape`` | MultiDiscrete([5] * N) | index into triangle, square, rectangle, pentagon, hexagon | never |
    | ``object_colour`` | MultiDiscrete([5] * N) | index into orange, blue, green, red, purple | never |
    | ``object_in_view`` | MultiBinary(N) | its bounding box overlaps the view | any object enters or leaves the view |
    | ``object_scored`` | MultiBinary(N) | - | an object is scored |

    Object slots are in a canonical order, fixed at reset: by colour (the index above),
    then shape, then the x of the object's start position (left first). Slot ``i`` is
    thus a property of what the arena shows, not of the order the reset drew the objects
    in, so an estimator or a probe can know which object a slot means (two objects of the
    same colour and shape differ only by where they started).

    ``pomdp-envs validate`` reads ``agent_xy``, ``agent_velocity`` and, instead of the
    per-slot factors, ``object_cells`` (:func:`validation_factors`): for each cell of a
    3 x 3 grid over the arena interior (row-major from the top left), whether an object
    still in play has its centroid there. It does not depend on the slot order, and the
    64 x 64 whole-arena image, where an object is 2 to 4 pixels wide, shows it; naming a
    slot would mean ranking every object by colour, shape and start, which that image
    barely resolves and a partial view cannot.

    ## Arguments and registered sizes

    Keyword arguments override :class:`ShapeHerdConfig` fields (``arena_scale``,
    ``num_objects``, ``num_distractors``, ``action_repeat``, ``dense_reward``, ``veil``,
    ``normalized_actions``,
    ``flip_velocity_at_goal``, ``view_size``, ``obs_size``, ...). ``pomdp_envs/ShapeHerd-v1`` is the Basic arena;
    ``ShapeHerd-Small-v1``, ``-Medium-v1`` and ``-Large-v1`` scale the canvas by 1.2, 1.4
    and 1.6 (walls, goal width and view size stay fixed). ``render_mode="rgb_array"``
    shows the whole arena at 0.75 px per px with the view window outlined.

    ## Version history

    * v1: object slots of ``info["hidden"]`` in the canonical order above (v0: the order
      the reset drew them in, which no observation can tell). Dynamics, observations and
      rewards unchanged.
    * v0: initial release. Differences from the published code, all deliberate: seeded
      through ``np_random``; the push acts at the agent's centre (published: at the
      world point (x, x), which only adds a spin); scoring is checked once per env step
      (published: every physics step; an object cannot cross the goal and come back
      within one); objects drawn without pymunk's debug outlines and contact marks.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(self, render_mode: str | None = None, config: Any = None, **config_overrides: Any) -> None:
        super().__init__(render_mode)
        try:
            from pomdp_envs.worlds import shape_herd_drawing as rendering  # pygame-ce
            from pomdp_envs.worlds.shape_herd import ShapeHerdConfig
        except ImportError as error:
            raise gym.error.DependencyNotInstalled(
                'ShapeHerd needs pymunk and pygame-ce: pip install "pomdp-envs[shapeherd]"'
            ) from error
        self._render_view, self._render_arena = rendering.render_view, rendering.render_arena
        self._render_whole_arena = rendering.render_whole_arena
        self.config = make_config(ShapeHerdConfig, config, config_overrides)
        cfg, n = self.config, self.config.num_objects
        self.observation_space = spaces.Box(0, 255, shape=(cfg.obs_size, cfg.obs_size, 3), dtype=np.uint8)
        # The fully observable variant (pomdp_envs.wrappers.FullyObservable): the whole arena.
        self.full_observation_space = self.observation_space
        if cfg.normalized_actions:
            self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        else:
            self.action_space = spaces.Box(
                np.array([0.0, 0.0], dtype=np.float32), np.array([2 * np.pi, cfg.max_force], dtype=np.float32)
            )
        arena = np.array([cfg.width, cfg.height], dtype=np.float64)
        # Bounds of the snapshot's motion rows (x, y, vx, vy), to clip all of them at once.
        self._motion_low = np.array([0.0, 0.0, -SPEED_BOUND, -SPEED_BOUND])
        self._motion_high = np.array([cfg.width, cfg.height, SPEED_BOUND, SPEED_BOUND], dtype=np.float64)
        # Speed factor of free flight over one step: damping, nothing else.
        self._free_flight = cfg.damping ** (cfg.action_repeat * cfg.dt)
        self.hidden_space = spaces.Dict(
            {
                "agent_xy": spaces.Box(0.0, arena, dtype=np.float64),
                "agent_velocity": spaces.Box(-SPEED_BOUND, SPEED_BOUND, shape=(2,), dtype=np.float64),
                "object_xy": spaces.Box(0.0, np.tile(arena, (n, 1)), dtype=np.float64),
                "object_velocity": spaces.Box(-SPEED_BOUND, SPEED_BOUND, shape=(n, 2), dtype=np.float64),
                "object_shape": spaces.MultiDiscrete([5] * n),
                "object_colour": spaces.MultiDiscrete([5] * n),
                "object_in_view": spaces.MultiBinary(n),
                "object_scored": spaces.MultiBinary(n),
            }
        )
        self.world: ShapeHerdWorld | None = None

    def _reset_simulation(self, seed: int | None, options: dict[str, Any]) -> np.ndarray:
        from pomdp_envs.worlds.shape_herd import ShapeHerdWorld

        world = self.world = ShapeHerdWorld(self.config, self.np_random)
        shape = np.array([o.shape_index for o in world.objects], dtype=np.int64)
        colour = np.array([o.colour_index for o in world.objects], dtype=np.int64)
        start_x = np.array([o.body.position[0] for o in world.objects])
        # Canonical slots (docstring): the world keeps its drawing order, info reads through this.
        self._slots = np.lexsort((start_x, shape, colour))
        self._object_shape, self._object_colour = shape[self._slots], colour[self._slots]
        return self._render_view(world)

    def _step_simulation(self, action: np.ndarray) -> SimulationStep:
        angle, force = action.tolist()
        if self.config.normalized_actions:
            angle, force = (angle + 1.0) * np.pi, (force + 1.0) / 2.0 * self.config.max_force
        world = self._live_world()
        scored = world.step(angle, force)
        reward = float(scored)
        if scored and self.config.dense_reward:
            reward += max(0.0, 1.5 - world.frames / 1000.0)
        terminated = world.remaining == 0
        return SimulationStep(self._render_view(world), reward, terminated, False, terminated)

    def _render_frame(self) -> np.ndarray:
        return self._render_arena(self._live_world())

    def full_observation(self) -> np.ndarray:
        """The whole arena as a ``obs_size`` x ``obs_size`` image (the fully observable variant)."""
        return self._render_whole_arena(self._live_world())

    def _live_world(self) -> ShapeHerdWorld:
        if self.world is None:
            raise gym.error.ResetNeeded("call reset() before asking for an observation")
        return self.world

    def _read_hidden(self) -> dict[str, np.ndarray]:
        snapshot = self._live_world().snapshot()
        motion = np.minimum(np.maximum(snapshot.motion, self._motion_low), self._motion_high)
        overlaps = (snapshot.low < snapshot.view_high) & (snapshot.high > snapshot.view_low)
        in_view = overlaps[:, 0] & overlaps[:, 1] & (snapshot.scored == 0)
        objects = motion[1:][self._slots]
        return {
            "agent_xy": motion[0, 0:2],
            "agent_velocity": motion[0, 2:4],
            "object_xy": objects[:, 0:2],
            "object_velocity": objects[:, 2:4],
            "object_shape": self._object_shape.copy(),
            "object_colour": self._object_colour.copy(),
            "object_in_view": in_view[self._slots].view(np.int8),
            "object_scored": snapshot.scored[self._slots],
        }

    def _hidden_changed(self, previous: dict[str, np.ndarray], hidden: dict[str, np.ndarray]) -> dict[str, bool]:
        # Objects drift and slow down continuously; only a speed change beyond damping is an event.
        surprise = (hidden["object_velocity"] - previous["object_velocity"] * self._free_flight).tolist()
        pushed = any(vx * vx + vy * vy > 1.0 for vx, vy in surprise)
        return {
            "agent_xy": False,
            "agent_velocity": False,
            "object_xy": pushed,
            "object_velocity": pushed,
            "object_shape": False,
            "object_colour": False,
            "object_in_view": previous["object_in_view"].tobytes() != hidden["object_in_view"].tobytes(),
            "object_scored": previous["object_scored"].tobytes() != hidden["object_scored"].tobytes(),
        }


#: Cells per side of the grid that ``object_cells`` marks.
OBJECT_CELLS = 3


def object_cells(object_xy: np.ndarray, object_scored: np.ndarray, width: float, height: float) -> np.ndarray:
    """(..., OBJECT_CELLS ** 2) int8 from ``object_xy`` (..., N, 2) in px and
    ``object_scored`` (..., N): 1 where an object not yet scored has its centroid in that
    cell of a grid over the interior of a ``width`` x ``height`` px arena (walls excluded;
    row-major, top row first)."""
    from pomdp_envs.worlds.shape_herd import WALL

    interior = np.array([width - 2 * WALL, height - 2 * WALL])
    cell = np.clip(((object_xy - WALL) / interior * OBJECT_CELLS).astype(np.int64), 0, OBJECT_CELLS - 1)
    index = cell[..., 1] * OBJECT_CELLS + cell[..., 0]  # (..., N)
    marks = (index[..., None] == np.arange(OBJECT_CELLS**2)) & (np.asarray(object_scored)[..., None] == 0)
    return marks.any(axis=-2).astype(np.int8)


def validation_factors(hidden: dict[str, np.ndarray], env: gym.Env) -> tuple[dict[str, np.ndarray], spaces.Dict]:
    """The factors ``pomdp-envs validate`` reads (the docstring says why): the agent's as
    they are and ``object_cells`` for the per-slot object factors. ``hidden`` holds
    ``info["hidden"]`` arrays with any leading axes (sequences, steps)."""
    shape_herd = cast(ShapeHerdEnv, env.unwrapped)
    config = shape_herd.config
    factors = {name: hidden[name] for name in ("agent_xy", "agent_velocity")}
    factors["object_cells"] = object_cells(hidden["object_xy"], hidden["object_scored"], config.width, config.height)
    space = shape_herd.hidden_space
    return factors, spaces.Dict(
        {
            "agent_xy": space["agent_xy"],
            "agent_velocity": space["agent_velocity"],
            "object_cells": spaces.MultiBinary(OBJECT_CELLS**2),
        }
    )

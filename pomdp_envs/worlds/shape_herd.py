"""ShapeHerd physics: an agent disc pushes polygon objects into a goal recess (pymunk).

Units: pixels (1 px = 1 physics unit), seconds. Coordinates are image coordinates: x to
the right, y downwards, origin at the arena canvas' top-left corner. Unlike the other 2D
envs this world is not batched: each env owns one pymunk space, rebuilt at every reset
so that no cached contact impulse carries over between episodes.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pymunk

SHAPES = ("triangle", "square", "rectangle", "pentagon", "hexagon")
COLOURS = ("orange", "blue", "green", "red", "purple")
COLOUR_RGB = {
    "orange": (255, 165, 0),
    "blue": (0, 0, 255),
    "green": (0, 255, 0),
    "red": (255, 0, 0),
    "purple": (160, 32, 240),
}
# Convex outlines in px around each body's origin, as in the published code: the origin
# is a corner of the triangle, square and rectangle. The body rotates about its origin
# and is scored when its origin passes the goal line.
_RAW_OUTLINES = {
    "triangle": [(0, 0), (50, 0), (25, 25)],
    "square": [(0, 0), (50, 0), (50, 50), (0, 50)],
    "rectangle": [(0, 0), (50, 0), (50, 25), (0, 25)],
    "pentagon": [(5, -17), (28, 0), (19, 28), (-10, 28), (-19, 0)],
    "hexagon": [(17, -14), (30, 8), (17, 29), (-8, 29), (-20, 7), (-8, -14)],
}
DISTRACTOR_OUTLINE = np.array([(-30.0, 0.0), (0.0, -15.0), (10.0, 0.0), (0.0, 15.0)])  # counter-clockwise
DISTRACTOR_DENSITY = 0.1  # mass 60; pymunk puts its centre of gravity at the centroid
DISTRACTOR_MARGIN = 12.0  # px, spawn margin and goal-barrier radius of a distractor
WALL = 125.0  # px, wall thickness (not scaled with the arena)
GOAL_WIDTH = 100.0
GOAL_LINE_OFFSET = 5.0  # px: an object whose origin passes goal_x + this is scored
AGENT_RADIUS = 15.0
# The published code adds the action's force 100 times per physics step, so the
# applied force is 100x the action's magnitude (see ShapeHerdConfig).
FORCE_SCALE = 100


def _counter_clockwise(points: Sequence[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """The outline in counter-clockwise order (y down), and its centroid."""
    poly = np.asarray(points, dtype=float)
    x, y = poly[:, 0], poly[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    area = cross.sum() / 2
    centroid = np.array([((x + np.roll(x, -1)) * cross).sum(), ((y + np.roll(y, -1)) * cross).sum()]) / (6 * area)
    return (poly if area > 0 else poly[::-1].copy()), centroid


OUTLINES = {name: _counter_clockwise(points)[0] for name, points in _RAW_OUTLINES.items()}
CENTROIDS = {name: _counter_clockwise(points)[1] for name, points in _RAW_OUTLINES.items()}


@dataclasses.dataclass(frozen=True)
class ShapeHerdConfig:
    """Arena, bodies and task constants (defaults: the VSG paper's Basic arena)."""

    arena_scale: float = 1.0  # Basic 1.0, Small 1.2, Medium 1.4, Large 1.6
    num_objects: int = 5
    num_distractors: int = 0
    action_repeat: int = 4  # physics steps of 1/60 s per env step
    dt: float = 1.0 / 60.0
    max_force: float = 400.0  # action force bound; applied as FORCE_SCALE * force
    agent_mass: float = 0.1 * math.pi * AGENT_RADIUS**2  # ~70.7: density 0.1 over the disc
    object_mass: float = 20.0
    damping: float = 0.7  # fraction of velocity kept per second (30 % lost)
    max_object_speed: float = 800.0  # px/s; faster objects are slowed by 1 % per step
    goal_bounce: float = 0.3  # the agent is pushed back out of the goal with this factor
    #: True (published): a body past the goal barrier is put back on it and its whole
    #: velocity is multiplied by -goal_bounce. As positions move with the velocity from
    #: before the push, an agent pushing away at full force from the barrier keeps being
    #: flipped back onto it; one step without force frees it. False: only the x velocity
    #: is set, to goal_bounce times its size, pointing away from the goal.
    flip_velocity_at_goal: bool = True
    dense_reward: bool = False
    #: False: the published (angle in [0, 2 pi], force in [0, max_force]) action. True: a
    #: Box(-1, 1, (2,)) action mapped linearly onto it, as the VSG agents' wrapper does:
    #: angle = (a0 + 1) pi, force = (a1 + 1) / 2 * max_force.
    normalized_actions: bool = False
    #: The published view is veiled: a grey (128, 128, 128) layer at alpha 100/255 over
    #: the window, so that the black floor reads (50, 50, 50). False draws it plain.
    veil: bool = True
    view_size: float = 250.0  # px, side of the square view window centred on the agent
    obs_size: int = 64  # observation pixels per side

    def __post_init__(self) -> None:
        if self.arena_scale < 1.0:
            raise ValueError("arena_scale must be >= 1 (the Basic arena)")
        if self.num_objects < 1 or self.num_distractors < 0 or self.action_repeat < 1:
            raise ValueError("need num_objects >= 1, num_distractors >= 0, action_repeat >= 1")
        if self.obs_size < 8 or self.view_size <= 0:
            raise ValueError("obs_size must be >= 8 and view_size > 0")

    @property
    def width(self) -> int:
        return int(800 * self.arena_scale)

    @property
    def height(self) -> int:
        return int(700 * self.arena_scale)

    @property
    def goal_x(self) -> float:
        """Left edge of the goal recess (its mouth)."""
        return self.width - WALL - GOAL_WIDTH

    @property
    def goal_y_range(self) -> tuple[float, float]:
        mouth = 0.5 * (self.height - 2 * WALL)
        top = WALL + (self.height - 2 * WALL - mouth) / 2
        return top, top + mouth

    def wall_boxes(self) -> list[tuple[float, float, float, float]]:
        """Static blocks as (x0, y0, x1, y1): the border and the blocks beside the goal."""
        w, h, gx = self.width, self.height, self.goal_x
        top, bottom = self.goal_y_range
        return [
            (0, 0, WALL, h),
            (w - WALL, 0, w, h),
            (0, 0, w, WALL),
            (0, h - WALL, w, h),
            (gx, WALL, w - WALL, top),
            (gx, bottom, w - WALL, h - WALL),
        ]


@dataclasses.dataclass(slots=True)
class WorldSnapshot:
    """The world's state after one step, as arrays (px, px/s). Treat it as read-only:
    it is the world's own until the next step."""

    newly_scored: int  # objects scored in this step
    motion: np.ndarray  # (1 + N, 4): x, y, vx, vy of the agent (row 0) and each object's centroid
    agent_xy: np.ndarray  # (2,) view of motion
    agent_velocity: np.ndarray  # (2,)
    object_xy: np.ndarray  # (N, 2) centroids; scored objects: where they were scored
    object_velocity: np.ndarray  # (N, 2), 0 once scored
    scored: np.ndarray  # (N,) int8
    vertex_xy: np.ndarray  # (V, 2) every outline's vertices in world px, counter-clockwise
    vertex_ranges: list[tuple[int, int]]  # object i's vertices: vertex_xy[start:end]
    low: np.ndarray  # (N, 2) bounding-box corners of the outlines
    high: np.ndarray  # (N, 2)
    view_low: np.ndarray  # (2,) corners of the square view window centred on the agent
    view_high: np.ndarray  # (2,)


@dataclasses.dataclass
class ArenaObject:
    body: pymunk.Body
    shape_index: int
    colour_index: int
    scored: bool = False
    last_position: tuple[float, float] = (0.0, 0.0)


class ShapeHerdWorld:
    """One pymunk world: build it from a generator, step it, read its state."""

    def __init__(self, config: ShapeHerdConfig, rng: np.random.Generator) -> None:
        self.config = config
        self._start_rng_state = copy.deepcopy(rng.bit_generator.state)
        self._actions: list[tuple[float, float]] = []
        self.space = pymunk.Space()
        self.space.damping = config.damping
        for x0, y0, x1, y1 in config.wall_boxes():
            shape = pymunk.Poly(self.space.static_body, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
            shape.elasticity, shape.friction = 0.7, 1.0
            self.space.add(shape)

        # As published, the agent and the distractors may start anywhere in the interior,
        # the goal column included; the goal barrier pushes them out in the first frame.
        def interior(margin: float) -> tuple[float, float]:
            return (
                rng.uniform(WALL + margin, config.width - WALL - margin),
                rng.uniform(WALL + margin, config.height - WALL - margin),
            )

        self.agent = pymunk.Body(config.agent_mass, pymunk.moment_for_circle(config.agent_mass, 0, AGENT_RADIUS))
        self.agent.position = interior(AGENT_RADIUS)
        agent_shape = pymunk.Circle(self.agent, AGENT_RADIUS)
        agent_shape.friction = 0.5  # elasticity 0, as the published code leaves it
        self.space.add(self.agent, agent_shape)

        self.distractors: list[tuple[pymunk.Body, np.ndarray]] = []
        for _ in range(config.num_distractors):
            body = pymunk.Body()
            body.position = interior(DISTRACTOR_MARGIN)
            shape = pymunk.Poly(body, DISTRACTOR_OUTLINE.tolist())
            # Mass, moment (about the kite's centroid) and centre of gravity from density.
            shape.density, shape.friction = DISTRACTOR_DENSITY, 0.5
            self.space.add(body, shape)
            self.distractors.append((body, np.zeros(3)))  # (angle, magnitude, frames left)

        # Object origins start in the left 70 % of the interior, as published (so an
        # outline can overlap a wall at first; the solver pushes it out).
        object_x = (WALL, WALL + 0.7 * (config.width - 2 * WALL))
        object_y = (WALL, config.height - WALL)
        self.objects: list[ArenaObject] = []
        for _ in range(config.num_objects):
            shape_index, colour_index = int(rng.integers(len(SHAPES))), int(rng.integers(len(COLOURS)))
            body = pymunk.Body(config.object_mass, 1e6)  # large moment: objects barely spin
            body.position = (rng.uniform(*object_x), rng.uniform(*object_y))
            body.angle = rng.uniform(0, 2 * math.pi)
            shape = pymunk.Poly(body, OUTLINES[SHAPES[shape_index]].tolist())
            shape.elasticity, shape.friction = 1.0, 0.5
            self.space.add(body, shape)
            self.objects.append(
                ArenaObject(body, shape_index, colour_index, last_position=(body.position.x, body.position.y))
            )
        self.frames = 0
        self.rng = rng
        # All outlines stacked as complex numbers x + iy, so that one rotation and one
        # translation place every vertex.
        outlines = [OUTLINES[SHAPES[obj.shape_index]] for obj in self.objects]
        stack = np.concatenate(outlines)
        self._outline_stack = stack[:, 0] + 1j * stack[:, 1]
        centroids = np.array([CENTROIDS[SHAPES[obj.shape_index]] for obj in self.objects])
        self._centroid_offsets = centroids[:, 0] + 1j * centroids[:, 1]
        self._vertex_owner = np.repeat(np.arange(len(outlines)), [len(o) for o in outlines])
        ends = np.cumsum([len(o) for o in outlines]).tolist()
        self._outline_starts = [0, *ends[:-1]]
        self._vertex_ranges = list(zip(self._outline_starts, ends))
        self._scored_flags = [False] * len(self.objects)
        self._snapshot = self._read_bodies()

    def step(self, angle: float, force: float) -> int:
        """Advance ``action_repeat`` physics steps pushing the agent with (angle, force);
        return the number of objects scored."""
        cfg = self.config
        self._actions.append((angle, force))
        push = (FORCE_SCALE * force * math.cos(angle), FORCE_SCALE * force * math.sin(angle))
        moving = [obj.body for obj in self.objects if not obj.scored]
        # Plain floats and no helper calls in this loop: it runs action_repeat times per
        # step and its Python overhead outweighs pymunk's solver.
        speed_limit_squared = cfg.max_object_speed**2
        agent, agent_limit = self.agent, cfg.goal_x - AGENT_RADIUS
        for _ in range(cfg.action_repeat):
            # A world-frame force at the centre of gravity (the agent spins on contact,
            # so a body-frame force would turn with it). The published code applies it
            # at the world point (x, x), which only adds a spin.
            agent.force = push
            if self.distractors:
                self._drive_distractors()
            self.space.step(cfg.dt)
            self.frames += 1
            for body in moving:  # soft speed cap: 1 % slower per step above the limit
                vx, vy = body.velocity
                if vx * vx + vy * vy > speed_limit_squared:
                    body.velocity = body.velocity * 0.99
            if agent.position.x > agent_limit:
                self._keep_out_of_goal(agent, AGENT_RADIUS)
            for body, _ in self.distractors:
                self._keep_out_of_goal(body, DISTRACTOR_MARGIN)
        self._snapshot = self._read_bodies()
        return self._snapshot.newly_scored

    # A pickled pymunk space loses its cached contact impulses, so a copy would drift
    # from the original at the next contact. Pickling keeps the start and the actions
    # instead, and unpickling replays them: the copy continues exactly.
    def __getstate__(self) -> dict:
        return {"config": self.config, "rng": self.rng, "start": self._start_rng_state, "actions": self._actions}

    def __setstate__(self, state: dict) -> None:
        rng = state["rng"]
        current = rng.bit_generator.state
        rng.bit_generator.state = state["start"]
        type(self).__init__(self, state["config"], rng)
        for angle, force in state["actions"]:
            self.step(angle, force)
        rng.bit_generator.state = current

    @property
    def remaining(self) -> int:
        return self._scored_flags.count(False)

    def snapshot(self) -> WorldSnapshot:
        """Positions, velocities and outlines after the latest step."""
        return self._snapshot

    def _read_bodies(self) -> WorldSnapshot:
        """Read every body once: score the objects whose origin passed the goal line
        (they leave the space), then place the outlines."""
        # Scoring is checked once per env step: an object cannot cross the 100 px deep
        # goal and come back out within one step (< 60 px at the speed cap).
        goal_line = self.config.goal_x + GOAL_LINE_OFFSET
        newly_scored = 0
        # Flat lists, since each pymunk property read is a Python-level call, the
        # dominant cost here.
        agent = self.agent
        values = [*agent.position, *agent.velocity]
        angles = []
        for index, obj in enumerate(self.objects):
            body = obj.body
            if not obj.scored:
                position = body.position
                if position[0] < goal_line:
                    values.extend(position)
                    values.extend(body.velocity)
                    angles.append(body.angle)
                    continue
                obj.scored, obj.last_position = True, (position[0], position[1])
                self._scored_flags[index] = True
                self.space.remove(body, *body.shapes)
                newly_scored += 1
            values.extend(obj.last_position)
            values.extend((0.0, 0.0))
            angles.append(body.angle)
        motion = np.array(values).reshape(-1, 4)
        xy = motion[1:, 0:2]
        owner = self._vertex_owner
        origins = xy.view(np.complex128)[:, 0].copy()
        turns = np.exp(1j * np.array(angles))
        vertices = self._outline_stack * turns[owner] + origins[owner]
        vertex_xy = vertices.view(np.float64).reshape(-1, 2)
        xy.view(np.complex128)[:, 0] = origins + self._centroid_offsets * turns  # report centroids
        starts = self._outline_starts
        agent_xy, half_view = motion[0, 0:2], self.config.view_size / 2
        return WorldSnapshot(
            newly_scored=newly_scored,
            motion=motion,
            agent_xy=agent_xy,
            agent_velocity=motion[0, 2:4],
            object_xy=xy,
            object_velocity=motion[1:, 2:4],
            scored=np.array(self._scored_flags, dtype=np.int8),
            vertex_xy=vertex_xy,
            vertex_ranges=self._vertex_ranges,
            low=np.minimum.reduceat(vertex_xy, starts),
            high=np.maximum.reduceat(vertex_xy, starts),
            view_low=agent_xy - half_view,
            view_high=agent_xy + half_view,
        )

    def distractor_vertices(self, body: pymunk.Body) -> np.ndarray:
        return _transform(DISTRACTOR_OUTLINE, body)

    def _keep_out_of_goal(self, body: pymunk.Body, radius: float) -> None:
        limit = self.config.goal_x - radius
        if body.position.x > limit:
            body.position = (limit, body.position.y)
            vx, vy = body.velocity
            if self.config.flip_velocity_at_goal:
                body.velocity = (-self.config.goal_bounce * vx, -self.config.goal_bounce * vy)
            else:
                body.velocity = (-self.config.goal_bounce * abs(vx), vy)

    def _drive_distractors(self) -> None:
        for body, plan in self.distractors:
            if plan[2] <= 0:  # draw a new random push, held for 2-9 frames
                plan[:] = (math.radians(self.rng.integers(360)), self.rng.uniform(0, 400), self.rng.integers(2, 10))
            plan[2] -= 1
            magnitude = FORCE_SCALE * 0.2 * plan[1]
            # A world-frame force at the body's origin, as published: off the centroid,
            # so it also turns the kite.
            body.apply_force_at_world_point(
                (magnitude * math.cos(plan[0]), magnitude * math.sin(plan[0])), body.position
            )


def _transform(outline: np.ndarray, body: pymunk.Body) -> np.ndarray:
    c, s = math.cos(body.angle), math.sin(body.angle)
    x, y = body.position
    return outline @ np.array([[c, s], [-s, c]]) + (x, y)

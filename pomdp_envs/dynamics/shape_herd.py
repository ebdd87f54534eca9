"""ShapeHerd physics: an agent disc pushes polygon objects into a goal recess (pymunk).

Units: pixels (1 px = 1 physics unit), seconds. Coordinates are image coordinates: x to
the right, y downwards, origin at the arena canvas' top-left corner. Unlike the other 2D
envs this world is not batched: each env owns one pymunk space, rebuilt at every reset
so that no cached contact impulse carries over between episodes.
"""

from __future__ import annotations

import dataclasses
import math

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
# Convex outlines in px, centred on their centroid (sizes as in the VSG paper's code).
_RAW_OUTLINES = {
    "triangle": [(0, 0), (50, 0), (25, 25)],
    "square": [(0, 0), (50, 0), (50, 50), (0, 50)],
    "rectangle": [(0, 0), (50, 0), (50, 25), (0, 25)],
    "pentagon": [(5, -17), (28, 0), (19, 28), (-10, 28), (-19, 0)],
    "hexagon": [(17, -14), (30, 8), (17, 29), (-8, 29), (-20, 7), (-8, -14)],
}
DISTRACTOR_OUTLINE = np.array([(-30.0, 0.0), (0.0, -15.0), (10.0, 0.0), (0.0, 15.0)])  # counter-clockwise
WALL = 125.0  # px, wall thickness (not scaled with the arena)
GOAL_WIDTH = 100.0
AGENT_RADIUS = 15.0
FORCE_REPEAT = 100  # the applied force is 100x the action's magnitude (see ShapeHerdConfig)


def _centred(points: list[tuple[float, float]]) -> np.ndarray:
    """The outline moved to its centroid, in counter-clockwise order (y down)."""
    poly = np.asarray(points, dtype=float)
    x, y = poly[:, 0], poly[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    area = cross.sum() / 2
    cx = ((x + np.roll(x, -1)) * cross).sum() / (6 * area)
    cy = ((y + np.roll(y, -1)) * cross).sum() / (6 * area)
    centred = poly - (cx, cy)
    return centred if area > 0 else centred[::-1].copy()


OUTLINES = {name: _centred(points) for name, points in _RAW_OUTLINES.items()}


@dataclasses.dataclass(frozen=True)
class ShapeHerdConfig:
    """Arena, bodies and task constants (defaults: the VSG paper's Basic arena)."""

    arena_scale: float = 1.0  # Basic 1.0, Small 1.2, Medium 1.4, Large 1.6
    num_objects: int = 5
    num_distractors: int = 0
    action_repeat: int = 4  # physics steps of 1/60 s per env step
    dt: float = 1.0 / 60.0
    max_force: float = 400.0  # action force bound; applied as FORCE_REPEAT * force
    agent_mass: float = 0.1 * math.pi * AGENT_RADIUS**2  # ~70.7: density 0.1 over the disc
    object_mass: float = 20.0
    damping: float = 0.7  # fraction of velocity kept per second (30 % lost)
    max_object_speed: float = 800.0  # px/s; faster objects are slowed by 1 % per step
    goal_bounce: float = 0.3  # the agent is pushed back out of the goal with this factor
    dense_reward: bool = False
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
    motion: np.ndarray  # (1 + N, 4): x, y, vx, vy of the agent (row 0) and each object
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
        self.space = pymunk.Space()
        self.space.damping = config.damping
        for x0, y0, x1, y1 in config.wall_boxes():
            shape = pymunk.Poly(self.space.static_body, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
            shape.elasticity, shape.friction = 0.7, 1.0
            self.space.add(shape)

        interior_x = (WALL + AGENT_RADIUS, config.goal_x - AGENT_RADIUS)
        interior_y = (WALL + AGENT_RADIUS, config.height - WALL - AGENT_RADIUS)
        self.agent = pymunk.Body(config.agent_mass, pymunk.moment_for_circle(config.agent_mass, 0, AGENT_RADIUS))
        self.agent.position = (rng.uniform(*interior_x), rng.uniform(*interior_y))
        agent_shape = pymunk.Circle(self.agent, AGENT_RADIUS)
        agent_shape.friction = 0.5  # elasticity 0, as the published code leaves it
        self.space.add(self.agent, agent_shape)

        self.distractors: list[tuple[pymunk.Body, np.ndarray]] = []
        for _ in range(config.num_distractors):
            body = pymunk.Body(60.0, pymunk.moment_for_poly(60.0, DISTRACTOR_OUTLINE.tolist()))
            body.position = (rng.uniform(*interior_x), rng.uniform(*interior_y))
            shape = pymunk.Poly(body, DISTRACTOR_OUTLINE.tolist())
            shape.friction = 0.5
            self.space.add(body, shape)
            self.distractors.append((body, np.zeros(3)))  # (angle, magnitude, frames left)

        # Objects start in the left 70 % of the interior, away from the goal.
        object_x = (WALL + 30, WALL + 0.7 * (config.goal_x - WALL))
        object_y = (WALL + 30, config.height - WALL - 30)
        self.objects: list[ArenaObject] = []
        for _ in range(config.num_objects):
            shape_index, colour_index = int(rng.integers(len(SHAPES))), int(rng.integers(len(COLOURS)))
            body = pymunk.Body(config.object_mass, 1e6)  # large moment: objects barely spin
            body.position = (rng.uniform(*object_x), rng.uniform(*object_y))
            body.angle = rng.uniform(0, 2 * math.pi)
            shape = pymunk.Poly(body, OUTLINES[SHAPES[shape_index]].tolist())
            shape.elasticity, shape.friction = 1.0, 0.5
            self.space.add(body, shape)
            self.objects.append(ArenaObject(body, shape_index, colour_index, last_position=tuple(body.position)))
        self.frames = 0
        self.rng = rng
        # All outlines stacked as complex numbers x + iy, so that one rotation and one
        # translation place every vertex.
        outlines = [OUTLINES[SHAPES[obj.shape_index]] for obj in self.objects]
        stack = np.concatenate(outlines)
        self._outline_stack = stack[:, 0] + 1j * stack[:, 1]
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
        push = (FORCE_REPEAT * force * math.cos(angle), FORCE_REPEAT * force * math.sin(angle))
        moving = [obj.body for obj in self.objects if not obj.scored]
        # Plain floats and no helper calls in this loop: it runs action_repeat times per
        # step and its Python overhead outweighs pymunk's solver.
        speed_limit_squared = cfg.max_object_speed**2
        agent, agent_limit = self.agent, cfg.goal_x - AGENT_RADIUS
        for _ in range(cfg.action_repeat):
            agent.apply_force_at_local_point(push, (0, 0))
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
                self._keep_out_of_goal(body, 12.0)
        self._snapshot = self._read_bodies()
        return self._snapshot.newly_scored

    @property
    def remaining(self) -> int:
        return self._scored_flags.count(False)

    def snapshot(self) -> WorldSnapshot:
        """Positions, velocities and outlines after the latest step."""
        return self._snapshot

    def _read_bodies(self) -> WorldSnapshot:
        """Read every body once: score the objects past the goal's mouth (they leave the
        space), then place the outlines."""
        # Scoring is checked once per env step: an object cannot cross the 100 px deep
        # goal and come back out within one step (< 60 px at the speed cap).
        goal_line = self.config.goal_x + 5
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
                obj.scored, obj.last_position = True, tuple(position)
                self._scored_flags[index] = True
                self.space.remove(body, *body.shapes)
                newly_scored += 1
            values.extend(obj.last_position)
            values.extend((0.0, 0.0))
            angles.append(body.angle)
        motion = np.array(values).reshape(-1, 4)
        xy = motion[1:, 0:2]
        owner = self._vertex_owner
        centres = xy.view(np.complex128)[:, 0]
        vertices = self._outline_stack * np.exp(1j * np.array(angles))[owner] + centres[owner]
        vertex_xy = vertices.view(np.float64).reshape(-1, 2)
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
            body.velocity = tuple(-self.config.goal_bounce * np.asarray(body.velocity))

    def _drive_distractors(self) -> None:
        for body, plan in self.distractors:
            if plan[2] <= 0:  # draw a new random push, held for 2-9 frames
                plan[:] = (math.radians(self.rng.integers(360)), self.rng.uniform(0, 400), self.rng.integers(2, 10))
            plan[2] -= 1
            magnitude = FORCE_REPEAT * 0.2 * plan[1]
            body.apply_force_at_local_point(
                (magnitude * math.cos(plan[0]), magnitude * math.sin(plan[0])), (0, 0)
            )


def _transform(outline: np.ndarray, body: pymunk.Body) -> np.ndarray:
    c, s = math.cos(body.angle), math.sin(body.angle)
    x, y = body.position
    return outline @ np.array([[c, s], [-s, c]]) + (x, y)

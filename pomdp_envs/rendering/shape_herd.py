"""Rasterise ShapeHerd directly at the output resolution: the 64x64 egocentric view
(the observation) and the whole-arena frame (``render_mode="rgb_array"``).

Each pixel is sampled at SUPERSAMPLE x SUPERSAMPLE points and averaged, and shapes
are tested only over their own pixel bounding box, which keeps an observation to a
fraction of a millisecond.
"""

from __future__ import annotations

import functools

import numpy as np

from pomdp_envs.dynamics.shape_herd import AGENT_RADIUS, COLOUR_RGB, COLOURS, WALL, ShapeHerdConfig, ShapeHerdWorld

SUPERSAMPLE = 2
FLOOR, WALL_RGB, GOAL_RGB = (0, 0, 0), (149, 165, 166), (0, 130, 65)
OUTSIDE = (128, 128, 128)  # beyond the arena canvas
AGENT_RGB, DISTRACTOR_RGB, WINDOW_RGB = (70, 130, 180), (188, 143, 143), (255, 255, 255)


class Raster:
    """An image covering the world box [x0, x0 + width] x [y0, y0 + height] (px)."""

    def __init__(self, x0: float, y0: float, width: float, height: float, pixels_x: int, pixels_y: int) -> None:
        self.x0, self.y0, self.x1, self.y1 = x0, y0, x0 + width, y0 + height
        self.scale_x, self.scale_y = pixels_x / width, pixels_y / height
        self.shape = (pixels_y, pixels_x)
        self.image = np.full((pixels_y, pixels_x, 3), OUTSIDE, dtype=np.float32)

    def box(self, x0: float, y0: float, x1: float, y1: float, colour) -> None:
        """Fill a world-aligned box (coverage is exact along each axis)."""
        cover_x = self._axis_cover(x0, x1, self.x0, self.scale_x, self.shape[1])
        cover_y = self._axis_cover(y0, y1, self.y0, self.scale_y, self.shape[0])
        if cover_x is None or cover_y is None:
            return
        (cols, wx), (rows, wy) = cover_x, cover_y
        weight = np.outer(wy, wx)[..., None]
        region = self.image[rows, cols]
        region += weight * (np.asarray(colour, dtype=np.float32) - region)

    def convex_polygon(self, vertices: np.ndarray, colour) -> None:
        """Fill a convex polygon given by world vertices in counter-clockwise order
        (in y-down image coordinates, as ``shape_herd.OUTLINES`` are)."""
        low, high = vertices.min(axis=0), vertices.max(axis=0)
        if high[0] <= self.x0 or low[0] >= self.x1 or high[1] <= self.y0 or low[1] >= self.y1:
            return
        window = self._samples(low, high)
        if window is None:
            return
        rows, cols, sx, sy = window
        inside = np.ones((sy.shape[0], sx.shape[1]), dtype=bool)
        points = vertices.tolist()
        for (ax, ay), (bx, by) in zip(points, points[1:] + points[:1]):
            inside &= (bx - ax) * (sy - ay) - (by - ay) * (sx - ax) >= 0
        self._blend(rows, cols, inside, colour)

    def disc(self, x: float, y: float, radius: float, colour) -> None:
        if x + radius <= self.x0 or x - radius >= self.x1 or y + radius <= self.y0 or y - radius >= self.y1:
            return
        window = self._samples(np.array([x - radius, y - radius]), np.array([x + radius, y + radius]))
        if window is None:
            return
        rows, cols, sx, sy = window
        self._blend(rows, cols, (sx - x) ** 2 + (sy - y) ** 2 <= radius**2, colour)

    def outline(self, x0: float, y0: float, x1: float, y1: float, colour, width_px: float = 2.0) -> None:
        wx, wy = width_px / self.scale_x, width_px / self.scale_y
        for box in ((x0, y0, x1, y0 + wy), (x0, y1 - wy, x1, y1), (x0, y0, x0 + wx, y1), (x1 - wx, y0, x1, y1)):
            self.box(*box, colour)

    def frame(self) -> np.ndarray:
        return np.clip(np.rint(self.image), 0, 255).astype(np.uint8)

    @staticmethod
    def _axis_cover(lo: float, hi: float, origin: float, scale: float, size: int):
        a, b = (lo - origin) * scale, (hi - origin) * scale
        first, last = max(int(np.floor(a)), 0), min(int(np.ceil(b)), size)
        if first >= last:
            return None
        centres = np.arange(first, last) + 0.5
        return slice(first, last), np.clip(np.minimum(centres - a + 0.5, b - centres + 0.5), 0.0, 1.0)

    def _samples(self, low: np.ndarray, high: np.ndarray):
        """Pixel window covering world box [low, high] and its sample points."""
        height, width = self.shape
        c0 = max(int(np.floor((low[0] - self.x0) * self.scale_x)), 0)
        c1 = min(int(np.ceil((high[0] - self.x0) * self.scale_x)), width)
        r0 = max(int(np.floor((low[1] - self.y0) * self.scale_y)), 0)
        r1 = min(int(np.ceil((high[1] - self.y0) * self.scale_y)), height)
        if c0 >= c1 or r0 >= r1:
            return None
        # Sample coordinates as a row (x) and a column (y): tests broadcast to 2-d.
        sub_x = (np.arange(c0 * SUPERSAMPLE, c1 * SUPERSAMPLE) + 0.5) / (SUPERSAMPLE * self.scale_x) + self.x0
        sub_y = (np.arange(r0 * SUPERSAMPLE, r1 * SUPERSAMPLE) + 0.5) / (SUPERSAMPLE * self.scale_y) + self.y0
        return slice(r0, r1), slice(c0, c1), sub_x[None, :], sub_y[:, None]

    def _blend(self, rows: slice, cols: slice, inside: np.ndarray, colour) -> None:
        # Mean over each pixel's SUPERSAMPLE x SUPERSAMPLE samples (strided sums are
        # cheaper than a reshape-mean on these small arrays).
        total = np.zeros((inside.shape[0] // SUPERSAMPLE, inside.shape[1] // SUPERSAMPLE), dtype=np.float32)
        for dy in range(SUPERSAMPLE):
            for dx in range(SUPERSAMPLE):
                total += inside[dy::SUPERSAMPLE, dx::SUPERSAMPLE]
        cover = (total * (1.0 / SUPERSAMPLE**2))[..., None]
        region = self.image[rows, cols]
        region += cover * (np.asarray(colour, dtype=np.float32) - region)


@functools.lru_cache(maxsize=8)
def _static_boxes(config: ShapeHerdConfig) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint boxes (x0, y0, x1, y1) of the canvas, walls and goal, and for each the
    colour change it paints over the layer below (canvas over the outside, the rest
    over the floor)."""
    w, h, gx = config.width, config.height, config.goal_x
    top, bottom = config.goal_y_range
    boxes = [
        (0, 0, w, h),  # the canvas: floor
        (0, 0, w, WALL),  # top wall
        (0, h - WALL, w, h),  # bottom wall
        (0, WALL, WALL, h - WALL),  # left wall
        (w - WALL, WALL, w, h - WALL),  # right wall
        (gx, WALL, w - WALL, top),  # wall block above the goal
        (gx, bottom, w - WALL, h - WALL),  # wall block below the goal
        (gx, top, w - WALL, bottom),  # the goal
    ]
    floor = np.array(FLOOR, dtype=np.float32)
    colours = [np.array(FLOOR, dtype=np.float32) - OUTSIDE] + [np.array(WALL_RGB) - floor] * 6
    colours.append(np.array(GOAL_RGB) - floor)
    return np.array(boxes, dtype=np.float64), np.array(colours, dtype=np.float32)


def _paint_static(raster: Raster, config: ShapeHerdConfig) -> None:
    """Floor, walls and goal in one pass: coverage of axis-aligned boxes is separable,
    so the layer is a sum of outer products of per-axis coverages."""
    boxes, colours = _static_boxes(config)
    height, width = raster.shape
    cols = (np.arange(width) + 0.5) / raster.scale_x + raster.x0  # pixel centres, world px
    rows = (np.arange(height) + 0.5) / raster.scale_y + raster.y0
    half_x, half_y = 0.5 / raster.scale_x, 0.5 / raster.scale_y  # half a pixel, world px
    cover_x = np.clip((np.minimum(cols + half_x, boxes[:, 2:3]) - np.maximum(cols - half_x, boxes[:, 0:1]))
                      * raster.scale_x, 0.0, 1.0)
    cover_y = np.clip((np.minimum(rows + half_y, boxes[:, 3:4]) - np.maximum(rows - half_y, boxes[:, 1:2]))
                      * raster.scale_y, 0.0, 1.0)
    # sum_b cover_y[b, i] * cover_x[b, j] * colours[b, c] as one (H, b) @ (b, W * 3) product.
    painted = cover_x.astype(np.float32)[:, :, None] * colours[:, None, :]
    raster.image += (cover_y.T.astype(np.float32) @ painted.reshape(len(boxes), -1)).reshape(height, width, 3)


def draw_world(raster: Raster, world: ShapeHerdWorld) -> Raster:
    """Paint the arena, goal, objects, distractors and agent onto ``raster``."""
    _paint_static(raster, world.config)
    snapshot = world.snapshot()
    for obj, vertices in zip(world.objects, snapshot.vertices):
        if not obj.scored:
            raster.convex_polygon(vertices, COLOUR_RGB[COLOURS[obj.colour_index]])
    for body, _ in world.distractors:
        raster.convex_polygon(world.distractor_vertices(body), DISTRACTOR_RGB)
    raster.disc(*snapshot.agent_xy, AGENT_RADIUS, AGENT_RGB)
    return raster


def view_window(world: ShapeHerdWorld) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the square view centred on the agent (px)."""
    half = world.config.view_size / 2
    ax, ay = world.snapshot().agent_xy
    return ax - half, ay - half, ax + half, ay + half


def render_view(world: ShapeHerdWorld) -> np.ndarray:
    """The observation: the view window at ``obs_size`` x ``obs_size``, uint8 RGB."""
    x0, y0, x1, y1 = view_window(world)
    size = world.config.obs_size
    return draw_world(Raster(x0, y0, x1 - x0, y1 - y0, size, size), world).frame()


def render_arena(world: ShapeHerdWorld, pixels_per_px: float = 0.75) -> np.ndarray:
    """The whole arena with the view window outlined (for videos)."""
    cfg = world.config
    # Even frame sizes, which H.264 video needs.
    pixels_x, pixels_y = (2 * round(side * pixels_per_px / 2) for side in (cfg.width, cfg.height))
    raster = Raster(0, 0, cfg.width, cfg.height, pixels_x, pixels_y)
    draw_world(raster, world)
    raster.outline(*view_window(world), WINDOW_RGB)
    return raster.frame()

"""Draw ShapeHerd with pygame-ce: the egocentric view (the observation) and the whole
arena (``render_mode="rgb_array"``).

The view is rasterised straight at ``obs_size`` pixels, about 4 px per output pixel
and without antialiasing, which is what the published environment's bilinear resize
of its 250 px window amounts to, then veiled with the published translucent grey. The arena is drawn at SUPERSAMPLE times its output
size and area-averaged down, for smooth videos. The static layer (floor, walls, goal,
and the grey beyond the canvas) is drawn once per arena and scale and blitted. All
surfaces are 24-bit with R, G, B bytes in memory order, so a frame leaves as one copy.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
from typing import Any, cast

import numpy as np

# pygame prints a greeting when first imported; swallowed here rather than switched off
# through an environment variable, which would change the whole process.
with contextlib.redirect_stdout(io.StringIO()):
    import pygame

from pomdp_envs.worlds.shape_herd import (
    AGENT_RADIUS,
    COLOUR_RGB,
    COLOURS,
    WALL,
    ShapeHerdConfig,
    ShapeHerdWorld,
)

SUPERSAMPLE = 2  # for render_arena only
FLOOR, WALL_RGB, GOAL_RGB = (0, 0, 0), (149, 165, 166), (0, 130, 65)
OUTSIDE = (128, 128, 128)  # beyond the arena canvas
AGENT_RGB, DISTRACTOR_RGB, WINDOW_RGB = (70, 130, 180), (188, 143, 143), (255, 255, 255)
VEIL_RGB, VEIL_ALPHA = (128, 128, 128), 100  # every pixel p in view becomes ~0.61 p + 50
_RGB_MASKS = (0x0000FF, 0x00FF00, 0xFF0000, 0)  # little-endian 24-bit: bytes R, G, B
_OBJECT_RGB = tuple(COLOUR_RGB[name] for name in COLOURS)


def view_window(world: ShapeHerdWorld) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the square view centred on the agent (px)."""
    snapshot = world.snapshot()
    return (*snapshot.view_low.tolist(), *snapshot.view_high.tolist())


def render_view(world: ShapeHerdWorld) -> np.ndarray:
    """The observation: the view window at ``obs_size`` x ``obs_size``, uint8 RGB."""
    cfg = world.config
    size = cfg.obs_size
    scale = size / cfg.view_size  # output pixels per px
    static, margin = _static_layer(cfg, scale)
    x0, y0, _, _ = view_window(world)
    # The window snaps to the static layer's pixel grid (under half an output pixel),
    # and the bodies are drawn relative to the snapped corner, so all layers agree.
    left, top = round((x0 + margin) * scale), round((y0 + margin) * scale)
    return _observation(world, static, margin, left, top, scale)


def _observation(
    world: ShapeHerdWorld, static: pygame.Surface, margin: float, left: int, top: int, scale: float
) -> np.ndarray:
    """An ``obs_size`` square from the static layer at pixel (left, top), the bodies on it,
    veiled as configured."""
    size = world.config.obs_size
    surface = _surface(size, size)
    surface.blit(static, (0, 0), (left, top, size, size))
    _draw_bodies(surface, world, left / scale - margin, top / scale - margin, scale)
    if world.config.veil:
        surface.blit(_veil(size), (0, 0))
    return _pixels(surface)


def render_whole_arena(world: ShapeHerdWorld) -> np.ndarray:
    """The fully observable variant's observation: the whole arena at ``obs_size`` x
    ``obs_size``, centred, drawn as the view is (no antialiasing, the same veil)."""
    cfg = world.config
    size = cfg.obs_size
    scale = size / max(cfg.width, cfg.height)  # output pixels per px
    static, margin = _static_layer(cfg, scale)
    # The world point at the output's top-left corner, snapped to the static layer's grid.
    left = round(margin * scale - (size - cfg.width * scale) / 2)
    top = round(margin * scale - (size - cfg.height * scale) / 2)
    return _observation(world, static, margin, left, top, scale)


@functools.lru_cache(maxsize=4)
def _veil(size: int) -> pygame.Surface:
    veil = _surface(size, size)
    veil.fill(VEIL_RGB)
    veil.set_alpha(VEIL_ALPHA)
    return veil


def render_arena(world: ShapeHerdWorld, pixels_per_px: float = 0.75) -> np.ndarray:
    """The whole arena with the view window outlined (for videos)."""
    cfg = world.config
    # Even frame sizes, which H.264 video needs.
    pixels_x, pixels_y = (2 * round(side * pixels_per_px / 2) for side in (cfg.width, cfg.height))
    scale = SUPERSAMPLE * pixels_x / cfg.width
    static, margin = _static_layer(cfg, scale)
    surface = _surface(SUPERSAMPLE * pixels_x, SUPERSAMPLE * pixels_y)
    offset = round(margin * scale)
    surface.blit(static, (0, 0), (offset, offset, *surface.get_size()))
    origin = offset / scale - margin  # world px at the surface's left and top edges
    _draw_bodies(surface, world, origin, origin, scale)
    x0, y0, x1, y1 = ((value - origin) * scale for value in view_window(world))
    pygame.draw.rect(
        surface, WINDOW_RGB, pygame.Rect(round(x0), round(y0), round(x1 - x0), round(y1 - y0)), width=2 * SUPERSAMPLE
    )
    return _pixels(pygame.transform.smoothscale(surface, (pixels_x, pixels_y)))


def _surface(width: int, height: int) -> pygame.Surface:
    return pygame.Surface((width, height), 0, 24, _RGB_MASKS)


@functools.lru_cache(maxsize=16)
def _static_layer(config: ShapeHerdConfig, scale: float) -> tuple[pygame.Surface, float]:
    """Floor, walls and goal at ``scale`` surface pixels per px, surrounded by a grey
    margin one view wide so that every view window lies inside the surface; returns
    the surface and the margin (px)."""
    margin = config.view_size
    w, h = config.width, config.height
    surface = _surface(math.ceil((w + 2 * margin) * scale), math.ceil((h + 2 * margin) * scale))
    surface.fill(OUTSIDE)
    # Opaque fills in order, so the physics' (overlapping) wall blocks serve as they are.
    top, bottom = config.goal_y_range
    boxes = [
        ((0, 0, w, h), FLOOR),
        *((box, WALL_RGB) for box in config.wall_boxes()),
        ((config.goal_x, top, w - WALL, bottom), GOAL_RGB),
    ]
    for (x0, y0, x1, y1), colour in boxes:
        left, right = round((x0 + margin) * scale), round((x1 + margin) * scale)
        upper, lower = round((y0 + margin) * scale), round((y1 + margin) * scale)
        surface.fill(colour, pygame.Rect(left, upper, right - left, lower - upper))
    return surface, margin


def _draw_bodies(surface: pygame.Surface, world: ShapeHerdWorld, x0: float, y0: float, scale: float) -> None:
    """Objects, distractors and the agent, with world point (x0, y0) at the surface's
    top-left corner."""
    snapshot = world.snapshot()
    origin = np.array([x0, y0])
    points = ((snapshot.vertex_xy - origin) * scale).tolist()  # one conversion for all outlines
    for obj, (start, end) in zip(world.objects, snapshot.vertex_ranges):
        if not obj.scored:
            pygame.draw.polygon(surface, _OBJECT_RGB[obj.colour_index], points[start:end])
    for body, _ in world.distractors:
        pygame.draw.polygon(surface, DISTRACTOR_RGB, ((world.distractor_vertices(body) - origin) * scale).tolist())
    agent_x, agent_y = snapshot.agent_xy.tolist()
    centre = ((agent_x - x0) * scale, (agent_y - y0) * scale)
    pygame.draw.circle(surface, AGENT_RGB, centre, round(AGENT_RADIUS * scale))


def _pixels(surface: pygame.Surface) -> np.ndarray:
    """The surface as a (height, width, 3) uint8 RGB array (a copy)."""
    width, height = surface.get_size()
    # pygame's BufferProxy is a buffer, which numpy's stubs do not know: read it without a copy.
    rows = np.frombuffer(cast(Any, surface.get_buffer()), dtype=np.uint8).reshape(height, surface.get_pitch())
    return rows[:, : 3 * width].reshape(height, width, 3).copy()

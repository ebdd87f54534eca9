"""Frames of Shepherd: stable, wall height, wall with gate, lever, field, cage and sheep.

The sheep is drawn even while it is hidden from the observation, dimmed, so that a
video shows the state the agent has to remember.
"""

from __future__ import annotations

import functools

import numpy as np

from pomdp_envs.dynamics.shepherd import (
    FIELD_HIGH,
    FIELD_LOW,
    SHEEP_X_LIMITS,
    ShepherdConfig,
    ShepherdState,
)
from pomdp_envs.rendering.canvas import Canvas

PX_PER_UNIT = 200
BACKGROUND, FIELD, STABLE = (70, 70, 76), (196, 222, 170), (222, 205, 170)
WALL, OCCLUDER, GATE_OPEN = (110, 70, 40), (120, 120, 128), (196, 222, 170)
AGENT, CAGE, SHEEP = (40, 90, 200), (150, 90, 30), (250, 250, 250)
LEVER_OFF, LEVER_ON = (190, 40, 40), (40, 170, 70)


@functools.lru_cache(maxsize=1)
def _grounds() -> Canvas:
    """The static layer: field and stable."""
    canvas = Canvas(4 * PX_PER_UNIT, int(2.2 * PX_PER_UNIT), (-1.0, 3.0), (-1.1, 1.1), background=BACKGROUND)
    canvas.rect(FIELD_LOW[0], -1.05, FIELD_HIGH[0], 0.0, FIELD)
    canvas.rect(SHEEP_X_LIMITS[0], 0.0, SHEEP_X_LIMITS[1], 1.0, STABLE)
    return canvas


def render_shepherd(config: ShepherdConfig, state: ShepherdState) -> np.ndarray:
    canvas = _grounds().copy()
    gate_open = bool(state.gate_open[0])

    # The wall along y = 0, with the gate across the stable's width.
    canvas.rect(-1.0, -0.02, 3.0, 0.02, WALL)
    if gate_open:
        canvas.rect(SHEEP_X_LIMITS[0], -0.02, SHEEP_X_LIMITS[1], 0.02, GATE_OPEN)
    lx, ly = config.lever_xy
    lever = LEVER_ON if gate_open else LEVER_OFF
    canvas.circle(lx, ly, config.lever_reach, lever, alpha=0.25)
    canvas.line(lx, ly, lx + (0.08 if gate_open else -0.08), ly - 0.12, lever, width=5.0)

    sheep_visible = not bool(state.sheep_hidden[0])
    height = float(state.wall_height[0])
    sx, sy = float(state.sheep_x[0]), float(state.sheep_y[0])
    canvas.rect(SHEEP_X_LIMITS[0], 0.0, SHEEP_X_LIMITS[1], height, OCCLUDER, alpha=0.85)
    # A hidden sheep is drawn faintly, so that videos show what must be remembered.
    canvas.circle(sx, sy, 0.05, SHEEP, alpha=1.0 if sheep_visible else 0.3)

    cx, cy = float(state.cage_x[0]), float(state.cage_y[0])
    half = config.catch_reach
    canvas.outline(cx - half, cy - half, cx + half, cy + half, CAGE, width=4.0)
    ax, ay = float(state.agent_x[0]), float(state.agent_y[0])
    canvas.circle(ax, ay, 0.05, AGENT)
    if bool(state.cage_held[0]):
        canvas.line(ax, ay, cx, cy, CAGE, width=3.0)
    return canvas.frame()

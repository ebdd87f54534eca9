"""Frames of the Billiard Ball table."""

from __future__ import annotations

import functools

import numpy as np

from pomdp_envs.dynamics.billiard_ball import BilliardBallConfig, BilliardBallState
from pomdp_envs.rendering.canvas import Canvas

PX_PER_UNIT = 275  # a 2 x 1 table with its cushions fills 600 x 320 pixels
CUSHION = 0.09  # table units drawn around the playing area
FELT, RAIL, BALL, POCKET = (34, 110, 60), (96, 58, 30), (245, 245, 240), (15, 15, 15)


@functools.lru_cache(maxsize=8)
def _table(config: BilliardBallConfig) -> Canvas:
    length, width = config.table_half_length, config.table_half_width
    x_range, y_range = (-length - CUSHION, length + CUSHION), (-width - CUSHION, width + CUSHION)
    canvas = Canvas(
        round(PX_PER_UNIT * (x_range[1] - x_range[0])),
        round(PX_PER_UNIT * (y_range[1] - y_range[0])),
        x_range,
        y_range,
        background=RAIL,
    )
    canvas.rect(-length, -width, length, width, FELT)
    for x, y in config.pockets:
        canvas.circle(x, y, max(config.pocket_radius, config.ball_radius), POCKET)
    return canvas


def render_billiard_ball(config: BilliardBallConfig, state: BilliardBallState) -> np.ndarray:
    canvas = _table(config).copy()
    x, y = state.position[0]
    # A pocketed ball is drawn dimmed in its pocket.
    canvas.circle(x, y, config.ball_radius, BALL, alpha=0.4 if state.pocketed[0] else 1.0)
    return canvas.frame()

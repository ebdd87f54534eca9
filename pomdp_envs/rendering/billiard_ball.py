"""Frames of the Billiard Ball table."""

from __future__ import annotations

import functools

import numpy as np

from pomdp_envs.dynamics.billiard_ball import BilliardBallConfig, BilliardBallState
from pomdp_envs.rendering.canvas import Canvas

FRAME_SIZE = 400  # pixels, square
CUSHION = 0.1  # table units drawn around the playing area
FELT, RAIL, BALL = (34, 110, 60), (96, 58, 30), (245, 245, 240)


@functools.lru_cache(maxsize=8)
def _table(config: BilliardBallConfig) -> Canvas:
    half = config.table_half_size
    extent = (-half - CUSHION, half + CUSHION)
    canvas = Canvas(FRAME_SIZE, FRAME_SIZE, extent, extent, background=RAIL)
    canvas.rect(-half, -half, half, half, FELT)
    return canvas


def render_billiard_ball(config: BilliardBallConfig, state: BilliardBallState) -> np.ndarray:
    canvas = _table(config).copy()
    x, y = state.position[0]
    canvas.circle(x, y, config.ball_radius, BALL)
    return canvas.frame()

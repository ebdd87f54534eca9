"""A small numpy raster canvas in world coordinates (y up), for the 2D envs' frames.

Pure numpy so frames render headless, identically everywhere, without a window system.
Shapes are anti-aliased over one pixel and blended with an optional alpha.
"""

from __future__ import annotations

import numpy as np

Color = tuple[int, int, int]


class Canvas:
    """An RGB image that maps the world box ``x_range`` x ``y_range`` onto its pixels."""

    def __init__(
        self,
        width: int,
        height: int,
        x_range: tuple[float, float],
        y_range: tuple[float, float],
        background: Color = (0, 0, 0),
    ) -> None:
        self.width, self.height = width, height
        self.x0, self.y0 = x_range[0], y_range[0]
        self.px_per_x = width / (x_range[1] - x_range[0])
        self.px_per_y = height / (y_range[1] - y_range[0])
        self.pixels = np.empty((height, width, 3), dtype=np.float32)
        self.pixels[:] = background

    def copy(self) -> Canvas:
        """An independent canvas with the same mapping and pixels (reuse a static layer)."""
        clone = object.__new__(Canvas)
        clone.__dict__.update(self.__dict__)
        clone.pixels = self.pixels.copy()
        return clone

    def to_pixel(self, x: float, y: float) -> tuple[float, float]:
        """Continuous pixel coordinates (column, row) of a world point."""
        return (x - self.x0) * self.px_per_x, self.height - (y - self.y0) * self.px_per_y

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: Color, alpha: float = 1.0) -> None:
        """Fill the axis-aligned world box [x0, x1] x [y0, y1]."""
        c0, r1 = self.to_pixel(min(x0, x1), min(y0, y1))
        c1, r0 = self.to_pixel(max(x0, x1), max(y0, y1))
        cols, rows = np.arange(self.width) + 0.5, np.arange(self.height) + 0.5
        cover_c = np.clip(np.minimum(cols - c0 + 0.5, c1 - cols + 0.5), 0.0, 1.0)
        cover_r = np.clip(np.minimum(rows - r0 + 0.5, r1 - rows + 0.5), 0.0, 1.0)
        rs, cs = np.flatnonzero(cover_r), np.flatnonzero(cover_c)
        if rs.size and cs.size:
            cover = np.outer(cover_r[rs], cover_c[cs])
            self._blend(slice(rs[0], rs[-1] + 1), slice(cs[0], cs[-1] + 1), cover, color, alpha)

    def circle(self, x: float, y: float, radius: float, color: Color, alpha: float = 1.0) -> None:
        """Fill a disc of world radius ``radius`` (scaled by the x axis)."""
        self.ring(x, y, radius, color, alpha, thickness=None)

    def ring(
        self,
        x: float,
        y: float,
        radius: float,
        color: Color,
        alpha: float = 1.0,
        thickness: float | None = 2.0,
    ) -> None:
        """Stroke a circle ``thickness`` pixels wide (a filled disc when None)."""
        c, r = self.to_pixel(x, y)
        rad = radius * self.px_per_x
        rows, cols, dist = self._distance_window(c, r, rad + 1.0)
        if dist is None:
            return
        cover = np.clip(rad + 0.5 - dist, 0.0, 1.0)
        if thickness is not None:
            cover = np.minimum(cover, np.clip(dist - (rad - thickness) + 0.5, 0.0, 1.0))
        self._blend(rows, cols, cover, color, alpha)

    def line(
        self, x0: float, y0: float, x1: float, y1: float, color: Color, width: float = 2.0, alpha: float = 1.0
    ) -> None:
        """A segment ``width`` pixels wide with round caps."""
        a = np.array(self.to_pixel(x0, y0))
        b = np.array(self.to_pixel(x1, y1))
        half = width / 2.0
        lo = np.floor(np.minimum(a, b) - half - 1).astype(int)
        hi = np.ceil(np.maximum(a, b) + half + 1).astype(int)
        c_lo, r_lo = max(lo[0], 0), max(lo[1], 0)
        c_hi, r_hi = min(hi[0], self.width), min(hi[1], self.height)
        if c_lo >= c_hi or r_lo >= r_hi:
            return
        cols = np.arange(c_lo, c_hi) + 0.5
        rows = np.arange(r_lo, r_hi) + 0.5
        pc, pr = np.meshgrid(cols, rows)
        d = b - a
        length_sq = float(d @ d)
        t = (
            np.zeros_like(pc)
            if length_sq == 0
            else np.clip(((pc - a[0]) * d[0] + (pr - a[1]) * d[1]) / length_sq, 0, 1)
        )
        dist = np.hypot(pc - (a[0] + t * d[0]), pr - (a[1] + t * d[1]))
        cover = np.clip(half + 0.5 - dist, 0.0, 1.0)
        self._blend(slice(r_lo, r_hi), slice(c_lo, c_hi), cover, color, alpha)

    def outline(self, x0: float, y0: float, x1: float, y1: float, color: Color, width: float = 2.0) -> None:
        """Stroke the border of the world box [x0, x1] x [y0, y1]."""
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
        for (ax, ay), (bx, by) in zip(corners, corners[1:]):
            self.line(ax, ay, bx, by, color, width)

    def frame(self) -> np.ndarray:
        """The image as (H, W, 3) uint8."""
        return np.clip(np.rint(self.pixels), 0, 255).astype(np.uint8)

    def _distance_window(self, c: float, r: float, reach: float):
        c_lo, c_hi = max(int(np.floor(c - reach)), 0), min(int(np.ceil(c + reach)), self.width)
        r_lo, r_hi = max(int(np.floor(r - reach)), 0), min(int(np.ceil(r + reach)), self.height)
        if c_lo >= c_hi or r_lo >= r_hi:
            return None, None, None
        cols = np.arange(c_lo, c_hi) + 0.5
        rows = np.arange(r_lo, r_hi) + 0.5
        dist = np.hypot(cols[None, :] - c, rows[:, None] - r)
        return slice(r_lo, r_hi), slice(c_lo, c_hi), dist

    def _blend(self, rows: slice, cols: slice, cover: np.ndarray, color: Color, alpha: float) -> None:
        weight = (cover * alpha)[..., None]
        region = self.pixels[rows, cols]
        region += weight * (np.asarray(color, dtype=np.float32) - region)

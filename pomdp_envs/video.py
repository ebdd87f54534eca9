"""Writing frames to mp4 (needs the ``video`` extra: imageio and imageio-ffmpeg)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np


def write_mp4(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float) -> int:
    """Encode uint8 RGB frames (H, W, 3) as H.264 mp4; return the number of frames."""
    try:
        import imageio.v2 as imageio
    except ImportError as error:  # pragma: no cover - depends on the installed extras
        raise ImportError('writing videos needs imageio: pip install "pomdp-envs[video]"') from error
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    # macro_block_size=1 keeps odd frame sizes exact instead of padding them to 16.
    writer: Any  # imageio's stubs type the writer by its base class, which lacks append_data
    with imageio.get_writer(path, fps=fps, codec="libx264", macro_block_size=1, pixelformat="yuv420p") as writer:
        for frame in frames:
            writer.append_data(_even_sized(np.asarray(frame, dtype=np.uint8)))
            count += 1
    return count


def _even_sized(frame: np.ndarray) -> np.ndarray:
    """Pad a frame by one black row/column where needed: yuv420p needs even sizes."""
    pad_rows, pad_cols = frame.shape[0] % 2, frame.shape[1] % 2
    if pad_rows or pad_cols:
        frame = np.pad(frame, ((0, pad_rows), (0, pad_cols), (0, 0)))
    return frame

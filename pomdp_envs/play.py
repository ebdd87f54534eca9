"""Keyboard control of any registered env in a pygame-ce window, with the hidden factors
shown live under the frame (``pomdp-envs play ID``).

Keys (Esc or closing the window quits, Backspace starts a new episode):

* MiniGrid: Left/Right turn, Up forward, Space toggle, PageUp or Tab pick up, PageDown or
  Left Shift drop, Enter done.
* Robot Remote Control, Shepherd, Fetch: the arrows move in x and y; Shepherd's Space
  holds the grasp, Fetch's W/S move up/down and Space closes the fingers.
* ShapeHerd: the arrows push in their direction at full force.
* Billiard Ball (no control): any key advances one step.

Each key press (or, for the continuous envs, each frame while arrows are held) is one
step; nothing moves without a key, so the hidden factors can be read step by step.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

# MiniGrid's action numbers (minigrid.core.actions.Actions).
MINIGRID_KEYS = {
    "left": 0,
    "right": 1,
    "up": 2,
    "tab": 3,
    "page up": 3,
    "left shift": 4,
    "page down": 4,
    "space": 5,
    "return": 6,
}


def key_action(env_id: str, pressed: set[str], space: Any) -> np.ndarray | int | None:
    """The action for the keys held (``pygame.key.name`` spellings), or None: no step."""
    if "MiniGrid" in env_id:
        for name in pressed:
            if name in MINIGRID_KEYS:
                return MINIGRID_KEYS[name]
        return None
    if "BilliardBall" in env_id:
        return 0 if pressed else None
    dx = float("right" in pressed) - float("left" in pressed)
    dy = float("up" in pressed) - float("down" in pressed)
    if "ShapeHerd" in env_id:
        if dx == 0 and dy == 0:
            return None
        # The published action is (angle, force); screen y grows downwards, the arena's too.
        angle = math.atan2(-dy, dx) % (2 * math.pi)
        return np.array([angle, space.high[1]], dtype=np.float32)
    action = np.zeros(space.shape, dtype=np.float32)
    action[0], action[1] = dx, dy
    if "Shepherd" in env_id:
        action[2] = 1.0 if "space" in pressed else -1.0
    elif "Fetch" in env_id:
        action[2] = float("w" in pressed) - float("s" in pressed)
        action[3] = -1.0 if "space" in pressed else 1.0  # negative closes the fingers
    if not pressed:
        return None
    return np.clip(action, space.low, space.high)


def check_display() -> None:
    """``OSError`` with what to do when no window can open."""
    driver = os.environ.get("SDL_VIDEODRIVER", "")
    if driver not in ("", "x11", "wayland") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    raise OSError(
        "no display to open a window on: run `pomdp-envs play` on a desktop, or under "
        "`xvfb-run pomdp-envs play ...` (or SDL_VIDEODRIVER=dummy for a window nobody sees)"
    )


def play(
    env_id: str,
    seed: int = 0,
    max_steps: int | None = None,
    scale: int = 2,
    events: Iterable[Sequence[str]] | None = None,
    on_frame: Callable[[np.ndarray], None] | None = None,
) -> int:
    """Play ``env_id``; returns the number of steps taken. ``events``, for tests and
    demos, replaces the keyboard: one collection of held key names per frame, and the
    session ends when it runs out. ``on_frame`` sees every frame shown."""
    check_display()
    os.environ.setdefault("MUJOCO_GL", "egl")
    import gymnasium as gym
    import pygame

    import pomdp_envs  # noqa: F401  (registers the ids)
    from pomdp_envs.recording import add_text_strip, describe_step, rgb_frame

    env = gym.make(env_id, render_mode="rgb_array")
    pygame.init()
    try:
        _, info = env.reset(seed=seed)
        step, reward, steps_taken = 0, 0.0, 0
        window = None
        scripted = iter(events) if events is not None else None
        clock = pygame.time.Clock()
        while max_steps is None or steps_taken < max_steps:
            frame = add_text_strip(rgb_frame(env), describe_step(step, reward, info))
            frame = np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1)
            if window is None or window.get_size() != (frame.shape[1], frame.shape[0]):
                window = pygame.display.set_mode((frame.shape[1], frame.shape[0]))
                pygame.display.set_caption(f"{env_id} (Esc quits, Backspace resets)")
            window.blit(pygame.surfarray.make_surface(frame.swapaxes(0, 1)), (0, 0))
            pygame.display.flip()
            if on_frame is not None:
                on_frame(frame)
            # Held keys repeat for the continuous envs; discrete actions take one press each.
            pressed, quit_now = _keys(pygame, scripted, held_too=isinstance(env.action_space, gym.spaces.Box))
            if quit_now:
                break
            if "backspace" in pressed:
                _, info = env.reset()
                step, reward = 0, 0.0
                continue
            action = key_action(env_id, pressed, env.action_space)
            if action is None:
                clock.tick(30)
                continue
            _, step_reward, terminated, truncated, info = env.step(action)
            reward = float(step_reward)
            step, steps_taken = step + 1, steps_taken + 1
            if terminated or truncated:
                _, info = env.reset()
                step = 0
            clock.tick(env.metadata.get("render_fps", 10))
        return steps_taken
    finally:
        env.close()
        pygame.quit()


def _keys(pygame: Any, scripted: Any, held_too: bool) -> tuple[set[str], bool]:
    """Key names pressed this frame (and, with ``held_too``, held down) and whether to quit."""
    if scripted is not None:
        pygame.event.pump()
        try:
            return set(next(scripted)), False
        except StopIteration:
            return set(), True
    pressed: set[str] = set()
    for event in pygame.event.get():
        if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE):
            return set(), True
        if event.type == pygame.KEYDOWN:
            pressed.add(pygame.key.name(event.key))
    if held_too:
        held = pygame.key.get_pressed()
        pressed |= {
            name for name in ("left", "right", "up", "down", "w", "s", "space") if held[pygame.key.key_code(name)]
        }
    return pressed, False

"""MiniGrid memory tasks with an egocentric image observation and their hidden state."""

from __future__ import annotations

from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from pomdp_envs.core.stateful import SimulationStep, StatefulEnv

# Our name -> upstream MiniGrid id.
TASKS = {
    "DoorKey-5x5": "MiniGrid-DoorKey-5x5-v0",
    "DoorKey-6x6": "MiniGrid-DoorKey-6x6-v0",
    "DoorKey-8x8": "MiniGrid-DoorKey-8x8-v0",
    "KeyCorridorS3R1": "MiniGrid-KeyCorridorS3R1-v0",
    "KeyCorridorS3R2": "MiniGrid-KeyCorridorS3R2-v0",
    "KeyCorridorS3R3": "MiniGrid-KeyCorridorS3R3-v0",
    "MemoryS7": "MiniGrid-MemoryS7-v0",
    "MemoryS11": "MiniGrid-MemoryS11-v0",
    "MemoryS13": "MiniGrid-MemoryS13-v0",
    "RedBlueDoors-6x6": "MiniGrid-RedBlueDoors-6x6-v0",
    "RedBlueDoors-8x8": "MiniGrid-RedBlueDoors-8x8-v0",
    "LavaGapS7": "MiniGrid-LavaGapS7-v0",
}
MAX_DOORS = 8  # door_states has this many slots; unused ones read ABSENT
OPEN, CLOSED, LOCKED, ABSENT = range(4)
NUM_OBJECT_TYPES, NUM_COLORS = 11, 6  # minigrid.core.constants OBJECT_TO_IDX, COLOR_TO_IDX
GOAL_OBJECT = {None: 0, "ball": 1, "key": 2}


class MiniGridMemoryEnv(StatefulEnv):
    """A MiniGrid task seen only through the agent's 7x7 egocentric view.

    Wraps the upstream MiniGrid env (the ``minigrid`` extra) without changing its
    dynamics, rewards or episode limits. The observation is the view alone: the mission
    string is dropped, since in every registered task it is the same for all layouts
    (the one ball, the red then the blue door, the matching object...). What the agent
    carries, which doors are open, where it stands, and in the Memory tasks which object
    it must find, are the hidden factors.

    ## Observation space

    ``Box(0, 255, (7, 7, 3), uint8)``: MiniGrid's symbolic view, cells of (object type,
    colour, state) indices, the agent at the bottom centre facing up.

    ``pomdp_envs.wrappers.FullyObservable(env)`` sees the whole grid instead:
    ``Box(0, 255, (width, height, 3), uint8)``, encoded as upstream's ``FullyObsWrapper``
    encodes it (the agent as (agent, red, direction) at its cell); what the agent carries
    is not drawn there, as upstream.

    ## Action space

    ``Discrete(7)``: left, right, forward, pickup, drop, toggle, done.

    ## Reward, termination, truncation

    As upstream: ``1 - 0.9 * steps / max_steps`` on success, else 0; the episode
    terminates on success (or failure: lava, the wrong Memory object) and truncates at
    upstream's ``max_steps``. ``info["is_success"]`` is True on a rewarded termination.
    ``end_on_result=False`` (for collecting fixed-length data sequences, as the other
    envs' switches of early ends are) keeps the episode going after success or failure:
    the step still reports upstream's reward and ``is_success``, and upstream's grid
    goes on as it is (the agent may walk on from the goal, the lava or the Memory cell).

    ## Hidden factors (``info["hidden"]``, ``hidden_space``)

    | name | space | meaning | changed when |
    |------|-------|---------|--------------|
    | ``carrying`` | MultiDiscrete([11, 6]) | (object type index, colour index) carried, (0, 0) for nothing | picked up or dropped |
    | ``door_states`` | MultiDiscrete([4] * 8) | per door in row-major grid order: 0 open, 1 closed, 2 locked, 3 no such door | any door opens, closes or unlocks |
    | ``agent_pos`` | MultiDiscrete([width, height]) | grid cell | the agent moves |
    | ``agent_dir`` | Discrete(4) | 0 right, 1 down, 2 left, 3 up | the agent turns |
    | ``goal_object`` | Discrete(3) | Memory tasks: 1 ball, 2 key (the cue); else 0 | never (fixed per episode) |

    ## Version history

    * v0: initial release (minigrid 3.x); ``end_on_result`` added later (default: as before).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        task: str = "DoorKey-5x5",
        render_mode: str | None = None,
        end_on_result: bool = True,
        **upstream_kwargs: Any,
    ) -> None:
        super().__init__(render_mode)
        self.end_on_result = end_on_result
        if task not in TASKS:
            raise ValueError(f"unknown MiniGrid task {task!r}; choose from {sorted(TASKS)}")
        try:
            import minigrid  # noqa: F401  (registers the upstream ids)
        except ImportError as error:
            raise gym.error.DependencyNotInstalled(
                'MiniGrid tasks need minigrid: pip install "pomdp-envs[minigrid]"'
            ) from error
        self.task = task
        # MiniGrid's own class: its grid, agent and carried object are not gym.Env's attributes.
        self.upstream = cast(Any, gym.make(TASKS[task], render_mode=render_mode, **upstream_kwargs).unwrapped)
        self.observation_space = self.upstream.observation_space["image"]
        self.action_space = self.upstream.action_space
        width, height = self.upstream.width, self.upstream.height
        self.hidden_space = spaces.Dict(
            {
                "carrying": spaces.MultiDiscrete([NUM_OBJECT_TYPES, NUM_COLORS]),
                "door_states": spaces.MultiDiscrete([4] * MAX_DOORS),
                "agent_pos": spaces.MultiDiscrete([width, height]),
                "agent_dir": spaces.Discrete(4),
                "goal_object": spaces.Discrete(len(GOAL_OBJECT)),
            }
        )
        from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX

        self._object_index, self._color_index = OBJECT_TO_IDX, COLOR_TO_IDX
        # The fully observable variant (pomdp_envs.wrappers.FullyObservable): the whole grid.
        self.full_observation_space = spaces.Box(0, 255, (width, height, 3), np.uint8)
        self._doors: list[Any] = []
        self._goal_object = np.int64(0)

    def _reset_simulation(self, seed: int | None, options: dict[str, Any]) -> np.ndarray:
        obs, _ = self.upstream.reset(seed=seed)
        # Doors and the Memory cue never move within an episode: find them once.
        self._doors = [cell for cell in self.upstream.grid.grid if cell is not None and cell.type == "door"]
        self._goal_object = np.int64(GOAL_OBJECT[self._memory_cue()])
        return obs["image"]

    def _step_simulation(self, action: np.ndarray) -> SimulationStep:
        obs, reward, terminated, truncated, _ = self.upstream.step(int(action))
        success = terminated and float(reward) > 0
        return SimulationStep(obs["image"], float(reward), terminated and self.end_on_result, truncated, success)

    def _render_frame(self) -> np.ndarray:
        return self.upstream.render()

    def close(self) -> None:
        self.upstream.close()

    def _read_hidden(self) -> dict[str, Any]:
        env = self.upstream
        carried = env.carrying
        carrying = (0, 0) if carried is None else (self._object_index[carried.type], self._color_index[carried.color])
        door_states = np.full(MAX_DOORS, ABSENT, dtype=np.int64)
        for index, door in enumerate(self._doors[:MAX_DOORS]):
            door_states[index] = OPEN if door.is_open else LOCKED if door.is_locked else CLOSED
        return {
            "carrying": np.array(carrying, dtype=np.int64),
            "door_states": door_states,
            "agent_pos": np.array(env.agent_pos, dtype=np.int64),
            "agent_dir": np.int64(env.agent_dir),
            "goal_object": self._goal_object,
        }

    def full_observation(self) -> np.ndarray:
        """The whole grid as MiniGrid's ``FullyObsWrapper`` encodes it: (object, colour,
        state) per cell, the agent as (agent, red, direction) at its position."""
        env = self.upstream
        grid = env.grid.encode()
        x, y = env.agent_pos
        grid[x, y] = (self._object_index["agent"], self._color_index["red"], env.agent_dir)
        return grid

    def _memory_cue(self) -> str | None:
        """Type of the cue object in a Memory task's start room (None elsewhere)."""
        if not self.task.startswith("Memory"):
            return None
        cue = self.upstream.grid.get(1, self.upstream.height // 2 - 1)
        return cue.type

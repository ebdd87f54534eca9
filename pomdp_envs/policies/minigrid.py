"""A solver of the MiniGrid tasks that sees what the agent sees, with a share of random actions.

The policy keeps, per env, a map of every cell it has seen through the 7x7 egocentric
view (placed in the grid by the agent's pose, ``info["hidden"]["agent_pos"]`` and
``agent_dir``) and walks shortest paths on it to the task's next subgoal, exploring
where the map does not yet show one:

* DoorKey: the key, then the locked door, then the goal square;
* KeyCorridor: the key of the locked door, that door, then (dropping the key) the ball;
* Memory: the cue in the start room first, then (exploring) the end of the hallway,
  then the cell beside the object that matches the cue;
* RedBlueDoors: the red door, then the blue door;
* LavaGap: the goal, around the lava.

A share ``random_share`` of the actions (each drawn independently) is uniform over the
seven actions, as an agent that is still learning the task would take them. Once the
task's result is reached (the goal or a Memory object's cell stood on, the ball picked
up, the blue door opened), every later action is uniform: registered ids collect
fixed-length sequences with ``end_on_result=False``, and a policy that stayed put would
tell where the result was from where it stands. Each env's memory (its map, the cue it
saw, whether it is done) is cleared when its episode starts.
"""

from __future__ import annotations

from collections import deque
from typing import Any, cast

import gymnasium as gym
import numpy as np

from pomdp_envs.policies.base import Policy

# minigrid.core.constants: OBJECT_TO_IDX, COLOR_TO_IDX, STATE_TO_IDX, DIR_TO_VEC.
UNSEEN, EMPTY, WALL, FLOOR, DOOR, KEY, BALL, BOX, GOAL, LAVA = range(10)
RED, BLUE = 0, 2
OPEN, CLOSED, LOCKED = range(3)
LEFT, RIGHT, FORWARD, PICKUP, DROP, TOGGLE = range(6)
DIRECTIONS = ((1, 0), (0, 1), (-1, 0), (0, -1))
VIEW = 7  # cells per side of the egocentric view
FAMILIES = ("DoorKey", "KeyCorridor", "Memory", "RedBlueDoors", "LavaGap")


class SolverPolicy(Policy):
    """Solves ``task`` (a key of ``pomdp_envs.wrappers.minigrid_memory.TASKS``) from its
    own map of what it has seen; see the module docstring."""

    def __init__(self, task: str, random_share: float = 0.2, seed: int | None = None) -> None:
        super().__init__(seed)
        from pomdp_envs.wrappers.minigrid_memory import TASKS

        if task not in TASKS:
            raise ValueError(f"unknown MiniGrid task {task!r}; choose from {sorted(TASKS)}")
        if not 0.0 <= random_share <= 1.0:
            raise ValueError(f"random_share must be in [0, 1], got {random_share}")
        import minigrid  # noqa: F401  (registers the upstream ids)

        upstream = cast(Any, gym.make(TASKS[task]).unwrapped)  # MiniGrid's class: width and height
        self.width, self.height = upstream.width, upstream.height
        upstream.close()
        self.task, self.random_share = task, random_share
        self.family = next(family for family in FAMILIES if task.startswith(family))
        self.maps = np.zeros((0, self.width, self.height, 3), dtype=np.int64)
        self.done = np.zeros(0, dtype=bool)

    def reset(self, observations: np.ndarray) -> None:
        super().reset(observations)
        self.maps = np.zeros((len(observations), self.width, self.height, 3), dtype=np.int64)
        self.done = np.zeros(len(observations), dtype=bool)

    def _act(self, observations: np.ndarray, info: dict | None) -> np.ndarray:
        if info is None:
            raise ValueError("the MiniGrid solver reads the agent's pose from info['hidden']")
        hidden = info["hidden"]
        # Under FullyObservable the observation is the whole grid; the view is in info.
        observations = np.asarray(info.get("partial_observation", observations))
        actions = np.empty(len(observations), dtype=np.int64)
        for i, observation in enumerate(observations):
            position = (int(hidden["agent_pos"][i][0]), int(hidden["agent_pos"][i][1]))
            direction = int(hidden["agent_dir"][i])
            self._see(i, observation.astype(np.int64), position, direction)
            if self.rng.random() < self.random_share or self.done[i]:
                actions[i] = self.rng.integers(7)
            else:
                carrying = int(hidden["carrying"][i][0])
                actions[i] = self._solve(i, position, direction, carrying)
        return actions

    def _see(self, i: int, view: np.ndarray, position: tuple[int, int], direction: int) -> None:
        """Write the view's seen cells into env ``i``'s map."""
        forward, right = DIRECTIONS[direction], DIRECTIONS[(direction + 1) % 4]
        for view_x in range(VIEW):
            for view_y in range(VIEW):
                if view[view_x, view_y, 0] == UNSEEN or (view_x, view_y) == (VIEW // 2, VIEW - 1):
                    continue  # the agent's own cell shows what it carries
                ahead, aside = VIEW - 1 - view_y, view_x - VIEW // 2
                x = position[0] + forward[0] * ahead + right[0] * aside
                y = position[1] + forward[1] * ahead + right[1] * aside
                if 0 <= x < self.width and 0 <= y < self.height:
                    self.maps[i, x, y] = view[view_x, view_y]
        if self.maps[i, position[0], position[1], 0] == UNSEEN:
            self.maps[i, position[0], position[1]] = (EMPTY, 0, 0)

    # -- planning -------------------------------------------------------------------

    def _solve(self, i: int, position: tuple[int, int], direction: int, carrying: int) -> int:
        grid = self.maps[i]
        distance, parent = self._paths(grid, position)
        plan = getattr(self, f"_plan_{self.family.lower()}")(i, grid, distance, carrying)
        if plan is None:  # the task's result is reached
            self.done[i] = True
            return int(self.rng.integers(7))
        kind, cell, action = plan
        if kind == "stand":
            if cell == position:
                self.done[i] = True
                return int(self.rng.integers(7))
            targets = {cell}
        else:  # "face": stand beside cell, turn to it, then act (None: just look at it)
            targets = self._beside(cell, distance)
        if not any(np.isfinite(distance[target]) for target in targets):  # no known way there yet
            plan = self._explore(grid, distance)
            if plan is None:
                return int(self.rng.integers(3))
            kind, cell, action = plan
            targets = self._beside(cell)
        if kind == "face" and position in targets:
            wanted = DIRECTIONS.index((cell[0] - position[0], cell[1] - position[1]))
            if wanted != direction:
                return _turn(direction, wanted)
            return action if action is not None else int(self.rng.integers(2))
        return self._walk(grid, position, direction, distance, parent, targets)

    def _walk(self, grid, position, direction, distance, parent, targets: set) -> int:
        """The first action on a shortest path to the nearest of ``targets``."""
        reachable = [cell for cell in targets if np.isfinite(distance[cell]) and cell != position]
        if not reachable:
            return int(self.rng.integers(3))
        cell = min(reachable, key=lambda c: distance[c])
        while parent.get(cell) not in (None, position):
            cell = parent[cell]
        wanted = DIRECTIONS.index((cell[0] - position[0], cell[1] - position[1]))
        if wanted != direction:
            return _turn(direction, wanted)
        door = grid[cell[0], cell[1]]
        return TOGGLE if door[0] == DOOR and door[2] == CLOSED else FORWARD

    def _paths(self, grid: np.ndarray, start: tuple[int, int]) -> tuple[np.ndarray, dict]:
        """Breadth-first distances (cells) from ``start`` over cells that can be walked
        on, closed doors included (opened on the way), and each cell's predecessor."""
        kind, state = grid[..., 0], grid[..., 2]
        walkable = np.isin(kind, (EMPTY, FLOOR, GOAL)) | ((kind == DOOR) & (state != LOCKED))
        if self.family == "RedBlueDoors":  # opening the blue door first ends the task: never walk through
            walkable &= kind != DOOR
        distance = np.full((self.width, self.height), np.inf)
        distance[start] = 0
        parent: dict = {start: None}
        queue = deque([start])
        while queue:
            x, y = queue.popleft()
            for dx, dy in DIRECTIONS:
                nx, ny = x + dx, y + dy
                if self._inside(nx, ny) and walkable[nx, ny] and not np.isfinite(distance[nx, ny]):
                    distance[nx, ny] = distance[x, y] + 1
                    parent[(nx, ny)] = (x, y)
                    queue.append((nx, ny))
        return distance, parent

    def _inside(self, x: int, y: int) -> bool:
        return 0 <= x < self.width and 0 <= y < self.height

    def _explore(self, grid: np.ndarray, distance: np.ndarray):
        """Look at the nearest unseen cell next to a reachable one (None: no such cell)."""
        padded = np.pad(distance, 1, constant_values=np.inf)
        nearest = np.minimum.reduce(
            [padded[2:, 1:-1], padded[:-2, 1:-1], padded[1:-1, 2:], padded[1:-1, :-2]]
        )  # each cell's closest reachable neighbour
        nearest[grid[..., 0] != UNSEEN] = np.inf
        best = np.unravel_index(np.argmin(nearest), nearest.shape)
        return None if not np.isfinite(nearest[best]) else ("face", (int(best[0]), int(best[1])), None)

    def _find(self, grid: np.ndarray, kind: int, colour: int | None = None, state: int | None = None):
        match = grid[..., 0] == kind
        if colour is not None:
            match &= grid[..., 1] == colour
        if state is not None:
            match &= grid[..., 2] == state
        cells = np.argwhere(match)
        return None if len(cells) == 0 else (int(cells[0][0]), int(cells[0][1]))

    # -- one plan per task family: ("stand", cell, None) or ("face", cell, action) ----

    def _plan_doorkey(self, i, grid, distance, carrying):
        door = self._find(grid, DOOR)
        if door is not None and grid[door][2] == OPEN:
            goal = self._find(grid, GOAL)
            return ("stand", goal, None) if goal is not None else self._explore(grid, distance)
        if carrying != KEY:
            key = self._find(grid, KEY)
            return ("face", key, PICKUP) if key is not None else self._explore(grid, distance)
        return ("face", door, TOGGLE) if door is not None else self._explore(grid, distance)

    def _plan_keycorridor(self, i, grid, distance, carrying):
        if carrying == BALL:
            return None
        ball = self._find(grid, BALL)
        if ball is not None and self._reachable_beside(ball, distance):
            if carrying != EMPTY and carrying != UNSEEN:  # hands full: drop what is held first
                return self._drop_spot(grid, distance)
            return ("face", ball, PICKUP)
        locked = self._find(grid, DOOR, state=LOCKED)
        if carrying == KEY and locked is not None and self._reachable_beside(locked, distance):
            return ("face", locked, TOGGLE)
        if carrying != KEY:
            key = self._find(grid, KEY) if locked is None else self._find(grid, KEY, colour=int(grid[locked][1]))
            if key is not None and self._reachable_beside(key, distance):
                return ("face", key, PICKUP)
        return self._explore(grid, distance)

    def _plan_memory(self, i, grid, distance, carrying):
        middle = self.height // 2
        cue = grid[1, middle - 1, 0]
        if cue == UNSEEN:
            return ("face", (1, middle - 1), None)
        ends = {grid[self.width - 2, middle + dy, 0]: (self.width - 2, middle + dy // 2) for dy in (-2, 2)}
        return ("stand", ends[cue], None) if cue in ends else self._explore(grid, distance)

    def _plan_redbluedoors(self, i, grid, distance, carrying):
        for colour in (RED, BLUE):
            door = self._find(grid, DOOR, colour=colour)
            if door is None:
                return self._explore(grid, distance)
            if grid[door][2] != OPEN:
                return ("face", door, TOGGLE)
        return None

    def _plan_lavagap(self, i, grid, distance, carrying):
        goal = self._find(grid, GOAL)
        return ("stand", goal, None) if goal is not None else self._explore(grid, distance)

    def _beside(self, cell: tuple[int, int], distance: np.ndarray | None = None) -> set:
        """The cells next to ``cell`` in the grid (given ``distance``: only reachable ones)."""
        return {
            (cell[0] - dx, cell[1] - dy)
            for dx, dy in DIRECTIONS
            if self._inside(cell[0] - dx, cell[1] - dy)
            and (distance is None or np.isfinite(distance[cell[0] - dx, cell[1] - dy]))
        }

    def _reachable_beside(self, cell: tuple[int, int], distance: np.ndarray) -> bool:
        return bool(self._beside(cell, distance))

    def _drop_spot(self, grid: np.ndarray, distance: np.ndarray):
        """Face the nearest empty cell beside a reachable one, and drop there."""
        empty = [(int(x), int(y)) for x, y in np.argwhere(grid[..., 0] == EMPTY) if distance[x, y] > 0]
        spots = [cell for cell in empty if self._reachable_beside(cell, distance)]
        if not spots:
            return None
        return ("face", min(spots, key=lambda c: distance[c]), DROP)


def _turn(direction: int, wanted: int) -> int:
    """The turn toward ``wanted`` from ``direction`` (right when it is a quarter turn right)."""
    return RIGHT if wanted == (direction + 1) % 4 else LEFT

"""Model-predictive control with iCEM on Robot Remote Control and Shepherd.

    python -m baselines.control.mpc --task rrc --model true                 # ground-truth simulator
    python -m baselines.control.mpc --task shepherd --model runs/predictor/checkpoint.pt

Every episode of a run steps in one native vector env, so the planner scores the
candidate sequences of all episodes in one batched call. A model is either the true
simulator (the env's own batched dynamics from the current true state: an upper
bound) or a trained predictor (``baselines.predictors.train``), which is fed the real
observations and actions as the episode goes on and rolls its latent state forward
through each candidate sequence. Both are scored by the same cost on predicted
observations, so the comparison isolates the model.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Optional, Protocol

import gymnasium as gym
import numpy as np
import torch

import pomdp_envs  # noqa: F401  (registers the ids)
from baselines.control.icem import ICEM, ICEMConfig
from baselines.predictors.checkpoint import load_checkpoint
from baselines.predictors.predictor import Predictor
from baselines.runlog import check_device
from pomdp_envs.cli_errors import command_name, existing_file, run_command
from pomdp_envs.dynamics.robot_remote_control import ROBOT_FRAME_SHIFT
from pomdp_envs.dynamics.shepherd import ShepherdConfig, observed_positions
from pomdp_envs.registration import entry_by_short_name

#: (B, N, H, O) predicted observations -> (B, N) cost summed over the horizon.
ObservationCost = Callable[[torch.Tensor], torch.Tensor]


def rrc_cost(observations: torch.Tensor, goal_xy: tuple[float, float] = (2.5, -0.5)) -> torch.Tensor:
    """Summed distance of the predicted robot (obs 2-3, robot-room frame) to the goal."""
    goal = torch.tensor(goal_xy, dtype=observations.dtype) - torch.as_tensor(
        ROBOT_FRAME_SHIFT, dtype=observations.dtype
    )
    return torch.linalg.vector_norm(observations[..., 2:4] - goal, dim=-1).sum(-1)


def shepherd_cost(observations: torch.Tensor, stable_penalty: float = 2.0, lever_weight: float = 0.1) -> torch.Tensor:
    """Per predicted step: ``stable_penalty`` while the sheep is still in the stable
    (its observed y above -0.1, or masked while hidden), else the cage-sheep distance
    in world units clipped to [0, 2], as the paper's planning cost; plus
    ``lever_weight`` times the agent's distance to the lever
    while the sheep is in the stable.

    The lever term is a small shaping cost: the chain "drop the cage, walk to the lever,
    wait for the sheep" is longer than the planning horizon, and without it every
    candidate costs the same until the lever comes within reach of the horizon.
    """
    agent_xy, cage_xy, sheep_xy, _ = observed_positions(observations)
    in_stable = sheep_xy[..., 1] > -0.1
    cage_to_sheep = torch.linalg.vector_norm(cage_xy - sheep_xy, dim=-1).clamp(0.0, 2.0)
    lever = torch.tensor(ShepherdConfig().lever_xy, dtype=observations.dtype)
    to_lever = torch.linalg.vector_norm(agent_xy - lever, dim=-1)
    step_cost = torch.where(in_stable, stable_penalty + lever_weight * to_lever, cage_to_sheep)
    return step_cost.sum(-1)


@dataclasses.dataclass(frozen=True)
class MPCTask:
    """An environment set up for planning and the cost the planner minimises."""

    env_id: str
    cost: ObservationCost
    episode_steps: int
    horizon: int  # planning horizon in steps
    env_kwargs: dict
    reset_options: Optional[dict] = None


TASKS = {
    # Episodes do not end at success (the vector env would restart them); success is
    # read from info["is_success"] at any step. The thresholds are the paper's planning
    # set-up: 1.5 times the env's goal reach for RRC, 1.2 times the cage and lever
    # reaches for Shepherd.
    "rrc": MPCTask(
        entry_by_short_name("rrc").id,
        rrc_cost,
        100,
        30,
        {**entry_by_short_name("rrc").no_early_end, "goal_reach": 0.15},
    ),
    # As in the paper's planning set-up: agent and cage start at the right edge, so the
    # cage has to be dropped where the sheep will come down before the agent walks to
    # the lever on the far left. That chain takes 40-50 steps, so the horizon is 50.
    "shepherd": MPCTask(
        entry_by_short_name("shepherd").id,
        shepherd_cost,
        150,
        50,
        {
            **entry_by_short_name("shepherd").no_early_end,
            "start_side": "right",
            "grasp_reach": 0.12,
            "catch_reach": 0.12,
            "lever_reach": 0.24,
        },
        {"agent_xy": (2.9, -0.5)},
    ),
}
Task = Literal[tuple(TASKS)]  # type: ignore[valid-type]  # the command-line choices


class Model(Protocol):
    def begin(self, observations: np.ndarray) -> None:
        """Start of the episodes, with the first real observations (B, O)."""

    def advance(self, actions: np.ndarray, observations: np.ndarray) -> None:
        """The actions (B, A) were executed and gave ``observations`` (B, O)."""

    def predict(self, actions: torch.Tensor) -> torch.Tensor:
        """Observations (B, N, H, O) after each step of the action sequences (B, N, H, A)."""


class TrueModel:
    """Plans with the environment's own dynamics from each sub-env's current true state."""

    def __init__(self, envs: gym.vector.VectorEnv) -> None:
        self.envs = envs.unwrapped

    def begin(self, observations: np.ndarray) -> None:
        pass

    def advance(self, actions: np.ndarray, observations: np.ndarray) -> None:
        pass

    def predict(self, actions: torch.Tensor) -> torch.Tensor:
        batch, num_candidates, horizon, _ = actions.shape
        dynamics = self.envs.dynamics
        state = type(self.envs.state)(*(np.repeat(field, num_candidates, axis=0) for field in self.envs.state))
        flat_actions = actions.reshape(batch * num_candidates, horizon, -1).numpy().astype(np.float64)
        observations = []
        for t in range(horizon):
            state = dynamics.step(state, flat_actions[:, t]).state
            observations.append(dynamics.observe(state))
        stacked = np.stack(observations, axis=1)
        return torch.from_numpy(stacked).reshape(batch, num_candidates, horizon, -1)


class LearnedModel:
    """Plans with a trained predictor whose latent state follows the real episode.

    The predictor's f_init reads the first K real inputs ([action, observation]); until
    K steps have been taken, planning fills the missing ones with the candidate's
    actions and the latest real observation. The predictor and its latent state live on
    ``device``; predictions come back to the CPU, where the planner and the costs are.
    """

    def __init__(self, predictor: Predictor, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.predictor = predictor.to(self.device)
        self.state: Optional[tuple[torch.Tensor, ...]] = None
        self.observation: Optional[torch.Tensor] = None
        self.real_inputs: list[torch.Tensor] = []  # the first K inputs, until the state starts

    def begin(self, observations: np.ndarray) -> None:
        self.observation = torch.as_tensor(observations, dtype=torch.float32, device=self.device)
        self.state, self.real_inputs = None, []

    def advance(self, actions: np.ndarray, observations: np.ndarray) -> None:
        self._check_begun()
        action = torch.as_tensor(actions, dtype=torch.float32, device=self.device)
        if self.state is None:
            self.real_inputs.append(torch.cat([action, self.observation], dim=-1))
            if len(self.real_inputs) == self.predictor.config.init_inputs:
                self.state = self._replay(self.real_inputs, self.real_inputs)
        else:
            _, self.state, _ = self.predictor.step(self.observation, action, self.state)
        self.observation = torch.as_tensor(observations, dtype=torch.float32, device=self.device)

    def _check_begun(self) -> None:
        if self.observation is None:
            raise RuntimeError("call begin(observations) with the episodes' first observations first")

    def _replay(self, inputs: list[torch.Tensor], first_inputs: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """The state after stepping through ``inputs`` (B, A + O) each, from f_init of
        the K ``first_inputs``."""
        state = self.predictor.initial_state(torch.stack(first_inputs, dim=1))
        actions = self.predictor.action_size
        for x in inputs:
            _, state, _ = self.predictor.step(x[:, actions:], x[:, :actions], state)
        return state

    def predict(self, actions: torch.Tensor) -> torch.Tensor:
        self._check_begun()
        batch, num_candidates, horizon, _ = actions.shape
        flat = actions.to(self.device, torch.float32).reshape(batch * num_candidates, horizon, -1)
        observation = self.observation.repeat_interleave(num_candidates, dim=0)
        if self.state is None:
            known = [x.repeat_interleave(num_candidates, dim=0) for x in self.real_inputs]
            missing = self.predictor.config.init_inputs - len(known)
            guessed = [torch.cat([flat[:, min(k, horizon - 1)], observation], dim=-1) for k in range(missing)]
            state = self._replay(known, known + guessed)
        else:
            state = tuple(part.repeat_interleave(num_candidates, dim=0) for part in self.state)
        predictions = []
        for t in range(horizon):
            observation, state, _ = self.predictor.step(observation, flat[:, t], state)
            predictions.append(observation)
        return torch.stack(predictions, dim=1).reshape(batch, num_candidates, horizon, -1).cpu()


@dataclasses.dataclass
class MPCResult:
    task: str
    model: str
    episodes: int
    success_rate: float
    stderr: float  # standard error of the success rate
    mean_success_step: float  # first step with is_success, over successful episodes (nan if none)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def run_mpc(
    task: str,
    model: str | Path = "true",
    episodes: int = 50,
    seed: int = 0,
    icem: Optional[ICEMConfig] = None,
    episode_steps: Optional[int] = None,
    progress: bool = False,
    device: str = "cpu",
) -> MPCResult:
    """Run ``episodes`` MPC episodes (seeds ``seed .. seed + episodes - 1``) and
    return the success rate. ``model`` is ``"true"`` or a predictor checkpoint path;
    ``icem`` defaults to the iCEM defaults with the task's horizon. A learned model runs
    on ``device``; the true model and the planner on the CPU."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {sorted(TASKS)}")
    if episodes < 1 or (episode_steps is not None and episode_steps < 1):
        raise ValueError(f"episodes and episode_steps must be >= 1, got {episodes} and {episode_steps}")
    if str(model) != "true":
        existing_file(model, "checkpoint (give a predictor's checkpoint.pt, or --model true)")
    check_device(device)
    spec = TASKS[task]
    icem = ICEMConfig(horizon=spec.horizon) if icem is None else icem
    steps = spec.episode_steps if episode_steps is None else episode_steps
    envs = gym.make_vec(
        spec.env_id,
        num_envs=episodes,
        vectorization_mode="vector_entry_point",
        max_episode_steps=steps + 1,
        **spec.env_kwargs,
    )
    if str(model) == "true":
        planner_model: Model = TrueModel(envs)
    else:
        predictor, meta = load_checkpoint(model)
        if meta["env_id"] != spec.env_id:
            raise ValueError(f"checkpoint {model} was trained on {meta['env_id']}, task {task!r} needs {spec.env_id}")
        planner_model = LearnedModel(predictor, device)
    space = envs.single_action_space
    planner = ICEM(
        icem, torch.as_tensor(space.low), torch.as_tensor(space.high), episodes, torch.Generator().manual_seed(seed)
    )

    def cost(actions: torch.Tensor) -> torch.Tensor:
        return spec.cost(planner_model.predict(actions))

    observations = unsolved_starts(envs, seed, spec.reset_options)
    planner_model.begin(observations)
    first_success = np.full(episodes, -1)
    steps_iter = range(steps)
    if progress:
        from tqdm import tqdm

        steps_iter = tqdm(steps_iter, desc=f"mpc {task}/{Path(str(model)).parent.name or model}", unit="step")
    with torch.no_grad():
        for step in steps_iter:
            actions = planner.plan(cost).numpy().astype(np.float64)
            observations, _, _, _, info = envs.step(actions)
            planner_model.advance(actions, observations)
            newly = (first_success < 0) & np.asarray(info["is_success"], dtype=bool)
            first_success[newly] = step + 1
    envs.close()
    success = first_success > 0
    rate = float(success.mean())
    return MPCResult(
        task=task,
        model=str(model),
        episodes=episodes,
        success_rate=rate,
        stderr=math.sqrt(rate * (1 - rate) / episodes),
        mean_success_step=float(first_success[success].mean()) if success.any() else math.nan,
    )


def unsolved_starts(
    envs: gym.vector.VectorEnv, seed: int, options: Optional[dict] = None, max_tries: int = 100
) -> np.ndarray:
    """Reset ``envs`` (sub-env i with seed ``seed + i``) and redraw, with fresh seeds
    past the last one, the episodes that start already solved (a robot within the goal
    reach, a caught sheep), so that every success is the planner's. Returns the first
    observations."""
    seeds = [seed + i for i in range(envs.num_envs)]
    next_seed = seed + envs.num_envs
    for _ in range(max_tries):
        observations, info = envs.reset(seed=seeds, options=options)
        solved = np.flatnonzero(np.asarray(info["is_success"], dtype=bool))
        if solved.size == 0:
            return observations
        for i in solved:
            seeds[i], next_seed = next_seed, next_seed + 1
    raise RuntimeError(f"episodes still start solved after {max_tries} redraws")


@dataclasses.dataclass
class MPCConfig:
    """Command-line options of ``python -m baselines.control.mpc``."""

    task: Task = "rrc"
    model: str = "true"  # "true" or a predictor checkpoint path
    episodes: int = 50
    seed: int = 0
    episode_steps: Optional[int] = None  # None: the task's default
    horizon: Optional[int] = None  # planning horizon; None: the task's (rrc 30, shepherd 50)
    icem: ICEMConfig = ICEMConfig()  # the other planner settings (the horizon is --horizon)
    threads: int = 1
    device: str = "cpu"  # where a learned model runs ("cuda" where a GPU is present)


def main() -> int:
    import tyro

    config = tyro.cli(MPCConfig, prog=command_name())

    def run() -> None:
        if config.icem.horizon != ICEMConfig().horizon:
            raise ValueError("set the planning horizon with --horizon (--icem.horizon is replaced by it)")
        torch.set_num_threads(config.threads)
        icem = dataclasses.replace(config.icem, horizon=config.horizon or TASKS[config.task].horizon)
        result = run_mpc(
            config.task,
            config.model,
            config.episodes,
            config.seed,
            icem,
            config.episode_steps,
            progress=True,
            device=config.device,
        )
        print(json.dumps(result.as_dict(), indent=2))

    return run_command("python -m baselines.control.mpc", run)


if __name__ == "__main__":
    raise SystemExit(main())

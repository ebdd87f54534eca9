"""Every environment of the package, registered in this one place.

An env's entry holds every fact about it that code elsewhere needs: its classes, its
short name, the settings that switch off its early episode ends, and its policies.
Everything else (the CLI, the dataset collectors, the policy factory, the tests) reads
them from here, so adding an env is one entry.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from typing import Any

import gymnasium as gym

from pomdp_envs.wrappers.minigrid_memory import TASKS as MINIGRID_TASKS

NAMESPACE = "pomdp_envs"


@dataclasses.dataclass(frozen=True)
class PolicyEntry:
    """A named policy of an env: ``entry_point`` ("module:Class") is built as
    ``Class(seed=seed, **kwargs)``."""

    entry_point: str
    kwargs: dict = dataclasses.field(default_factory=dict)

    def load(self) -> Any:
        return load_entry_point(self.entry_point)


def load_entry_point(entry_point: str) -> Any:
    """The object an ``"module:name"`` string names."""
    module, _, name = entry_point.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclasses.dataclass(frozen=True)
class EnvEntry:
    """One registered id: where its classes live and what it is for."""

    name: str  # without namespace, e.g. "BilliardBall-v0"
    entry_point: str
    vector_entry_point: str | None
    max_episode_steps: int | None
    description: str
    kwargs: dict = dataclasses.field(default_factory=dict)
    requires: tuple[str, ...] = ()  # modules of the optional extra the env needs
    extra: str | None = None  # pip extra that installs them
    upstream_id: str | None = None  # the wrapped upstream env, for speed comparisons
    #: What the source code calls the env, where that differs (so a search for either finds it).
    upstream_name: str | None = None
    short_name: str = ""  # the name benchmarks and baselines use (default: derived from ``name``)
    no_early_end: dict = dataclasses.field(default_factory=dict)  # kwargs that keep episodes to their time limit
    policies: dict[str, PolicyEntry] = dataclasses.field(default_factory=dict)  # besides "random"
    #: The policy whose data show the hidden factors at work (their changes, the memory they
    #: ask for): what ``pomdp-envs validate`` collects with unless told otherwise.
    validation_policy: str = "random"
    #: ``"module:function"`` that maps ``info["hidden"]`` arrays (any leading axes) and the
    #: env to the factors validation reads and their space, where the hidden factors
    #: themselves cannot be read in full view (ShapeHerd's per-slot objects); None: as they are.
    validation_factors: str | None = None

    def __post_init__(self) -> None:
        if not self.short_name:
            object.__setattr__(self, "short_name", self.name.removesuffix("-v0").lower())
        if "random" in self.policies:
            raise ValueError(f"{self.name}: 'random' is every env's uniform policy and cannot be redefined")
        if self.validation_policy not in ("random", *self.policies):
            raise ValueError(f"{self.name}: validation_policy {self.validation_policy!r} is not one of its policies")

    @property
    def id(self) -> str:
        return f"{NAMESPACE}/{self.name}"

    @property
    def available(self) -> bool:
        """Whether the modules this env needs are installed."""
        return all(importlib.util.find_spec(module) is not None for module in self.requires)


ENTRIES: tuple[EnvEntry, ...] = (
    EnvEntry(
        name="BilliardBall-v0",
        entry_point="pomdp_envs.envs.billiard_ball:BilliardBallEnv",
        vector_entry_point="pomdp_envs.envs.billiard_ball:BilliardBallVectorEnv",
        max_episode_steps=200,
        description="Ball on a low-friction table; position observed, velocity hidden (changes at cushions).",
        short_name="billiard",
        upstream_name="BB (the GateL0RD paper code, `main_BB.py`)",
        no_early_end={"terminate_on_pocket": False},
    ),
    EnvEntry(
        name="RobotRemoteControl-v0",
        entry_point="pomdp_envs.envs.robot_remote_control:RobotRemoteControlEnv",
        vector_entry_point="pomdp_envs.envs.robot_remote_control:RobotRemoteControlVectorEnv",
        max_episode_steps=50,
        description="Visit a terminal to take control of a robot next door; control is hidden.",
        short_name="rrc",
        upstream_name="RRC (the GateL0RD paper code, `remote_control_gym.py`)",
        no_early_end={"terminate_on_success": False},
        policies={
            "oracle": PolicyEntry("pomdp_envs.policies.robot_remote_control:OraclePolicy"),
            "biased": PolicyEntry("pomdp_envs.policies.robot_remote_control:BiasedPolicy"),
            "uniform": PolicyEntry("pomdp_envs.policies.robot_remote_control:UniformPolicy"),
        },
        validation_policy="biased",
    ),
    EnvEntry(
        name="Shepherd-v0",
        entry_point="pomdp_envs.envs.shepherd:ShepherdEnv",
        vector_entry_point="pomdp_envs.envs.shepherd:ShepherdVectorEnv",
        max_episode_steps=100,
        description="Remember where a sheep hid behind a wall, place a cage, open the gate.",
        short_name="shepherd",
        upstream_name="Shepherd (the GateL0RD paper code, `shepherd_gym.py`)",
        no_early_end={"terminate_on_catch": False},
        policies={
            "oracle": PolicyEntry("pomdp_envs.policies.shepherd:OraclePolicy"),
            "paper": PolicyEntry("pomdp_envs.policies.shepherd:RandomPolicy"),
        },
        validation_policy="paper",
    ),
    *(
        EnvEntry(
            name=f"ShapeHerd{suffix}-v1",
            entry_point="pomdp_envs.envs.shape_herd:ShapeHerdEnv",
            vector_entry_point=None,
            max_episode_steps=750,
            description=f"Push shapes into a goal seeing a 64x64 view around the agent ({size} arena).",
            kwargs={"arena_scale": scale},
            requires=("pymunk", "pygame"),
            extra="shapeherd",
            short_name=f"shapeherd{suffix.lower()}",
            upstream_name="BringBackShapes, BBS (the VSG code; classes `TwoDPlaygroundEnv`, `Arena`)",
            policies={"oracle": PolicyEntry("pomdp_envs.policies.shape_herd:OraclePolicy", {"arena_scale": scale})},
            validation_policy="oracle",
            validation_factors="pomdp_envs.envs.shape_herd:validation_factors",
        )
        for suffix, size, scale in (
            ("", "Basic", 1.0),
            ("-Small", "Small", 1.2),
            ("-Medium", "Medium", 1.4),
            ("-Large", "Large", 1.6),
        )
    ),
    EnvEntry(
        name="FetchPickAndPlacePO-v0",
        entry_point="pomdp_envs.wrappers.fetch_pick_and_place_po:FetchPickAndPlacePOEnv",
        vector_entry_point=None,
        max_episode_steps=50,
        description="Fetch Pick&Place without velocities or rotation; whether the block is grasped is hidden.",
        requires=("gymnasium_robotics", "mujoco"),
        extra="fetch",
        upstream_id="FetchPickAndPlace-v4",
        short_name="fetch",
        upstream_name="FPP (the GateL0RD paper code: gym-robotics `FetchPickAndPlace-v1`)",
        policies={
            "oracle": PolicyEntry("pomdp_envs.policies.fetch_pick_and_place:ReachGraspTransportPolicy"),
            "grasp-later": PolicyEntry(
                "pomdp_envs.policies.fetch_pick_and_place:ReachGraspTransportPolicy", {"grasp_step": 18}
            ),
        },
        validation_policy="oracle",
    ),
    *(
        EnvEntry(
            name=f"MiniGrid-{task}-v0",
            entry_point="pomdp_envs.wrappers.minigrid_memory:MiniGridMemoryEnv",
            vector_entry_point=None,
            max_episode_steps=None,  # MiniGrid truncates at its own max_steps
            description=f"MiniGrid {task} seen through the 7x7 egocentric view; carried object, doors hidden.",
            kwargs={"task": task},
            requires=("minigrid",),
            extra="minigrid",
            upstream_id=upstream,
            no_early_end={"end_on_result": False},
            policies={"solver": PolicyEntry("pomdp_envs.policies.minigrid:SolverPolicy", {"task": task})},
            validation_policy="solver",
        )
        for task, upstream in MINIGRID_TASKS.items()
    ),
)


def register_envs() -> None:
    """Register every id with Gymnasium (idempotent)."""
    for entry in ENTRIES:
        if entry.id in gym.registry:
            continue
        gym.register(
            id=entry.id,
            entry_point=entry.entry_point,
            vector_entry_point=entry.vector_entry_point,
            max_episode_steps=entry.max_episode_steps,
            kwargs=dict(entry.kwargs),
        )


def env_ids(available_only: bool = False) -> list[str]:
    """Registered ids of this package in registration order (optionally only those
    whose optional dependencies are installed)."""
    return [entry.id for entry in ENTRIES if entry.available or not available_only]


def find_entry(env_id: str) -> EnvEntry | None:
    """The entry of an id of this package (None for any other id)."""
    return next((candidate for candidate in ENTRIES if candidate.id == env_id), None)


def entry_by_id(env_id: str) -> EnvEntry:
    """The entry of an id of this package; ``ValueError`` for any other id."""
    found = find_entry(env_id)
    if found is None:
        raise ValueError(f"{env_id!r} is not an id of this package; choose from {env_ids()}")
    return found


def entry_by_short_name(short_name: str) -> EnvEntry:
    """The entry whose ``short_name`` is given; ``ValueError`` lists the choices."""
    for candidate in ENTRIES:
        if candidate.short_name == short_name:
            return candidate
    raise ValueError(f"no env is called {short_name!r}; choose from {[e.short_name for e in ENTRIES]}")

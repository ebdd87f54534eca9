"""Every environment id of the package, registered in this one place."""

from __future__ import annotations

import dataclasses

import gymnasium as gym

NAMESPACE = "pomdp_envs"


@dataclasses.dataclass(frozen=True)
class EnvEntry:
    """One registered id: where its classes live and what it is for."""

    name: str  # without namespace, e.g. "BilliardBall-v0"
    entry_point: str
    vector_entry_point: str | None
    max_episode_steps: int | None
    description: str
    kwargs: dict = dataclasses.field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{NAMESPACE}/{self.name}"


ENTRIES: tuple[EnvEntry, ...] = (
    EnvEntry(
        name="BilliardBall-v0",
        entry_point="pomdp_envs.envs.billiard_ball:BilliardBallEnv",
        vector_entry_point="pomdp_envs.envs.billiard_ball:BilliardBallVectorEnv",
        max_episode_steps=200,
        description="Ball on a low-friction table; position observed, velocity hidden (changes at cushions).",
    ),
    EnvEntry(
        name="RobotRemoteControl-v0",
        entry_point="pomdp_envs.envs.robot_remote_control:RobotRemoteControlEnv",
        vector_entry_point="pomdp_envs.envs.robot_remote_control:RobotRemoteControlVectorEnv",
        max_episode_steps=50,
        description="Visit a terminal to take control of a robot next door; control is hidden.",
    ),
    EnvEntry(
        name="Shepherd-v0",
        entry_point="pomdp_envs.envs.shepherd:ShepherdEnv",
        vector_entry_point="pomdp_envs.envs.shepherd:ShepherdVectorEnv",
        max_episode_steps=100,
        description="Remember where a sheep hid behind a wall, place a cage, open the gate.",
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


def env_ids() -> list[str]:
    """All registered ids of this package, in registration order."""
    return [entry.id for entry in ENTRIES]

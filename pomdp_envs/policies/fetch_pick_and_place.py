"""A scripted reach-grasp-transport policy for FetchPickAndPlacePO-v0 (flat observations)."""

from __future__ import annotations

import numpy as np

from pomdp_envs.policies.base import Policy

HOVER = 0.05  # m above the object while the gripper is still beside it
# The hover height falls linearly from HOVER to 0 as the x-y error falls from
# ALIGNED_FROM to ALIGNED_AT (m).
ALIGNED_FROM, ALIGNED_AT = 0.04, 0.01
AT_OBJECT = 0.02  # m: close enough to close the fingers
GAIN = 20.0  # action per metre of position error (one action unit shifts the target 0.05 m)
CLOSE_STEPS = 2  # steps with the fingers closing before lifting
PAPER_GRASP_STEP = 5  # the GateL0RD paper's training data grasp at step 5


class ReachGraspTransportPolicy(Policy):
    """Move onto the object with open fingers, close them at ``grasp_step``, carry it to
    the goal.

    The gripper heads straight for the object at full speed, held ``HOVER`` above it
    until aligned in x-y, so that the fingers do not push it away. At step index
    ``grasp_step`` (0-based; the paper's training data grasp at step 5) the fingers close
    if the gripper is at the object, else on the first later step at which it is; the
    fingers touch the object two steps later (observation ``grasp_step + 2``). From an upstream start the gripper reaches the object
    by step 5 in about two thirds of the episodes and by step 6 in the others, so
    :func:`grasp_accepts` keeps the episodes grasped exactly on time. A later
    ``grasp_step`` makes the gripper wait at the object, open (the paper's
    generalisation data grasp later). ``noise`` adds Gaussian noise to the motion part
    of the action.
    """

    def __init__(self, grasp_step: int = PAPER_GRASP_STEP, noise: float = 0.0, seed: int | None = None) -> None:
        super().__init__(seed)
        if grasp_step < 0:
            raise ValueError(f"grasp_step must be >= 0, got {grasp_step}")
        self.grasp_step = grasp_step
        self.noise = noise
        self.closing_since = np.zeros(0, dtype=int)

    def reset(self, observations: np.ndarray) -> None:
        super().reset(observations)
        self.closing_since = np.full(len(observations), -1)

    def _act(self, observations: np.ndarray, info: dict | None) -> np.ndarray:
        gripper, obj, goal = observations[:, 0:3], observations[:, 3:6], observations[:, 11:14]
        xy_error = np.linalg.norm(gripper[:, :2] - obj[:, :2], axis=1)
        lift = HOVER * np.clip((xy_error - ALIGNED_AT) / (ALIGNED_FROM - ALIGNED_AT), 0.0, 1.0)
        approach = obj + lift[:, None] * np.array([0.0, 0.0, 1.0])
        at_object = np.linalg.norm(gripper - obj, axis=1) < AT_OBJECT
        start = (self.closing_since < 0) & at_object & (self.step_index >= self.grasp_step)
        self.closing_since = np.where(start, self.step_index, self.closing_since)
        closing = self.closing_since >= 0
        transport = closing & (self.step_index - self.closing_since >= CLOSE_STEPS)

        target = np.where(transport[:, None], goal, np.where(closing[:, None], gripper, approach))
        motion = np.clip(GAIN * (target - gripper), -1.0, 1.0)
        if self.noise > 0:
            motion = np.clip(motion + self.rng.normal(0.0, self.noise, motion.shape), -1.0, 1.0)
        fingers = np.where(closing, -1.0, 1.0)
        return np.concatenate([motion, fingers[:, None]], axis=1)


def grasp_accepts(grasp_step: int):
    """Acceptance test for :func:`pomdp_envs.datasets.collect_sequences`: the object is
    first held at observation ``grasp_step + 2``, i.e. the fingers began to close on it
    at action ``grasp_step``."""
    held_at = grasp_step + 2

    def accept(hidden: dict[str, np.ndarray]) -> np.ndarray:
        grasped = hidden["object_grasped"]
        return (grasped[:, held_at] == 1) & ~np.any(grasped[:, :held_at] == 1, axis=1)

    return accept

"""A scripted reach-grasp-transport policy for FetchPickAndPlacePO-v0 (flat observations)."""

from __future__ import annotations

import numpy as np

from pomdp_envs.policies.base import Policy

REACH, DESCEND, GRASP, TRANSPORT = range(4)
HOVER = 0.06  # m above the object before descending
GAIN = 10.0  # action per metre of position error (one action unit moves 0.05 m)
CLOSE_STEPS = 3  # steps with the gripper closing before lifting


class ReachGraspTransportPolicy(Policy):
    """Move above the object, descend with open fingers, close them, carry it to the goal.

    ``grasp_step`` delays the grasp: the gripper waits around the object, open, until
    that step (the paper's training set grasps early, its generalisation set later).
    ``noise`` adds Gaussian noise to the motion part of the action.
    """

    def __init__(self, grasp_step: int = 0, noise: float = 0.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.grasp_step = grasp_step
        self.noise = noise
        self.phase = np.zeros(0, dtype=int)
        self.closing_since = np.zeros(0, dtype=int)

    def reset(self, observations: np.ndarray) -> None:
        super().reset(observations)
        self.phase = np.full(len(observations), REACH)
        self.closing_since = np.zeros(len(observations), dtype=int)

    def _act(self, observations: np.ndarray) -> np.ndarray:
        gripper, obj, goal = observations[:, 0:3], observations[:, 3:6], observations[:, 11:14]
        above = obj + np.array([0.0, 0.0, HOVER])
        xy_error = np.linalg.norm(gripper[:, :2] - obj[:, :2], axis=1)
        at_object = np.linalg.norm(gripper - obj, axis=1) < 0.01
        may_grasp = self.step_index >= self.grasp_step

        self.phase = np.where((self.phase == REACH) & (xy_error < 0.01), DESCEND, self.phase)
        start_closing = (self.phase == DESCEND) & at_object & may_grasp
        self.closing_since = np.where(start_closing, self.step_index, self.closing_since)
        self.phase = np.where(start_closing, GRASP, self.phase)
        closed = (self.phase == GRASP) & (self.step_index - self.closing_since >= CLOSE_STEPS)
        self.phase = np.where(closed, TRANSPORT, self.phase)

        phase = self.phase[:, None]
        target = np.select([phase == REACH, phase == DESCEND, phase == GRASP], [above, obj, gripper], goal)
        motion = np.clip(GAIN * (target - gripper), -1.0, 1.0)
        if self.noise > 0:
            motion = np.clip(motion + self.rng.normal(0.0, self.noise, motion.shape), -1.0, 1.0)
        fingers = np.where(self.phase >= GRASP, -1.0, 1.0)
        return np.concatenate([motion, fingers[:, None]], axis=1)

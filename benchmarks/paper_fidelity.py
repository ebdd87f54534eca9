"""Statistics of the data policies against those of the original environments.

The reference values were measured by running the GateL0RD paper's original
environment code and data generators (``shared/specs/reference_statistics.md``); this
script measures the same statistics on this package's envs and prints both, with the
difference in units of its combined standard error:

    python -m benchmarks.paper_fidelity --runs 20000

``tests/test_paper_fidelity.py`` checks the same statistics at smaller samples.
"""

from __future__ import annotations

import argparse
import dataclasses
import math

import numpy as np

from pomdp_envs.cli_errors import command_name
from pomdp_envs.datasets import collect_sequences
from pomdp_envs.policies.robot_remote_control import BiasedPolicy, UniformPolicy
from pomdp_envs.policies.shepherd import KINDS


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A rate or a mean, its standard error and the number of samples behind it."""

    value: float
    stderr: float
    count: int


@dataclasses.dataclass(frozen=True)
class Reference:
    """A reference value: a rate over ``runs`` runs, or a mean over the runs counted in
    ``runs`` x ``rate_of_runs`` (its error is estimated from the measured spread)."""

    value: float
    runs: int
    rate_of_runs: float = 1.0

    def stderr(self, measured: Estimate, is_rate: bool) -> float:
        if is_rate:
            return math.sqrt(self.value * (1 - self.value) / self.runs)
        spread = measured.stderr * math.sqrt(measured.count)
        return spread / math.sqrt(max(1.0, self.runs * self.rate_of_runs))


# Robot Remote Control, 50-step episodes, n = 5000 per policy.
RRC_REFERENCE = {
    "biased": {
        "controlled": Reference(0.0588, 5000),
        "first_control_step": Reference(29.05, 5000, 0.0588),
        "near_goal": Reference(0.0126, 5000),
    },
    "uniform": {
        "controlled": Reference(0.0878, 5000),
        "first_control_step": Reference(20.46, 5000, 0.0878),
        "near_goal": Reference(0.0118, 5000),
    },
}
# Shepherd, 101-step sequences: acceptance rate of each kind's filter and mean
# gate-open step (0-based action index) among the accepted runs.
SHEPHERD_REFERENCE = {
    "gate_opened_left": {"accepted": Reference(0.0590, 10000), "gate_open_step": Reference(49.5, 10000, 0.0590)},
    "gate_opened_right": {"accepted": Reference(0.1928, 5000), "gate_open_step": Reference(56.9, 5000, 0.1928)},
    "sheep_caught": {"accepted": Reference(0.0275, 20000), "gate_open_step": Reference(70.6, 20000, 0.0275)},
    "gate_closed": {"accepted": Reference(0.7980, 5000)},
}
RATES = {"controlled", "near_goal", "accepted"}


def rate(flags: np.ndarray) -> Estimate:
    p = float(np.mean(flags))
    return Estimate(p, math.sqrt(p * (1 - p) / len(flags)), len(flags))


def mean(values: np.ndarray) -> Estimate:
    if len(values) < 2:
        return Estimate(float("nan"), float("nan"), len(values))
    return Estimate(float(np.mean(values)), float(np.std(values, ddof=1) / math.sqrt(len(values))), len(values))


def first_step(flags: np.ndarray) -> np.ndarray:
    """0-based action index after which a (N, T + 1) flag is first set, for the runs
    where it is set at all."""
    ever = flags[:, -1] == 1
    return np.argmax(flags[ever, 1:] == 1, axis=1)


def rrc_statistics(policy: str, runs: int, seed: int = 0) -> dict[str, Estimate]:
    """Control rate, first-control step and chance of the robot passing the goal."""
    make = {"biased": lambda: BiasedPolicy(seed=seed), "uniform": lambda: UniformPolicy(seed)}[policy]
    sequences = collect_sequences(
        "pomdp_envs/RobotRemoteControl-v0", make(), runs, 50, seed=seed, num_envs=min(runs, 5000)
    )
    robot = sequences.observations[..., 2:4] + np.array([2.0, 0.0])
    near_goal = np.linalg.norm(robot[:, 1:] - np.array([2.5, -0.5]), axis=-1) < 0.1
    controlled = sequences.hidden["robot_controlled"]
    return {
        "controlled": rate(controlled[:, -1] == 1),
        "first_control_step": mean(first_step(controlled)),
        "near_goal": rate(near_goal.any(axis=1)),
    }


def shepherd_statistics(kind: str, runs: int, seed: int = 0) -> dict[str, Estimate]:
    """Acceptance rate of the kind's filter over ``runs`` rollouts of its policy, and
    the mean gate-open step of the accepted ones."""
    spec = KINDS[kind]
    sequences = collect_sequences(
        "pomdp_envs/Shepherd-v0",
        spec.make_policy(seed),
        runs,
        100,
        seed=seed,
        num_envs=min(runs, 5000),
        **spec.env_kwargs,
    )
    accepted = np.asarray(spec.accept(sequences.hidden), dtype=bool)
    return {
        "accepted": rate(accepted),
        "gate_open_step": mean(first_step(sequences.hidden["gate_open"][accepted])),
    }


def z_score(measured: Estimate, reference: Reference, is_rate: bool) -> float:
    """Difference in units of the combined standard error."""
    combined = math.hypot(measured.stderr, reference.stderr(measured, is_rate))
    return (measured.value - reference.value) / combined


def compare_all(runs: int, seed: int = 0) -> list[tuple[str, str, Reference, Estimate, float]]:
    """(env and condition, statistic, reference, measured, z) for every reference value."""
    rows = []
    for policy, references in RRC_REFERENCE.items():
        measured = rrc_statistics(policy, runs, seed)
        for name, reference in references.items():
            rows.append(
                (f"rrc/{policy}", name, reference, measured[name], z_score(measured[name], reference, name in RATES))
            )
    for kind, references in SHEPHERD_REFERENCE.items():
        measured = shepherd_statistics(kind, runs, seed)
        for name, reference in references.items():
            rows.append(
                (f"shepherd/{kind}", name, reference, measured[name], z_score(measured[name], reference, name in RATES))
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=command_name(), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20000, help="rollouts per policy or kind")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error("--runs must be >= 2")
    print(f"{args.runs} runs per policy or kind, seed {args.seed}")
    print("| env / condition | statistic | reference (runs) | measured ± s.e. (samples) | z | within 3 s.e. |")
    print("|---|---|---:|---:|---:|:---:|")
    for where, name, reference, measured, z in compare_all(args.runs, args.seed):
        print(
            f"| {where} | {name} | {reference.value:.4g} ({reference.runs}) | "
            f"{measured.value:.4g} ± {measured.stderr:.2g} ({measured.count}) | {z:+.2f} | "
            f"{'yes' if abs(z) <= 3 else 'NO'} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

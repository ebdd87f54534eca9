"""Training throughput of the predictors: the plain trainer against the batched one.

For each case (env, core) it times training updates (batch 128, the paper's sequence
length, forward, backward, clipping and Adam) of the plain ``Predictor`` trainer and of
the batched trainer at R runs at once, on 1 and 2 threads, and prints per-run updates/s,
the speed-up over the plain trainer on one thread, GFLOP/s (FLOPs of one update counted
by ``torch.utils.flop_counter``) and their share of the machine's measured fp32 matmul
peak (a 1024 x 1024 matmul on the same threads).

A shared machine's speed drifts by up to 2x within minutes, so one window per trainer
could put the drift into the ratio: the windows alternate in ``--rounds`` rounds (in each,
the plain trainer on one thread, then every batched case), and a row gives the median
rate and the median of the per-round speed-ups, with their range. The batched trainer
of a core with a hand-written backward pass (GateL0RD and the RNNs) is timed with each
of ``--gradients`` (that pass, autograd).
``--processes P`` adds rows for the largest R split across P one-thread processes that
train at the same time (``--workers`` of the trainer), with their per-run rates summed.

    python -m benchmarks.train_speed                      # RRC GateL0RD, RRC GRU, Billiard GateL0RD
    python -m benchmarks.train_speed --runs 1 8 --seconds 2 --cases rrc/gru
    python -m benchmarks.train_speed --cases rrc/gatel0rd --runs 48 --processes 2
    python -m benchmarks.train_speed --cases rrc/lstm rrc/gru rrc/elman --gradients by-hand autograd
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from baselines.predictors.train import (
    BY_HAND,
    PlainTrainer,
    StackedTrainer,
    TrainConfig,
    in_processes,
    load_data,
    split_runs,
)
from pomdp_envs.cli_errors import command_name

CASES = ("rrc/gatel0rd", "rrc/gru", "billiard/gatel0rd")


def matmul_peak_gflops(threads: int, seconds: float = 1.0) -> float:
    torch.set_num_threads(threads)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(3):
        a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * 1024**3 * count / (time.perf_counter() - start) / 1e9


def updates_per_second(trainer, seconds: float, p_real: float = 0.5) -> float:
    """Updates/s of ``trainer`` (warm-up updates excluded)."""
    for _ in range(3):
        trainer.update(p_real)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or count < 3:
        last = trainer.update(p_real)
        count += 1
    float(last[0].sum())  # wait for the device
    return count / (time.perf_counter() - start)


def _timed_share(config: TrainConfig, seconds: float) -> float:
    """Per-run updates/s of ``config``'s runs as one batch on one thread (a worker process)."""
    torch.set_num_threads(1)
    return updates_per_second(StackedTrainer(config, load_data(config)), seconds) * len(config.runs())


def split_across_processes(config: TrainConfig, runs: int, processes: int, seconds: float) -> float:
    """Per-run updates/s of ``runs`` runs split across ``processes`` one-thread processes
    timed at the same time (each times its own window after its warm-up)."""
    shares = split_runs(list(range(runs)), processes)
    configs = [dataclasses.replace(config, seeds=tuple(share), threads=1) for share in shares]
    return sum(in_processes(_timed_share, [(shared, seconds) for shared in configs]))


def flops_per_update(trainer, data, p_real: float = 0.5) -> float:
    """FLOPs of one update, counted on the autograd path (the hand-written backward pass
    computes the same products, some in place, which the counter does not see)."""
    if getattr(trainer, "by_hand", None) is not None:
        trainer = StackedTrainer(dataclasses.replace(trainer.config, gradients="autograd"), data)
    with FlopCounterMode(display=False) as counter:
        trainer.update(p_real)
    return float(counter.get_total_flops())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=command_name(), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", nargs="+", default=list(CASES), help="env/core pairs")
    parser.add_argument("--runs", nargs="+", type=int, default=[1, 8, 32, 48], help="R values of the batched trainer")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per window")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of windows")
    parser.add_argument(
        "--gradients",
        nargs="+",
        default=["by-hand"],
        choices=["by-hand", "autograd"],
        help="the batched paths of cores with a hand-written backward pass",
    )
    parser.add_argument("--processes", type=int, default=0, help="also split the largest R across this many processes")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda where a GPU is present")
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if min(args.runs) < 1 or min(args.threads) < 1 or args.seconds <= 0 or args.rounds < 1:
        parser.error("--runs, --threads and --rounds must be >= 1 and --seconds > 0")
    cache = args.cache_dir or Path(tempfile.mkdtemp())
    peaks = {threads: matmul_peak_gflops(threads) for threads in args.threads}  # CPU peaks
    print("fp32 matmul peak (1024 x 1024): " + ", ".join(f"{t} thread(s) {g:.1f} GFLOP/s" for t, g in peaks.items()))
    print(f"medians of {args.rounds} alternating rounds of {args.seconds:g} s windows; speed-up range in brackets")
    print("| case | trainer | runs | threads | per-run updates/s | speed-up | GFLOP/s | share of peak |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for case in args.cases:
        env, core = case.split("/")
        base = TrainConfig(
            env=env, core=core, num_train=1024, num_test=16, cache_dir=cache, progress=False, device=args.device
        )
        data = load_data(base)
        # (label, runs, threads, trainer); the first, the plain trainer on one thread, is the reference.
        timed = [("plain", 1, 1, PlainTrainer(base, data))]
        timed += [
            ("plain", 1, threads, PlainTrainer(dataclasses.replace(base, threads=threads), data))
            for threads in args.threads
            if threads != 1
        ]
        paths = args.gradients if core in BY_HAND else ["autograd"]
        for gradients in paths:
            label = f"batched ({gradients})"
            for threads in args.threads:
                for runs in args.runs:
                    config = dataclasses.replace(base, threads=threads, seeds=tuple(range(runs)), gradients=gradients)
                    timed.append((label, runs, threads, StackedTrainer(config, data)))
        rates: list[list[float]] = [[] for _ in timed]
        for _ in range(args.rounds):
            for rate_list, (_, runs, threads, trainer) in zip(rates, timed):
                torch.set_num_threads(threads)
                rate_list.append(updates_per_second(trainer, args.seconds) * runs)
        reference_rates = rates[0]
        for rate_list, (label, runs, threads, trainer) in zip(rates, timed):
            torch.set_num_threads(threads)
            ratios = [rate / plain for rate, plain in zip(rate_list, reference_rates)]
            per_run = statistics.median(rate_list)
            gflops = flops_per_update(trainer, data) * per_run / runs / 1e9
            print(
                f"| {case} | {label} | {runs} | {threads} | {per_run:.1f} | {statistics.median(ratios):.2f} "
                f"[{min(ratios):.2f}-{max(ratios):.2f}] | {gflops:.2f} | {gflops / peaks[threads]:.1%} |",
                flush=True,
            )
        if args.processes > 1:
            runs = max(args.runs)
            per_run = split_across_processes(base, runs, args.processes, args.seconds)
            torch.set_num_threads(1)
            plain = updates_per_second(timed[0][3], args.seconds)
            print(
                f"| {case} | batched, {args.processes} processes | {runs} | 1 each | {per_run:.1f} | "
                f"{per_run / plain:.2f} | - | - |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

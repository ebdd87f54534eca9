"""Training throughput of the predictors: the plain trainer against the batched one.

For each case (env, core) it times training updates (batch 128, the paper's sequence
length, forward, backward, clipping and Adam) of the plain ``Predictor`` trainer and of
the batched trainer at R runs at once, on 1 and 2 threads, and prints per-run updates/s,
the speed-up over the plain trainer, GFLOP/s (FLOPs of one update counted by
``torch.utils.flop_counter``) and their share of the machine's measured fp32 matmul peak
(a 1024 x 1024 matmul on the same threads). ``--processes P`` adds rows for the largest R
split across P one-thread processes that train at the same time (``--workers`` of the
trainer), with their per-run rates summed.

    python -m benchmarks.train_speed                      # RRC GateL0RD, RRC GRU, Billiard GateL0RD
    python -m benchmarks.train_speed --runs 1 8 --seconds 2 --cases rrc/gru
    python -m benchmarks.train_speed --cases rrc/gatel0rd --runs 48 --processes 2
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from baselines.predictors.train import PlainTrainer, StackedTrainer, TrainConfig, in_processes, load_data, split_runs

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


def flops_per_update(trainer, p_real: float = 0.5) -> float:
    with FlopCounterMode(display=False) as counter:
        trainer.update(p_real)
    return float(counter.get_total_flops())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(CASES), help="env/core pairs")
    parser.add_argument("--runs", nargs="+", type=int, default=[1, 8, 32, 48], help="R values of the batched trainer")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--seconds", type=float, default=4.0, help="timed seconds per measurement")
    parser.add_argument("--processes", type=int, default=0, help="also split the largest R across this many processes")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda where a GPU is present")
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if min(args.runs) < 1 or min(args.threads) < 1 or args.seconds <= 0:
        parser.error("--runs and --threads must be >= 1 and --seconds > 0")
    cache = args.cache_dir or Path(tempfile.mkdtemp())
    peaks = {threads: matmul_peak_gflops(threads) for threads in args.threads}  # CPU peaks
    print("fp32 matmul peak (1024 x 1024): " + ", ".join(f"{t} thread(s) {g:.1f} GFLOP/s" for t, g in peaks.items()))
    print("| case | trainer | runs | threads | per-run updates/s | speed-up | GFLOP/s | share of peak |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for case in args.cases:
        env, core = case.split("/")
        base = TrainConfig(
            env=env, core=core, num_train=1024, num_test=16, cache_dir=cache, progress=False, device=args.device
        )
        data = load_data(base)
        plain_rate = None
        for threads in args.threads:
            torch.set_num_threads(threads)
            config = dataclasses.replace(base, threads=threads)
            plain = PlainTrainer(config, data)
            rate = updates_per_second(plain, args.seconds)
            plain_rate = rate if threads == 1 else plain_rate
            gflops = flops_per_update(plain) * rate / 1e9
            print(
                f"| {case} | plain | 1 | {threads} | {rate:.1f} | {rate / plain_rate:.2f} | {gflops:.2f} | "
                f"{gflops / peaks[threads]:.1%} |",
                flush=True,
            )
            for runs in args.runs:
                stacked_config = dataclasses.replace(config, seeds=tuple(range(runs)))
                trainer = StackedTrainer(stacked_config, data)
                per_run = updates_per_second(trainer, args.seconds) * runs
                gflops = flops_per_update(trainer) * per_run / runs / 1e9
                print(
                    f"| {case} | batched | {runs} | {threads} | {per_run:.1f} | {per_run / plain_rate:.2f} | "
                    f"{gflops:.2f} | {gflops / peaks[threads]:.1%} |",
                    flush=True,
                )
        if args.processes > 1:
            runs = max(args.runs)
            per_run = split_across_processes(base, runs, args.processes, args.seconds)
            print(
                f"| {case} | batched, {args.processes} processes | {runs} | 1 each | {per_run:.1f} | "
                f"{per_run / plain_rate:.2f} | - | - |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

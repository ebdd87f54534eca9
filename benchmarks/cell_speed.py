"""Forward + backward time of the GateL0RD cell unrolled over a sequence, next to
torch's fused ``nn.GRU`` and an ``nn.GRUCell`` loop, on the CPU.

Method: batch 128, 50 steps, input and latent size 16, one torch thread, random
inputs; each figure is the median of ``--repeats`` timed calls after five warm-up
calls. GateL0RD runs in training mode (gate noise on), as during training. Whole
training updates, and many runs at once, are measured by ``benchmarks.train_speed``.

    python -m benchmarks.cell_speed
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from baselines.cells import GateL0RDCell
from pomdp_envs.cli_errors import command_name


def median_ms(fn: Callable[[], None], repeats: int) -> float:
    for _ in range(5):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=command_name(), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    inputs = torch.randn(args.steps, args.batch, args.size)
    h0 = torch.zeros(args.batch, args.size)

    gru = nn.GRU(args.size, args.size)
    gru_cell = nn.GRUCell(args.size, args.size)
    gatel0rd = GateL0RDCell(args.size, args.size)

    def run_gru() -> None:
        gru(inputs)[0].sum().backward()

    def run_gru_cell() -> None:
        outputs, h = [], h0
        for x in inputs.unbind(0):
            h = gru_cell(x, h)
            outputs.append(h)
        torch.stack(outputs).sum().backward()

    def run_gatel0rd_loop() -> None:
        outputs, state = [], (h0,)
        for x in inputs.unbind(0):
            output, state, _ = gatel0rd(x, state)
            outputs.append(output)
        torch.stack(outputs).sum().backward()

    reference = median_ms(run_gru, args.repeats)
    rows = [
        ("nn.GRU (fused)", reference),
        ("nn.GRUCell, Python loop", median_ms(run_gru_cell, args.repeats)),
        ("GateL0RDCell, Python loop", median_ms(run_gatel0rd_loop, args.repeats)),
    ]
    print(f"fwd+bwd, batch {args.batch}, {args.steps} steps, size {args.size}, 1 thread")
    print("| model | ms | x nn.GRU |")
    print("|---|---:|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.2f} | {ms / reference:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

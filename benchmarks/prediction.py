"""Prediction benchmark: GateL0RD against LSTM, GRU and Elman RNNs on each env.

For every (env, core, seed) it trains a predictor with ``baselines.train_predictor``
and reports, on held-out data: autoregressive MSE on the test split and on the
generalisation split (another policy or another range of a hidden factor), gate
openings per sequence (GateL0RD), linear-probe R^2 of each hidden factor from the
latent, and precision/recall of gate openings against hidden-factor changes.
Mean +- std over seeds.

    python -m benchmarks.prediction --envs rrc --epochs 200 --seeds 2 --workers 2
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from baselines.data import load_split
from baselines.predictor import CORES
from baselines.train_predictor import ENV_DEFAULTS, TrainConfig, train

COLUMNS = ("test_mse", "gen_mse", "gate_openings", "gate_precision", "gate_recall")


def run_one(config: TrainConfig) -> dict:
    import torch

    torch.set_num_threads(1)
    scores = train(config)
    return {"env": config.env, "core": config.core, "seed": config.seed, **scores}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=sorted(ENV_DEFAULTS), choices=sorted(ENV_DEFAULTS))
    parser.add_argument("--cores", nargs="+", default=list(CORES), choices=CORES)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batches-per-epoch", type=int, default=10)
    parser.add_argument("--num-train", type=int, default=2048)
    parser.add_argument("--num-test", type=int, default=512)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/local/prediction"))
    args = parser.parse_args(argv)

    configs = [
        TrainConfig(
            env=env, core=core, seed=seed, epochs=args.epochs, batches_per_epoch=args.batches_per_epoch,
            num_train=args.num_train, num_test=args.num_test, eval_every=max(1, args.epochs // 10),
            out_dir=args.out / env / core / f"seed{seed}", progress=False,
        )
        for env in args.envs for seed in range(args.seeds) for core in args.cores
    ]
    # Collect every dataset once, before workers would race to write the same cache file.
    for config in configs:
        for split, size in (("train", config.num_train), ("test", config.num_test), ("generalisation", config.num_test)):
            load_split(config.env, split, size, config.seed, config.cache_dir)

    rows = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = {pool.submit(run_one, config): config for config in configs}
        for future, config in futures.items():
            try:
                rows.append(future.result())
            except Exception as error:  # report and go on with the other runs
                print(f"run {config.env}/{config.core}/seed{config.seed} failed: {error!r}")
    if not rows:
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    keys = sorted({key for row in rows for key in row})
    with (args.out / "runs.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    print(format_table(rows))
    return 0


def format_table(rows: list[dict]) -> str:
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["env"], row["core"])].append(row)
    probes = sorted({key for row in rows for key in row if key.startswith("probe_r2/")})
    header = ["env", "core", "seeds", *COLUMNS, *probes]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (env, core), group in sorted(groups.items()):
        cells = [env, core, str(len(group))]
        for key in (*COLUMNS, *probes):
            values = np.array([row.get(key, np.nan) for row in group], dtype=float)
            cells.append(_mean_std(values))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _mean_std(values: np.ndarray) -> str:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return "-"
    mean, std = values.mean(), values.std()
    fmt = "{:.2e}" if abs(mean) < 0.01 and mean != 0 else "{:.3f}"
    return fmt.format(mean) + (" ± " + fmt.format(std) if values.size > 1 else "")


if __name__ == "__main__":
    raise SystemExit(main())

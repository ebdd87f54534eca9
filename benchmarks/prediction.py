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
from pathlib import Path

from baselines.data import load_split
from baselines.predictor import CORES
from baselines.train_predictor import ENV_DEFAULTS, TrainConfig, train
from benchmarks.common import Row, fan_out, markdown_table, write_runs

COLUMNS = ("test_mse", "gen_mse", "gate_openings", "gate_precision", "gate_recall", "gate_lift")


def run_one(config: TrainConfig) -> Row:
    import torch

    torch.set_num_threads(1)
    scores = train(config)
    return {"env": config.env, "core": config.core, "seed": config.seed, **scores}


def make_configs(envs: list[str], cores: list[str], seeds: int, epochs: int, out: Path,
                 batches_per_epoch: int = 10, num_train: int = 2048, num_test: int = 512) -> list[TrainConfig]:
    return [
        TrainConfig(
            env=env, core=core, seeds=(seed,), epochs=epochs, batches_per_epoch=batches_per_epoch,
            num_train=num_train, num_test=num_test, eval_every=max(1, epochs // 10),
            out_dir=out / env / core / f"seed{seed}", progress=False,
        )
        for env in envs for seed in range(seeds) for core in cores
    ]


def prepare_data(configs: list[TrainConfig]) -> None:
    """Collect every dataset once, before workers would race to write the same cache file."""
    for config in configs:
        for split, size in (("train", config.num_train), ("test", config.num_test), ("generalisation", config.num_test)):
            load_split(config.env, split, size, config.data_seed, config.cache_dir)


def run(configs: list[TrainConfig], workers: int, launcher: str = "local") -> tuple[list[Row], list[str]]:
    prepare_data(configs)
    return fan_out(run_one, configs, workers, launcher=launcher, label=lambda c: f"prediction {c.env}/{c.core}/seed{c.seed}")


def format_table(rows: list[Row]) -> str:
    probes = sorted({key for row in rows for key in row if key.startswith("probe/")})
    return markdown_table(rows, ("env", "core"), (*COLUMNS, *probes))


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

    configs = make_configs(args.envs, args.cores, args.seeds, args.epochs, args.out,
                           args.batches_per_epoch, args.num_train, args.num_test)
    rows, _ = run(configs, args.workers)
    return write_runs(args.out, rows, format_table)


if __name__ == "__main__":
    raise SystemExit(main())

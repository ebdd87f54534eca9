"""The batched trainer: a run trained among R gives the numbers it gives alone."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from baselines.predictors.predictor import ALL_CORES, Predictor, PredictorConfig  # noqa: E402
from baselines.predictors.stacked import StackedAdam, StackedPredictor, clip_grad_norm_per_run  # noqa: E402
from baselines.predictors.train import (  # noqa: E402
    PlainTrainer,
    StackedTrainer,
    TrainConfig,
    load_data,
    real_input_probability,
    train_runs,
)

torch.set_num_threads(1)
UPDATES = 8


def _config(tmp_path, **overrides):
    options = dict(
        env="rrc",
        core="gatel0rd",
        epochs=2,
        batches_per_epoch=4,
        batch_size=32,
        num_train=128,
        num_test=16,
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    options.update(overrides)
    return TrainConfig(**options)


def _train(trainer, config):
    for update in range(UPDATES):
        trainer.update(real_input_probability(config, update // 4 + 1))
    return trainer


@pytest.mark.parametrize(
    ("env", "core", "gradients"),
    [("rrc", core, "by-hand") for core in ALL_CORES]
    + [("rrc", "gatel0rd", "autograd"), ("billiard", "gatel0rd", "by-hand"), ("shepherd", "gru", "by-hand")]
    + [("shepherd", "mlp4", "by-hand")],
)
def test_one_stacked_run_matches_the_plain_trainer(tmp_path, env, core, gradients):
    # GateL0RD's gradients come from the hand-written backward pass by default; "mlp4" is
    # the memoryless core with a window of 4.
    window = int(core[3:]) if core.startswith("mlp") and len(core) > 3 else 1
    config = _config(tmp_path, env=env, core=core[:3] if window > 1 else core, gradients=gradients, window=window)
    data = load_data(config)
    plain = _train(PlainTrainer(config, data), config)
    stacked = _train(StackedTrainer(config, data), config)
    for name, value in plain.model.state_dict().items():
        torch.testing.assert_close(stacked.stacked.run_state_dict(0)[name], value, rtol=1e-4, atol=1e-6)


def test_runs_in_a_batch_do_not_touch_each_other(tmp_path):
    # Run (seed 0, lambda 1e-3) alone and beside other seeds and lambdas: same weights.
    alone_config = _config(tmp_path, reg_lambdas=(1e-3,))
    data = load_data(alone_config)
    alone = _train(StackedTrainer(alone_config, data), alone_config)
    batch_config = _config(tmp_path, seeds=(0, 5), reg_lambdas=(1e-3, 0.5))
    batch = _train(StackedTrainer(batch_config, data), batch_config)
    assert [(s.seed, s.reg_lambda) for s in batch.specs][0] == (0, 1e-3)
    for name, value in alone.stacked.run_state_dict(0).items():
        torch.testing.assert_close(batch.stacked.run_state_dict(0)[name], value, rtol=1e-5, atol=1e-7)
    # The other runs did train differently.
    other = batch.stacked.run_state_dict(3)
    assert any(not torch.allclose(other[name], value) for name, value in alone.stacked.run_state_dict(0).items())


def test_stacked_adam_and_clipping_match_torch_per_run():
    torch.manual_seed(0)
    models = [Predictor(3, 1, PredictorConfig(core="gru", latent_size=4, feature_size=4)) for _ in range(3)]
    references = [Predictor(3, 1, PredictorConfig(core="gru", latent_size=4, feature_size=4)) for _ in range(3)]
    for model, reference in zip(models, references):
        reference.load_state_dict(model.state_dict())
    stacked = StackedPredictor(models)
    lrs = [1e-2, 1e-3, 5e-2]
    adam = StackedAdam(stacked, torch.tensor(lrs), eps=1e-4)
    optimisers = [torch.optim.Adam(r.parameters(), lr=lr, eps=1e-4) for r, lr in zip(references, lrs)]
    for _ in range(3):
        grads = {
            name: torch.randn_like(p) * (10.0 ** torch.arange(3.0)).reshape(3, *[1] * (p.dim() - 1))
            for name, p in stacked.params.items()
        }
        stacked.zero_grad()
        for name, p in stacked.params.items():
            p.grad.copy_(grads[name])
        clip_grad_norm_per_run(stacked, 0.1)
        adam.step()
        for run, (reference, optimiser) in enumerate(zip(references, optimisers)):
            for name, p in reference.named_parameters():
                p.grad = grads[name][run].clone()
            torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.1)
            optimiser.step()
    for run, reference in enumerate(references):
        for name, value in reference.state_dict().items():
            torch.testing.assert_close(stacked.run_state_dict(run)[name], value, rtol=1e-5, atol=1e-7)


def test_stacked_forward_equals_each_plain_forward():
    torch.manual_seed(1)
    config = PredictorConfig(core="gatel0rd", latent_size=5, feature_size=6, init_inputs=2, internal_layers=3)
    models = [Predictor(3, 2, config).eval() for _ in range(2)]
    stacked = StackedPredictor(models)
    observations, actions = torch.randn(2, 4, 7, 3), torch.randn(2, 4, 6, 2)
    use_real = torch.rand(2, 4, 6) < 0.5
    noise = 0.1 * torch.randn(2, 4, 6, 5)
    out = stacked(observations, actions, use_real, noise, start_steps=2)
    for run, model in enumerate(models):
        model.train()
        expected = model(observations[run], actions[run], start_steps=2, noise=noise[run], use_real=use_real[run])
        for name in ("predictions", "latents", "gates", "gate_values"):
            torch.testing.assert_close(out[name][run], expected[name], rtol=1e-5, atol=1e-6)


def test_several_runs_write_one_folder_each(tmp_path):
    from baselines.predictors.train import train_runs

    config = _config(tmp_path, seeds=(0, 1), epochs=1, batches_per_epoch=2, eval_every=1, out_dir=tmp_path / "out")
    results = train_runs(config)
    assert [r.out_dir.name for r in results] == ["gatel0rd-lambda0.001-seed0", "gatel0rd-lambda0.001-seed1"]
    for result in results:
        assert {p.name for p in result.out_dir.iterdir()} == {
            "metrics.csv",
            "checkpoint.pt",
            "scores.json",
            "options.json",
        }
        header = (result.out_dir / "metrics.csv").read_text().splitlines()[0].split(",")
        assert {"train_task_loss", "train_gate_penalty", "test_mse", "gen_mse", "gate_openings"} <= set(header)


def test_runs_split_across_worker_processes_match_one_batch(tmp_path):
    import csv

    def metrics(config):
        results = train_runs(config)
        return [r.spec.name for r in results], [list(csv.DictReader(open(r.out_dir / "metrics.csv"))) for r in results]

    options = dict(seeds=(0, 1, 2), epochs=2, eval_every=1)
    one_names, one_rows = metrics(_config(tmp_path, out_dir=tmp_path / "one", **options))
    split_names, split_rows = metrics(_config(tmp_path, out_dir=tmp_path / "split", workers=2, **options))
    assert split_names == one_names
    for one, split in zip(one_rows, split_rows):
        for row_one, row_split in zip(one, split):
            for key in ("test_mse", "gen_mse", "train_task_loss", "gate_openings"):
                assert abs(float(row_one[key]) - float(row_split[key])) <= 1e-5 * abs(float(row_one[key])) + 1e-8
    with pytest.raises(ValueError, match="workers"):
        _config(tmp_path, workers=0).check()


def test_speed_benchmark_times_runs_split_across_processes(tmp_path):
    from benchmarks.train_speed import split_across_processes

    config = _config(tmp_path)
    load_data(config)  # fill the cache the processes read
    assert split_across_processes(config, runs=2, processes=2, seconds=0.05) > 0

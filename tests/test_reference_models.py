"""Reference models: exported from a suite run's folders, listed and loaded without training."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines.predictors import reference  # noqa: E402
from baselines.predictors.metrics import autoregressive_mse  # noqa: E402
from baselines.predictors.predictor import Predictor, count_parameters  # noqa: E402
from baselines.predictors.train import TrainConfig, load_data, train_runs  # noqa: E402

TINY = dict(epochs=2, batches_per_epoch=2, num_train=64, num_test=16, eval_every=1, progress=False)


@pytest.fixture(scope="module")
def suite_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("suite")
    cache = tmp_path_factory.mktemp("cache")
    runs = out / "runs" / "prediction" / "rrc" / "ss"
    # GateL0RD at the paper's lambda and at another (not a reference), an LSTM alone (a single-run folder).
    train_runs(
        TrainConfig(
            env="rrc",
            core="gatel0rd",
            seeds=(0, 1),
            reg_lambdas=(1e-3, 1e-2),
            out_dir=runs / "gatel0rd",
            cache_dir=cache,
            **TINY,
        )
    )
    train_runs(TrainConfig(env="rrc", core="lstm", seeds=(0,), out_dir=runs / "lstm", cache_dir=cache, **TINY))
    (out / "run.json").write_text(json.dumps({"command": "python -m benchmarks run --suite paper", "date": "today"}))
    return out, cache


def test_export_lists_and_loads_the_paper_lambda_runs(suite_out, tmp_path):
    out, cache = suite_out
    exported = reference.export(out, tmp_path)
    assert sorted(entry.key for entry in exported) == [
        ("rrc", "gatel0rd", 0),
        ("rrc", "gatel0rd", 1),
        ("rrc", "lstm", 0),
    ]
    assert [entry.key for entry in reference.reference_models(tmp_path)] == sorted(entry.key for entry in exported)
    model, meta = reference.load_reference("rrc", "gatel0rd", seed=1, directory=tmp_path)
    assert isinstance(model, Predictor) and not model.training and meta["env_id"] == "pomdp_envs/RobotRemoteControl-v0"
    assert meta["run"]["reg_lambda"] == 1e-3 and count_parameters(model) == 1716  # the paper's RRC GateL0RD
    # The index's scores are the run's: the loaded model gives the same test error.
    entry = {e.key: e for e in reference.reference_models(tmp_path)}[("rrc", "gatel0rd", 1)]
    config = TrainConfig(env="rrc", cache_dir=cache, **TINY)
    test = load_data(config)["test"]
    assert autoregressive_mse(model, test, config.start_steps) == pytest.approx(entry.scores["test_mse"], rel=1e-5)
    assert entry.trained["command"] == "python -m benchmarks run --suite paper"
    assert entry.trained["options"]["epochs"] == 2 and "| rrc | lstm | 0 |" in reference.format_table(exported)


def test_unknown_models_and_folders_are_named(suite_out, tmp_path):
    with pytest.raises(ValueError, match="none yet"):
        reference.reference_path("rrc", directory=tmp_path)
    reference.export(suite_out[0], tmp_path)
    with pytest.raises(ValueError, match="rrc/gatel0rd/seed0"):
        reference.load_reference("rrc", "gru", directory=tmp_path)
    with pytest.raises(ValueError, match="no prediction runs"):
        reference.export(tmp_path / "nothing", tmp_path)


def test_the_command_lists_what_it_exported(suite_out, tmp_path, capsys):
    assert reference.main(["--directory", str(tmp_path)]) == 0
    assert "no reference models" in capsys.readouterr().out
    assert reference.main(["--export", str(suite_out[0]), "--directory", str(tmp_path)]) == 0
    assert "exported 3 model(s)" in capsys.readouterr().out


@pytest.mark.parametrize("entry", reference.reference_models(), ids=lambda e: f"{e.env}-{e.core}-seed{e.seed}")
def test_every_shipped_model_loads_with_the_papers_shape(entry):
    from test_baselines import PAPER_PARAMETER_COUNTS

    from baselines.predictors.envs import PREDICTOR_ENVS

    model, meta = reference.load_reference(entry.env, entry.core, entry.seed)
    assert count_parameters(model) == PAPER_PARAMETER_COUNTS[entry.env][entry.core]
    assert meta["train_config"]["epochs"] == entry.trained["options"]["epochs"]
    # Trained to the end of the paper's budget, on its set sizes (the suite's protocol test
    # ties these defaults to the fact sheet).
    paper, options = PREDICTOR_ENVS[entry.env].defaults, entry.trained["options"]
    assert entry.scores["epoch"] == options["epochs"] == paper.paper_epochs
    assert options["batches_per_epoch"] == paper.batches_per_epoch and options["batch_size"] == 128
    assert (options["num_train"], options["num_test"], options["num_generalisation"]) == (
        paper.paper_train,
        paper.paper_test,
        paper.paper_generalisation,
    )


def _readme_section() -> str:
    from documents import section

    return section("Reference models")


def test_the_readme_lists_the_shipped_models():
    assert reference.format_table(reference.reference_models()) in _readme_section()


def test_the_readme_example_predicts_scores_and_plans(suite_out, tmp_path, monkeypatch, capsys):
    reference.export(suite_out[0], tmp_path / "models")
    monkeypatch.setattr(reference, "MODELS_DIR", tmp_path / "models")
    monkeypatch.setenv("POMDP_ENVS_CACHE", str(tmp_path / "cache"))
    [code] = re.findall(r"```python\n(.*?)```", _readme_section(), re.S)
    assert "episodes=10)" in code
    exec(compile(code.replace("episodes=10)", "episodes=1, episode_steps=2)"), "README", "exec"), {})
    printed = [float(value) for value in capsys.readouterr().out.split()]
    assert len(printed) == 4 and printed[0] > 0 and 0.0 <= printed[-1] <= 1.0


def test_error_profile_splits_the_scored_error_by_step_and_value(suite_out, tmp_path, monkeypatch, capsys):
    from benchmarks import error_profile

    out, cache = suite_out
    monkeypatch.setenv("POMDP_ENVS_CACHE", str(cache))
    reference.export(out, tmp_path)
    gatel0rd = [e for e in reference.reference_models(tmp_path) if e.core == "gatel0rd"]
    profile = error_profile.error_profile(gatel0rd, "test", tmp_path)
    assert profile["per_step"].shape == (49,) and profile["per_value"].shape == (4,)  # RRC's steps and values
    # Both profiles average to the error the runs were scored with, over the same sequences.
    scored = np.mean([entry.scores["test_mse"] for entry in gatel0rd])
    assert np.nanmean(profile["per_step"]) == pytest.approx(scored, rel=1e-5)
    assert profile["per_value"].mean() == pytest.approx(scored, rel=1e-5)
    with pytest.raises(ValueError, match="split must be one of"):
        error_profile.error_profile(gatel0rd, "train", tmp_path)
    assert error_profile.main(["rrc", "--split", "test", "--directory", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "| gatel0rd | " in printed and "| lstm | " in printed and "per observation value" in printed

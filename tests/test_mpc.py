"""iCEM planner and model-predictive control through the true model and predictors."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines.control.icem import ICEM, ICEMConfig, colored_noise  # noqa: E402
from baselines.control.mpc import LearnedModel, TrueModel, rrc_cost, run_mpc, shepherd_cost  # noqa: E402
from baselines.predictors.checkpoint import save_checkpoint  # noqa: E402
from baselines.predictors.predictor import Predictor, PredictorConfig  # noqa: E402

torch.set_num_threads(1)


def test_colored_noise_has_unit_variance_and_smoothness_grows_with_beta():
    generator = torch.Generator().manual_seed(0)
    steps = {}
    for beta in (0.0, 1.0, 3.0):
        noise = colored_noise((4000,), 30, beta, generator)
        assert noise.shape == (4000, 30)
        assert noise.std().item() == pytest.approx(1.0, abs=0.05)
        steps[beta] = (noise[:, 1:] - noise[:, :-1]).std().item()
    assert steps[0.0] > steps[1.0] > steps[3.0]


def test_planner_solves_a_quadratic_toy_problem():
    # Two independent problems with different optima inside the action box.
    targets = torch.tensor([[0.3, -0.6], [-0.8, 0.5]])
    planner = ICEM(
        ICEMConfig(horizon=10),
        torch.tensor([-1.0, -1.0]),
        torch.tensor([1.0, 1.0]),
        2,
        torch.Generator().manual_seed(0),
    )

    def cost(actions):
        return ((actions - targets[:, None, None]) ** 2).sum(dim=(-1, -2))

    for _ in range(15):  # the mean carries over from call to call
        first = planner.plan(cost)
    assert first.shape == (2, 2)
    assert torch.allclose(first, targets, atol=0.1)
    assert torch.allclose(planner.mean, targets[:, None].expand(-1, 10, -1), atol=0.15)


def test_planner_keeps_actions_in_bounds_and_is_deterministic_under_a_seed():
    def cost(actions):  # pushes every action far outside the box
        return -(actions * 10).sum(dim=(-1, -2))

    def plan(seed):
        planner = ICEM(
            ICEMConfig(), torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 0.5]), 3, torch.Generator().manual_seed(seed)
        )
        return torch.stack([planner.plan(cost) for _ in range(3)])

    first = plan(0)
    assert torch.all(first >= torch.tensor([-1.0, 0.0])) and torch.all(first <= torch.tensor([1.0, 0.5]))
    assert torch.equal(first, plan(0))
    assert not torch.equal(first, plan(1))


def test_planner_rejects_bad_settings():
    with pytest.raises(ValueError, match="elites"):
        ICEMConfig(population=5, elites=10)
    with pytest.raises(ValueError, match="action_low"):
        ICEM(ICEMConfig(), torch.tensor([1.0]), torch.tensor([0.0]), 1)
    planner = ICEM(ICEMConfig(horizon=4), torch.tensor([-1.0]), torch.tensor([1.0]), 2)
    with pytest.raises(ValueError, match="cost function returned shape"):
        planner.plan(lambda actions: actions.sum())


def test_population_shrinks_but_never_below_twice_the_elites():
    config = ICEMConfig(population=40, population_decay=1.25, elites=10, iterations=5)
    assert [config.population_at(i) for i in range(5)] == [40, 32, 25, 20, 20]


def test_costs_reward_the_right_observations():
    # RRC: the robot at the goal (2.5, -0.5), i.e. (0.5, -0.5) in the observation frame.
    at_goal = torch.tensor([0.0, 0.0, 0.5, -0.5]).expand(1, 1, 3, 4)
    away = torch.tensor([0.0, 0.0, -0.5, 0.5]).expand(1, 1, 3, 4)
    assert rrc_cost(at_goal).item() == pytest.approx(0.0, abs=1e-6)
    assert rrc_cost(away).item() > 1.0
    # Shepherd: [agent x', y', cage x', y', sheep x - 2, sheep y, wall height]; the cage at
    # world (2.0, -0.5) is (0.5, 0.0) observed; a free sheep in it costs nothing.
    hidden = torch.tensor([0.5, 0.0, 0.5, 0.0, 0.0, 0.0, 0.5]).reshape(1, 1, 1, 7)
    caught = torch.tensor([0.5, 0.0, 0.5, 0.0, 0.0, -0.5, 0.5]).reshape(1, 1, 1, 7)
    assert shepherd_cost(caught).item() == pytest.approx(0.0, abs=1e-6)
    assert shepherd_cost(hidden).item() >= 2.0


def test_true_model_reaches_the_rrc_goal_in_most_seeds():
    result = run_mpc("rrc", "true", episodes=20, seed=0)
    assert result.success_rate >= 0.8
    assert result.episodes == 20 and result.stderr < 0.1


def test_true_model_predicts_what_the_env_does():
    import gymnasium as gym

    envs = gym.make_vec("pomdp_envs/Shepherd-v0", num_envs=3, vectorization_mode="vector_entry_point")
    envs.reset(seed=4)
    actions = torch.rand(3, 2, 5, 3) * 2 - 1
    predicted = TrueModel(envs).predict(actions)
    assert predicted.shape == (3, 2, 5, 7)
    for t in range(5):  # candidate 1 of every env, stepped for real
        observations, *_ = envs.step(actions[:, 1, t].numpy().astype(np.float64))
        np.testing.assert_allclose(predicted[:, 1, t].numpy(), observations, rtol=1e-6, atol=1e-7)


def test_learned_model_rollout_matches_the_predictors_autoregressive_forward():
    torch.manual_seed(0)
    predictor = Predictor(4, 2, PredictorConfig(core="gru", latent_size=6)).eval()
    model = LearnedModel(predictor)
    observations, actions = torch.randn(2, 8, 4), torch.rand(2, 7, 2) * 2 - 1
    model.begin(observations[:, 0].numpy())
    known = 3  # real steps fed before planning
    for t in range(known):
        model.advance(actions[:, t].numpy(), observations[:, t + 1].numpy())
    with torch.no_grad():
        planned = model.predict(actions[:, None, known:])[:, 0]
        reference = predictor(observations, actions, real_input_prob=0.0, start_steps=known + 1)["predictions"]
    torch.testing.assert_close(planned, reference[:, known:])


def test_learned_model_reads_the_first_k_real_inputs_before_planning_from_its_state():
    torch.manual_seed(0)
    predictor = Predictor(4, 2, PredictorConfig(core="gatel0rd", init_inputs=2, init_layers=3)).eval()
    model = LearnedModel(predictor)
    observations, actions = torch.randn(2, 8, 4), torch.rand(2, 7, 2) * 2 - 1
    model.begin(observations[:, 0].numpy())
    with torch.no_grad():
        assert model.predict(actions[:, None]).shape == (2, 1, 7, 4)  # before K real steps: guessed inputs
        for t in range(3):
            model.advance(actions[:, t].numpy(), observations[:, t + 1].numpy())
        planned = model.predict(actions[:, None, 3:])[:, 0]
        reference = predictor(observations, actions, real_input_prob=0.0, start_steps=4)["predictions"]
    torch.testing.assert_close(planned, reference[:, 3:])


def test_mpc_episodes_never_start_solved():
    import gymnasium as gym

    from baselines.control.mpc import TASKS, unsolved_starts

    spec = TASKS["rrc"]
    envs = gym.make_vec(spec.env_id, num_envs=500, vectorization_mode="vector_entry_point", **spec.env_kwargs)
    _, info = envs.reset(seed=0)
    assert info["is_success"].any()  # some plain starts put the robot at the goal already
    unsolved_starts(envs, 0)
    assert not envs.unwrapped.dynamics.task_info(envs.unwrapped.state)["is_success"].any()


def test_run_mpc_with_a_checkpoint_and_clear_errors(tmp_path):
    predictor = Predictor(4, 2, PredictorConfig(core="gatel0rd")).eval()
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, predictor, "pomdp_envs/RobotRemoteControl-v0", start_steps=1, train_config={})
    result = run_mpc(
        "rrc", path, episodes=2, seed=0, icem=ICEMConfig(horizon=5, population=12, elites=4), episode_steps=3
    )
    assert 0.0 <= result.success_rate <= 1.0
    with pytest.raises(ValueError, match="trained on"):
        run_mpc("shepherd", path, episodes=1)
    with pytest.raises(ValueError, match="unknown task"):
        run_mpc("billiard", "true")

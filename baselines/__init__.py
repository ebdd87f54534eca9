"""Reference sequence models and agents for the pomdp_envs environments.

Needs the ``baselines`` extra (torch). Depends on ``pomdp_envs``; never the reverse.

* ``baselines.predictors``: GateL0RD and RNN sequence predictors, their batched trainer
  (``python -m baselines.predictors.train``), datasets, metrics and plots.
* ``baselines.control``: iCEM planning and model-predictive control through an env's own
  dynamics or a trained predictor (``python -m baselines.control.mpc``).
* ``baselines.agents``: recurrent PPO (``python -m baselines.agents.ppo``) and the
  Dreamer-style VSG / SVSG / RSSM agents (``python -m baselines.agents.dreamer``).
* ``baselines.cells`` (the recurrent cells all three share) and ``baselines.runlog``
  (run directories, metrics files, tracking, device checks).
"""

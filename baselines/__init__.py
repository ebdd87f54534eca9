"""Reference sequence models and agents for the pomdp_envs environments.

Needs the ``baselines`` extra (torch). Depends on ``pomdp_envs``; never the reverse.
"""

"""The package's own environments, one module each; each class docstring is that
environment's documentation. Envs built on an upstream env are in ``pomdp_envs.wrappers``."""

"""Envs built on an upstream env (MiniGrid, Gymnasium-Robotics Fetch), one module each;
each class docstring is that environment's documentation."""

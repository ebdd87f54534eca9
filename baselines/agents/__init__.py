"""Reinforcement-learning agents: recurrent PPO and Dreamer-style world-model agents."""

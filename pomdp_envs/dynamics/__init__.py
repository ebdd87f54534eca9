"""Batched numpy dynamics of the 2D envs (no gymnasium or rendering imports)."""

"""Shared machinery: the dynamics contract, the single and vector shells, the hidden-factor protocol."""

"""Shared machinery: the dynamics contract, the single and vector shells over batched
dynamics, the shell of the stateful (unbatched) envs, input checks, and the hidden-factor
protocol."""

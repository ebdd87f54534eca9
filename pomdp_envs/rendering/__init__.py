"""Frame rendering for the 2D envs, kept apart from their dynamics."""

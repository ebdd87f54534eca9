"""Stateful, unbatched simulations: ShapeHerd's pymunk world and its pygame drawing
(for physics that cannot be batched in numpy, unlike ``pomdp_envs.dynamics``)."""

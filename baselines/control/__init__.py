"""Planning with iCEM and model-predictive control."""

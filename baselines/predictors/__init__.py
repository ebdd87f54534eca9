"""Sequence predictors of the GateL0RD paper: models, batched training, data and scores."""

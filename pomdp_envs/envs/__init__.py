"""One module per environment; each class docstring is that environment's documentation."""

"""Environment validation: do an env's hidden factors need memory? Supervised
estimators with and without memory, scored per factor (``baselines.validation.protocol``)."""

from baselines.validation.protocol import ValidationConfig, format_table, validate

__all__ = ["ValidationConfig", "format_table", "validate"]

"""Scripts that measure the environments; run them from the repository root with ``python -m``."""

"""``python -m baselines.validation ID``: the same as ``pomdp-envs validate ID``."""

from baselines.validation.protocol import main

if __name__ == "__main__":
    raise SystemExit(main())

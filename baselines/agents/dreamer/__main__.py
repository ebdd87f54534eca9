"""Command line: ``python -m baselines.agents.dreamer PRESET [--options]``."""

from __future__ import annotations

import json
from typing import Optional

from baselines.agents.dreamer.config import PRESETS
from baselines.agents.dreamer.loop import train


def main(argv: Optional[list[str]] = None) -> int:
    import tyro

    from pomdp_envs.cli_errors import command_name, run_command

    def run() -> None:
        config = tyro.extras.overridable_config_cli(
            {name: (name, preset) for name, preset in PRESETS.items()}, args=argv, prog=command_name()
        )
        print(json.dumps(train(config), indent=2))
        print(
            f"wrote {config.out_dir}/metrics.csv, checkpoint.pt, scores.json, curve.png"
            + (" and TensorBoard events" if config.track else "")
        )

    return run_command("python -m baselines.agents.dreamer", run)


if __name__ == "__main__":
    raise SystemExit(main())

"""Every option of the baselines' command lines is read by the code it configures: an
option that nothing reads would be accepted and silently do nothing."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

pytest.importorskip("torch")

from baselines.agents.dreamer import DreamerConfig  # noqa: E402
from baselines.agents.ppo import PPOConfig  # noqa: E402
from baselines.agents.world_model import WorldModelConfig  # noqa: E402
from baselines.control.icem import ICEMConfig  # noqa: E402
from baselines.control.mpc import MPCConfig  # noqa: E402
from baselines.predictors.train import TrainConfig  # noqa: E402

SOURCE = "\n".join(path.read_text() for path in sorted((Path(__file__).parents[1] / "baselines").rglob("*.py")))
CONFIGS = [TrainConfig, MPCConfig, ICEMConfig, PPOConfig, DreamerConfig, WorldModelConfig]


def unread_options(config_cls: type, source: str = SOURCE) -> list[str]:
    """Fields of ``config_cls`` that no attribute access (``.name``) or key (``"name"``)
    in ``source`` reads; a field's own definition (``name: type = ...``) is neither."""
    return [
        field.name
        for field in dataclasses.fields(config_cls)
        if not re.search(rf"\.{field.name}\b|[\"']{field.name}[\"']", source)
    ]


@pytest.mark.parametrize("config_cls", CONFIGS, ids=lambda cls: cls.__name__)
def test_every_option_is_read(config_cls):
    assert not unread_options(config_cls), f"{config_cls.__name__} options nothing reads"


def test_the_check_finds_an_option_nothing_reads():
    @dataclasses.dataclass
    class WithUnusedOption(TrainConfig):
        option_nothing_reads: int = 0

    assert unread_options(WithUnusedOption) == ["option_nothing_reads"]

"""The user documentation that tests read and run: README and the guides, in reading order."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
GUIDES = [
    ROOT / "docs" / "guides" / f"{name}.md"
    for name in ("quickstart", "hidden_factors", "validation", "baselines", "benchmarks", "long_runs", "design")
]
DOCUMENTS = [README, *GUIDES]


def section(heading: str) -> str:
    """The text under the first heading (any level) that starts with ``heading``, up to
    the next heading of the same or a higher level."""
    for path in DOCUMENTS:
        text = path.read_text()
        match = re.search(rf"^(#+) {re.escape(heading)}.*$", text, re.M)
        if match:
            level = len(match.group(1))
            rest = text[match.end() :]
            end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
            return rest if end is None else rest[: end.start()]
    raise LookupError(f"no heading {heading!r} in {[p.name for p in DOCUMENTS]}")


def code_blocks(language: str, paths: list[Path] = DOCUMENTS) -> list[str]:
    """Every fenced block in ``language`` of ``paths``, in order."""
    return [block for path in paths for block in re.findall(rf"```{language}\n(.*?)```", path.read_text(), re.S)]

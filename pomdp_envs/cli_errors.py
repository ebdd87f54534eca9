"""One-line errors for the command-line entry points, and output folders checked before
any work is done."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Errors that mean "the arguments or the files they name are wrong", not a bug.
USER_ERRORS = (ValueError, OSError, KeyError, ImportError)


class Interrupted(Exception):
    """A long command stopped by a signal after saving its work; ``exit_code`` is the
    shell's convention, 128 + the signal's number."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message, exit_code)
        self.message, self.exit_code = message, exit_code

    def __str__(self) -> str:
        return self.message


def run_command(prog: str, command: Callable[[], int | None]) -> int:
    """Run ``command``; a user error becomes one line on stderr and exit code 2, a stop
    by a signal (``Interrupted``) one line and 128 + the signal's number."""
    try:
        result = command()
    except Interrupted as stop:
        print(f"{prog}: {stop}", file=sys.stderr)
        return stop.exit_code
    except USER_ERRORS as error:
        message = str(error) or type(error).__name__
        print(f"{prog}: error: {message.splitlines()[0]}", file=sys.stderr)
        return 2
    return 0 if result is None else int(result)


def writable_dir(path: str | Path) -> Path:
    """``path`` as a folder that exists and can be written to (created if missing);
    ``ValueError`` naming it otherwise."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ValueError(f"cannot write to output folder {folder}: {error.strerror or error}") from None
    return folder


def existing_file(path: str | Path, what: str = "file") -> Path:
    """``path`` if it is a file; ``ValueError`` naming it otherwise."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"no such {what}: {file}")
    return file


def command_name() -> str:
    """How the running command was called, for its usage line: ``python -m package.module``
    when run as a module (argparse would show the file's name), else the script's name."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        return f"python -m {spec.name.removesuffix('.__main__')}"
    return Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"


class OneLineArgumentParser(argparse.ArgumentParser):
    """Report usage errors in one line (``--help`` still shows the full usage). Without
    ``prog``, the usage names the command as it is called (``command_name``)."""

    def __init__(self, *, prog: str | None = None, **kwargs: Any) -> None:
        super().__init__(prog=prog or command_name(), **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value

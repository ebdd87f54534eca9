"""Run folders that survive interruption.

Every trainer keeps, in its run folder, the options it was started with
(``options.json``) and, while it runs, a checkpoint of everything that decides its future
(``resume.pt``: weights, optimiser state, random generators, loop position, the metric
rows so far). Run again with the same folder and options, it continues from that
checkpoint and ends with the numbers an uninterrupted run ends with; a finished run
(``scores.json`` written) is left as it is. Checkpoints are written whole or not at all
(``pomdp_envs.files.atomic_write``): a kill at any moment leaves the previous one.

SIGTERM and SIGINT (a cluster's time limit, Ctrl-C) do not kill a trainer mid-step: the
loop notices them at its next safe point, writes a checkpoint and raises ``Interrupted``,
which the command line turns into one line and exit code 128 + the signal's number.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from pomdp_envs.cli_errors import Interrupted
from pomdp_envs.files import atomic_write, atomic_write_text, remove_partial_files

OPTIONS_FILE = "options.json"
STATE_FILE = "resume.pt"
SCORES_FILE = "scores.json"
#: What a trainer writes in its run folder; ``--fresh`` removes these and nothing else.
RUN_FILES = (OPTIONS_FILE, STATE_FILE, SCORES_FILE, "metrics.csv", "checkpoint.pt", "curve.png")
RUN_FOLDERS = ("replay", "videos")
#: Options that change how a run is executed or shown, not what it computes: they may
#: differ between the sittings of one run (a different thread count may change the last
#: bits of float sums, as torch splits reductions across threads).
EXECUTION_OPTIONS = frozenset(
    {"out_dir", "progress", "track", "threads", "workers", "cache_dir", "checkpoint_every", "fresh"}
)


def run_options(config: Any, also_ignore: Collection[str] = ()) -> dict[str, Any]:
    """The options of ``config`` (a dataclass) that decide a run's numbers, as JSON values."""
    from baselines.runlog import config_dict

    ignored = EXECUTION_OPTIONS | set(also_ignore)
    options = {key: value for key, value in config_dict(config).items() if key not in ignored}
    return json.loads(json.dumps(options, default=str))  # tuples as lists, as the file holds them


def is_finished(out_dir: Path) -> bool:
    return (Path(out_dir) / SCORES_FILE).is_file()


def prepare_runs(
    runs: Sequence[tuple[Path, Mapping[str, Any]]], fresh: bool, say: Callable[[str], None] = print
) -> None:
    """Make each ``(out_dir, options)`` folder ready for its run, all or none.

    With ``fresh``, the run files there are removed first (``say`` names them). Otherwise
    a folder holding a run with other options, or run files without options, is refused
    with a ``ValueError`` naming the fields that differ, before any folder is touched;
    the same options pass, and the run continues from (or, finished, keeps) what is there.
    """
    if not fresh:
        for out_dir, options in runs:
            _check_options(Path(out_dir), options)
    for out_dir, options in runs:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if fresh:
            existing = _run_files(out_dir)
            if existing:
                say(f"--fresh: replacing {out_dir}: {', '.join(path.name for path in existing)}")
            for path in existing:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        remove_partial_files(out_dir)
        if not (out_dir / OPTIONS_FILE).is_file():
            atomic_write_text(out_dir / OPTIONS_FILE, json.dumps(dict(options), indent=2))


def _run_files(out_dir: Path) -> list[Path]:
    existing = [out_dir / name for name in (*RUN_FILES, *RUN_FOLDERS) if (out_dir / name).exists()]
    return existing + sorted(out_dir.glob("events.out.tfevents.*"))


def _check_options(out_dir: Path, options: Mapping[str, Any]) -> None:
    options_path = out_dir / OPTIONS_FILE
    if options_path.is_file():
        earlier = json.loads(options_path.read_text())
        differ = [key for key in sorted(set(earlier) | set(options)) if earlier.get(key) != options.get(key)]
        if differ:
            changes = ", ".join(f"{key} (was {earlier.get(key)!r}, now {options.get(key)!r})" for key in differ)
            raise ValueError(
                f"{out_dir} holds a run with other options: {changes}; "
                "rerun with its options to continue it, or add --fresh to start over"
            )
    elif out_dir.is_dir():
        existing = _run_files(out_dir)
        if existing:
            raise ValueError(
                f"{out_dir} holds run files ({', '.join(p.name for p in existing)}) but no {OPTIONS_FILE}: "
                "add --fresh to replace them, or choose another output folder"
            )


def open_run(
    out_dir: Path, options: Mapping[str, Any], fresh: bool, position: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Prepare the one-run folder ``out_dir`` (``prepare_runs``); returns the scores of a
    finished run, or None and the run's checkpoint (None to start), saying which on stderr
    (``position``: the checkpoint's key of its progress, shown as "env step")."""
    prepare_runs([(out_dir, options)], fresh)
    if is_finished(out_dir):
        print(f"{out_dir}: finished earlier, kept", file=sys.stderr)
        return json.loads((Path(out_dir) / SCORES_FILE).read_text()), None
    state = load_state(out_dir)
    if state is not None:
        print(f"{out_dir}: resumed at env step {state[position]}", file=sys.stderr)
    return None, state


def save_state(out_dir: Path, state: Mapping[str, Any]) -> Path:
    """Write ``state`` as the run's checkpoint, atomically."""
    return atomic_write(Path(out_dir) / STATE_FILE, lambda handle: torch.save(dict(state), handle))


def load_state(out_dir: Path) -> dict[str, Any] | None:
    """The run's checkpoint, or None when it has none; a ``ValueError`` naming the file
    and the way out when it cannot be read."""
    path = Path(out_dir) / STATE_FILE
    if not path.is_file():
        return None
    try:
        # The run's own file, with generators, numpy arrays and env objects: not weights only.
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # truncated, corrupted, or from an incompatible version
        raise ValueError(
            f"checkpoint {path} cannot be read ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
            f"delete it to restart this run from its beginning, or rerun with --fresh"
        ) from None


def clear_state(out_dir: Path) -> None:
    """Remove the checkpoint of a run whose final files are written."""
    (Path(out_dir) / STATE_FILE).unlink(missing_ok=True)


def due(done: int, before: int, every: int) -> bool:
    """Whether a periodic checkpoint falls in ``(before, done]`` (units of progress:
    epochs, env steps); ``every`` 0 turns periodic checkpoints off."""
    return every > 0 and done // every > before // every


class StopSignals:
    """While active, SIGTERM and SIGINT ask the loop to stop instead of killing it:
    ``requested`` holds the signal, and ``stop_if_requested`` writes a checkpoint and
    raises ``Interrupted``. A second signal stops at once. With ``forward``, the signals
    are passed on to this process's child processes (workers that checkpoint themselves).
    Outside the main thread (where handlers cannot be set) it does nothing."""

    def __init__(self, forward: bool = False) -> None:
        self.forward = forward
        self.requested: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested is not None:
            raise KeyboardInterrupt  # asked twice: stop now
        self.requested = signum
        if self.forward:
            for child in multiprocessing.active_children():
                try:
                    os.kill(child.pid, signum)
                except (OSError, TypeError):  # gone already
                    pass

    def stop_if_requested(self, save: Callable[[], object], where: str) -> None:
        """If a stop was asked for: ``save()``, then raise ``Interrupted`` naming ``where``."""
        if self.requested is None:
            return
        save()
        raise interrupted(self.requested, where)

    def raise_if_requested(self, where: str) -> None:
        """Raise ``Interrupted`` if a stop was asked for (the children saved their work)."""
        if self.requested is not None:
            raise interrupted(self.requested, where)


def interrupted(signum: int, where: str) -> Interrupted:
    name = signal.Signals(signum).name
    return Interrupted(
        f"stopped by {name}; checkpoint in {where}: run the same command again to continue", 128 + signum
    )


def generator_states() -> dict[str, Any]:
    """The global random generators torch draws from when none is given."""
    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_generator_states(states: Mapping[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])

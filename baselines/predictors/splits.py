"""The predictors' datasets: the train, test and generalisation splits of each env,
collected as ``baselines.predictors.envs`` describes and cached as ``.npz``, keyed by the
code that made them.

The cache is shared by every run on the machine. A file is written whole or not at all,
processes that need the same split at once agree on one collector (the others wait and
read its file), and a file that cannot be read is collected again.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import zipfile
from pathlib import Path

from baselines.predictors import envs as predictor_envs
from pomdp_envs.datasets import Sequences
from pomdp_envs.files import exclusive_lock

SPLITS = ("train", "test", "generalisation")
# Seeds far apart so that no split shares an episode seed with another.
_SPLIT_SEED_OFFSET = {"train": 0, "test": 10_000_000, "generalisation": 20_000_000}


def default_cache_dir() -> Path:
    return Path(os.environ.get("POMDP_ENVS_CACHE", Path.home() / ".cache" / "pomdp_envs"))


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of the package version and of every source file that shapes a dataset (the
    envs, their dynamics and policies, the collectors): cached data is keyed by it, so a
    change to any of them collects afresh instead of reusing stale sequences."""
    import pomdp_envs

    root = Path(pomdp_envs.__file__).parent
    here = Path(__file__).parent
    files = sorted(
        [
            *root.glob("core/*.py"),
            *root.glob("dynamics/*.py"),
            *root.glob("envs/*.py"),
            *root.glob("worlds/*.py"),
            *root.glob("wrappers/*.py"),
            *root.glob("policies/*.py"),
            root / "datasets.py",
            here / "data.py",
            here / "envs.py",
            here / "splits.py",
        ]
    )
    digest = hashlib.sha1(pomdp_envs.__version__.encode())
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:10]


def split_path(
    env: str, split: str, num_sequences: int, seed: int = 0, cache_dir: str | os.PathLike | None = None
) -> Path:
    """Where ``load_split`` caches that split."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return cache / f"{env}-{split}-n{num_sequences}-seed{seed}-{code_fingerprint()}.npz"


def load_split(
    env: str, split: str, num_sequences: int, seed: int = 0, cache_dir: str | os.PathLike | None = None
) -> Sequences:
    """The ``split`` of ``env`` with ``num_sequences`` sequences, from cache or collected."""
    table = predictor_envs.PREDICTOR_ENVS  # read at call time: a table extended later counts
    if env not in table:
        raise ValueError(f"unknown env {env!r}; choose from {sorted(table)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")
    path = split_path(env, split, num_sequences, seed, cache_dir)
    cached = _read(path, say=False)  # the common case takes no lock
    if cached is not None:
        return cached
    with exclusive_lock(path):
        cached = _read(path, say=True)  # another process may have collected it while this one waited
        if cached is not None:
            return cached
        sequences = table[env].collect(split, num_sequences, seed + _SPLIT_SEED_OFFSET[split])
        sequences.save(path)
    return sequences


def _read(path: Path, say: bool) -> Sequences | None:
    """The cached sequences, or None when the file is missing or cannot be read (with
    ``say``, said in one line: it is collected again)."""
    if not path.exists():
        return None
    try:
        return Sequences.load(path)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as error:
        if say:
            name = type(error).__name__
            print(f"cached dataset {path} is unreadable ({name}); collecting it again", file=sys.stderr)
        return None

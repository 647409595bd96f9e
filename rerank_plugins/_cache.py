"""Caches: a bounded in-memory score cache, and where exported models live on disk.

:class:`ScoreCache` remembers raw scores keyed by everything that changes a score (the scorer's
identity: model, runtime, truncation; the query; the passage text), so a repeated query or a
repeated passage costs nothing. A hit returns exactly the float that was computed the first time.

:func:`cache_dir` is the folder for on-disk artefacts (exported ONNX models): ``cache_dir=...``
if given, else ``$RERANK_PLUGINS_CACHE``, else the user's cache folder
(``$XDG_CACHE_HOME/rerank-plugins``, ``~/.cache/rerank-plugins``, or ``%LOCALAPPDATA%`` on
Windows).
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path

from rerank_plugins._checks import check_int

__all__ = ["ScoreCache", "cache_dir"]

CACHE_ENV = "RERANK_PLUGINS_CACHE"


def cache_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The folder for rerank-plugins' on-disk caches (not created here).

    Args:
        override: A folder to use instead of the default.

    Example:
        >>> cache_dir("/tmp/my-cache").as_posix()
        '/tmp/my-cache'
    """
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "rerank-plugins" / "Cache"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base_dir = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base_dir / "rerank-plugins"


class ScoreCache:
    """A thread-safe, bounded (least recently used) map from a score's key to its raw score.

    Args:
        maxsize: Most entries kept; ``0`` disables the cache (every lookup misses).

    Example:
        >>> cache = ScoreCache(maxsize=2)
        >>> cache.put(("m", "q", "a"), 1.5)
        >>> cache.get(("m", "q", "a"))
        1.5
        >>> cache.get(("m", "q", "b")) is None
        True
    """

    def __init__(self, maxsize: int) -> None:
        check_int("ScoreCache", "maxsize", maxsize, 0, error=ValueError)
        self.maxsize = maxsize
        self._data: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is cached (counts neither a hit nor a miss; the order is kept)."""
        with self._lock:
            return key in self._data

    def get(self, key: Hashable) -> float | None:
        """The cached raw score, or ``None`` (and the entry becomes the most recently used)."""
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: float) -> None:
        """Remember ``value``, evicting the least recently used entry when full."""
        if self.maxsize == 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry and reset the counters."""
        with self._lock:
            self._data.clear()
            self.hits = 0
            self.misses = 0

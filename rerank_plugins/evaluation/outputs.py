"""Output folders of the command line, checked before any work starts.

The rule for every command that writes results (``eval --out``, ``demo --out``, ``train
--output``): the folder is checked before the first model loads, so a long run never ends in a
traceback about where it wanted to write, and an earlier result is never overwritten silently.

- A path that is a file, or lies under a file, or cannot be created or written, is refused at
  once with one line naming it.
- A folder that already holds the command's results is refused, naming ``--overwrite`` (which
  replaces them) and the alternative of a new folder.
- A file that still cannot be written at the end (a full disk) is one line naming the file.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rerank_plugins._exceptions import ConfigurationError

__all__ = ["REPORT_FILES", "clear_earlier", "prepare_output", "write_error"]

REPORT_FILES = ("report.txt", "report.json", "report.md")
"""What ``eval`` and ``demo`` write into ``--out`` (with the plots of ``report.md``)."""


def prepare_output(
    folder: str | Path,
    *,
    flag: str,
    holds: Sequence[str],
    what: str,
    overwrite: bool = False,
    resume: bool = False,
) -> Path:
    """Check an output folder before any work, or refuse with one line.

    Nothing is created or removed here: the folder is made when the results are written, so a
    run refused for another reason leaves nothing behind. Writability is probed with a
    temporary file in the folder, or in its nearest existing parent.

    Args:
        folder: The folder asked for.
        flag: The option that named it (``--out``), for the message.
        holds: The names (files or folders) an earlier run of the command leaves in it.
        what: What those are, for the message (``"a report"``).
        overwrite: An earlier run's results may be replaced.
        resume: An earlier run is expected and continued (``train --resume``).

    Returns:
        The folder.

    Raises:
        ConfigurationError: a file in the way, a place that cannot be written, or an earlier
            run's results without ``overwrite``.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "run"
        >>> prepare_output(out, flag="--out", holds=REPORT_FILES, what="a report") == out
        True
        >>> out.exists()
        False
    """
    path = Path(folder)
    existing = _nearest_folder(path, flag)
    earlier = [name for name in holds if (path / name).exists()]
    if earlier and not overwrite and not resume:
        raise ConfigurationError(
            f"{flag} {path} already holds {what} ({', '.join(earlier)}); pass --overwrite to "
            f"replace it, or name a new folder."
        )
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".rerank-plugins-write-check-"):
            pass
    except OSError as exc:
        raise ConfigurationError(
            f"{flag} {path} cannot be written ({exc.strerror or exc}); name a folder you can "
            f"write to."
        ) from None
    return path


def _nearest_folder(path: Path, flag: str) -> Path:
    """``path``, or its nearest existing parent; refused if that is a file."""
    for above in (path, *path.parents):
        if above.exists():
            if not above.is_dir():
                where = "is a file" if above == path else f"lies under {above}, which is a file"
                raise ConfigurationError(
                    f"{flag} {path} {where}; name a folder (it is created if missing)."
                )
            return above
    return path


def clear_earlier(folder: str | Path, holds: Sequence[str]) -> list[str]:
    """Remove what an earlier run left (the entries of ``holds`` only; nothing else in the
    folder is touched), for ``--overwrite``; returns the names removed."""
    path = Path(folder)
    removed = []
    for name in holds:
        entry = path / name
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        elif entry.exists() or entry.is_symlink():
            entry.unlink()
        else:
            continue
        removed.append(name)
    return removed


def write_error(exc: OSError, fallback: str | Path) -> ConfigurationError:
    """One line for a file that could not be written, naming it."""
    name = exc.filename if exc.filename is not None else fallback
    return ConfigurationError(f"could not write {name}: {exc.strerror or exc}.")

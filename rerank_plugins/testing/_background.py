"""The lifecycle the test servers share: ``start()`` / ``stop()``, and a ``with`` block."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import TypeVar

__all__ = ["Background"]

_B = TypeVar("_B", bound="Background")


class Background(ABC):
    """Something that serves from a background thread while a ``with`` block runs."""

    @abstractmethod
    def start(self: _B) -> _B:
        """Start serving (idempotent); returns ``self``."""

    @abstractmethod
    def stop(self) -> None:
        """Stop serving and release what it holds."""

    def __enter__(self: _B) -> _B:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

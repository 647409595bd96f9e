"""Argument checks shared by every public constructor and function.

One place says what "an integer" and "a number" mean here: ``True`` is not an integer, and a
bad value is a :class:`~rerank_plugins.ConfigurationError` whose message names the argument,
the value received and what to pass instead.

>>> check_int("Demo", "batch_size", 8)
8
>>> check_int("Demo", "batch_size", True)
Traceback (most recent call last):
...
rerank_plugins._exceptions.ConfigurationError: Demo got batch_size=True; pass an integer >= 1.
>>> check_number("Demo", "timeout_s", 0.5, above=0)
0.5
"""

from __future__ import annotations

from typing import TypeGuard

from ._exceptions import ConfigurationError

__all__ = ["check_bool", "check_int", "check_number", "is_int", "is_number"]


def is_int(value: object) -> TypeGuard[int]:
    """``True`` for an ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[int | float]:
    """``True`` for an ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_int(
    who: str,
    name: str,
    value: object,
    minimum: int = 1,
    *,
    maximum: int | None = None,
    allow_none: bool = False,
    error: type[Exception] = ConfigurationError,
) -> int | None:
    """Return ``value`` if it is an integer in ``[minimum, maximum]``; raise ``error`` if not."""
    if is_int(value) and value >= minimum and (maximum is None or value <= maximum):
        return value
    if value is None and allow_none:
        return None
    wanted = f"an integer >= {minimum}" if maximum is None else f"an integer {minimum}..{maximum}"
    raise _refused(error, f"{who} got {name}={value!r}", wanted, allow_none)


def check_number(
    who: str,
    name: str,
    value: object,
    *,
    above: float | None = None,
    minimum: float | None = None,
    allow_none: bool = False,
    error: type[Exception] = ConfigurationError,
) -> float | None:
    """Return ``value`` if it is a number ``> above`` (or ``>= minimum``); else raise ``error``."""
    number = value if is_number(value) and value == value else None  # NaN is not a number
    if (
        number is not None
        and (above is None or number > above)
        and (minimum is None or number >= minimum)
    ):
        return number
    if value is None and allow_none:
        return None
    if above is not None:
        wanted = "a positive number" if above == 0 else f"a number > {above:g}"
    elif minimum is not None:
        wanted = f"a number >= {minimum:g}"
    else:
        wanted = "a number"
    raise _refused(error, f"{who} got {name}={value!r}", wanted, allow_none)


def _refused(error: type[Exception], got: str, wanted: str, allow_none: bool) -> Exception:
    """The error for a refused value: what was got, and what to pass instead."""
    return error(f"{got}; pass {wanted}{' or None' if allow_none else ''}.")


def check_bool(who: str, name: str, value: object) -> bool:
    """Return ``value`` if it is ``True`` or ``False``; raise a ``ConfigurationError`` if not."""
    if not isinstance(value, bool):
        raise ConfigurationError(f"{who} got {name}={value!r}; pass True or False.")
    return value

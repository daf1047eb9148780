"""The public API's arguments, checked where they enter (``@checked`` on each ``Project`` method):
a value of the wrong type is a UsageError (exit 2) naming the argument and the type it needs,
never a TypeError or AttributeError from deep inside, nor a string taken as the list of its
characters. The value itself is not shown (it may be anything, a secret too), only its type.

A spec is a type (``int`` refuses a bool; ``Path`` takes a str too), ``None``, a tuple of specs
(any of them), ``Many(spec)`` (a list or tuple of those, never a str), ``CALLABLE``, or a
``Kind(predicate, name)`` for a class that is imported only when needed.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bqmanage.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Many:
    item: Any


@dataclass(frozen=True)
class Kind:
    fits: Callable[[Any], bool]
    name: str


CALLABLE = Kind(callable, "a callable")


def fits(value: Any, spec: Any) -> bool:
    if spec is None:
        return value is None
    if isinstance(spec, tuple):
        return any(fits(value, s) for s in spec)
    if isinstance(spec, Many):
        return isinstance(value, list | tuple) and all(fits(v, spec.item) for v in value)
    if isinstance(spec, Kind):
        return spec.fits(value)
    if spec is Path:
        return isinstance(value, str | os.PathLike)
    if spec in (int, float):
        return isinstance(value, spec) and not isinstance(value, bool)
    if spec is dt.date:  # a datetime is a date to isinstance, and cannot be compared with one
        return isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    return isinstance(value, spec)


def as_given(value: Any, spec: Any) -> Any:
    """The value the function gets: a path given as a str (which ``Path`` admits) becomes a Path,
    as the code below the API reads paths with Path's methods."""
    if isinstance(spec, tuple):
        spec = next((s for s in spec if fits(value, s)), None)
    if spec is Path:
        return Path(value)
    if isinstance(spec, Many) and spec.item is Path:
        return type(value)(Path(v) for v in value)
    return value


def describe(spec: Any) -> str:
    if spec is None:
        return "None"
    if isinstance(spec, tuple):
        return " or ".join(describe(s) for s in spec)
    if isinstance(spec, Many):
        return f"a list of ({describe(spec.item)})"
    if isinstance(spec, Kind):
        return spec.name
    named = {str: "a str", bool: "a bool", int: "an int", Path: "a path (str or Path)", dt.date: "a date (not a datetime)"}
    return named.get(spec, f"a {spec.__name__}")


def check(where: str, name: str, value: Any, spec: Any) -> None:
    if not fits(value, spec):
        raise UsageError(f"{where}: {name} must be {describe(spec)}, not {type(value).__name__}")


def checked(**specs: Any) -> Callable[[F], F]:
    """Check the arguments named in ``specs`` (those not given keep their defaults) before the call."""

    def wrap(function: F) -> F:
        where = function.__qualname__
        signature: list[Any] = []

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            if not signature:
                import inspect

                signature.append(inspect.signature(function))
            try:
                bound = signature[0].bind(*args, **kwargs)
            except TypeError as exc:  # a missing, unknown or extra argument
                raise UsageError(f"{where}: {exc}") from None
            for name, value in bound.arguments.items():
                if name in specs:
                    check(where, name, value, specs[name])
                    bound.arguments[name] = as_given(value, specs[name])
            return function(*bound.args, **bound.kwargs)

        return call  # type: ignore[return-value]

    return wrap

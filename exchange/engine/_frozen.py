"""Fast construction of frozen slots dataclasses on the matching hot path.

A frozen dataclass's generated `__init__` stores each field with `object.__setattr__(self, name,
value)`, the slow generic path: on CPython 3.11 it costs about 250 ns per field, so a ten-field event
takes 2-3 µs to build, more than matching the order that produced it. The engine builds its hot
objects (fills, level changes, acceptances, results, commands from the factories) through a
*draft*: a plain slots class with exactly the same slots, whose attributes are stored with the fast
slot path, after which the instance's class is switched to the frozen dataclass. CPython allows the
switch only between classes with identical layouts (same base, same slots, in the same order), so
the result is an ordinary instance of the frozen class: equal to, hashing like and as immutable as
one built through its constructor (tests check each builder against the constructor).

Public constructors stay the normal dataclass ones; builders are an internal optimisation.

Compiled with mypyc (`COMPILED`), the classes are native: their layouts differ from any Python
draft, so the switch is impossible, and unnecessary: the hot classes declare their own `__init__`
(`init=False`), which mypyc turns into direct stores, so calling the constructor is the fast path.
The engine's hot spots test their module's `COMPILED` and build through the constructor there.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

_Class = TypeVar("_Class", bound=type[Any])

try:
    # Read by mypyc at compile time (hints about a class's memory management; see `events`).
    from mypy_extensions import mypyc_attr
except ImportError:  # a dev dependency, like mypyc itself: without it, the engine runs interpreted

    def mypyc_attr(*flags: str, **settings: object) -> Callable[[_Class], _Class]:  # type: ignore[no-redef,misc]
        return _unchanged

    def _unchanged(cls: _Class) -> _Class:
        return cls


def compiled(module_file: str) -> bool:
    """Whether the module at `module_file` (its `__file__`) was loaded compiled by mypyc.

    Each module asks for itself: the engine's build compiles most modules but not all
    (`exchange/engine/__init__.py`), and a module built by mypyc is an extension module."""
    return module_file.endswith((".so", ".pyd"))


def draft_class(frozen: type[Any]) -> type[Any]:
    """The mutable twin of the frozen slots dataclass `frozen` (same base and slots); for a class
    compiled by mypyc, `frozen` itself (never used as a draft: build through the constructor)."""
    if compiled(sys.modules[frozen.__module__].__file__ or ""):
        return frozen
    if frozen.__bases__ != (object,) or "__slots__" not in frozen.__dict__:
        raise TypeError(f"{frozen.__name__} must be a slots dataclass deriving from object")
    draft = type(
        f"{frozen.__name__}Draft",
        (),
        {
            "__slots__": frozen.__slots__,
            "__module__": frozen.__module__,
            "__qualname__": f"{frozen.__name__}Draft",
        },
    )
    # Prove at import time that CPython accepts the class switch, not on the first fill.
    probe: Any = object.__new__(draft)
    probe.__class__ = frozen
    return draft


def interpreted(cls: _Class) -> _Class:
    """Keep `cls` an ordinary Python class when compiled (mypyc makes a class native unless it has
    a decorator it does not know). For events that carry a refused command's fields as received:
    a native class would raise on a field of the wrong type instead of reporting the refusal."""
    return cls

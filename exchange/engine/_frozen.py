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
"""

from __future__ import annotations

from typing import Any


def draft_class(frozen: type[Any]) -> type[Any]:
    """The mutable twin of the frozen slots dataclass `frozen` (same base and slots)."""
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
    probe = object.__new__(draft)
    probe.__class__ = frozen
    return draft

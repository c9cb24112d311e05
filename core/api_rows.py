"""Model instances from hand-written SQL, for the few reads on every signed API call.

Compiling an ORM query costs more CPU than PostgreSQL spends answering it: a `select_related`
look-up by a unique key took ~0.5 ms of the web process per call, the same read as plain SQL
~0.05 ms (docs/PERFORMANCE.md, REST API). The column list and the value converters of a model
are worked out once; each row then becomes an instance through `Model.from_db`, exactly what the
ORM itself builds, so callers get ordinary model objects.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models

Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class RowShape:
    """A model's concrete columns in `_meta` order and how to turn their values into a model."""

    model: type[models.Model]
    columns: tuple[str, ...]
    attnames: list[str]
    converters: tuple[tuple[int, Any, tuple[Converter, ...]], ...]

    @property
    def width(self) -> int:
        return len(self.columns)

    def select(self, alias: str) -> str:
        """The select list for this model under a table alias."""
        return ", ".join(f'{alias}."{column}"' for column in self.columns)

    def instance(self, row: Sequence[Any], start: int = 0) -> Any:
        """The model instance held in `row[start:start + width]`."""
        values = list(row[start : start + self.width])
        connection = connections[DEFAULT_DB_ALIAS]
        for index, expression, converters in self.converters:
            for converter in converters:
                values[index] = converter(values[index], expression, connection)
        return self.model.from_db(DEFAULT_DB_ALIAS, self.attnames, values)


def row_text(model: type[models.Model], alias: str, *, exclude: Sequence[str] = ()) -> str:
    """An expression giving a row of `model` (under `alias`) as one text, for "is this row still
    what I read?" checks (exchange/services/orders.py `SeenRows`): every concrete column but
    `exclude`, so any later column takes part without anyone remembering to add it."""
    columns = ", ".join(
        f'{alias}."{field.column}"' for field in model._meta.concrete_fields if field.column not in exclude
    )
    return f"ROW({columns})::text"


@functools.cache
def row_shape(model: type[models.Model]) -> RowShape:
    connection = connections[DEFAULT_DB_ALIAS]
    fields = list(model._meta.concrete_fields)
    converters = []
    for index, field in enumerate(fields):
        expression = field.get_col(model._meta.db_table)
        found = tuple(connection.ops.get_db_converters(expression)) + tuple(
            field.get_db_converters(connection)
        )
        if found:
            converters.append((index, expression, found))
    return RowShape(
        model=model,
        columns=tuple(field.column for field in fields),
        attnames=[field.attname for field in fields],
        converters=tuple(converters),
    )

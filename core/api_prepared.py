"""Prepared statements for the few statements every signed order call runs.

Django's psycopg backend binds parameters on the client (`ClientCursor`): each statement reaches
PostgreSQL as new text, to be parsed and planned every time. For the order statement (one large
CTE) planning alone took about as long as executing it (EXPLAIN ANALYZE: 0.36 ms planning,
0.39 ms execution; docs/PERFORMANCE.md, REST API round 6). A cursor from `prepared_cursor` binds
server-side and has psycopg prepare each statement on its connection the first time it runs
there; every later run sends only the name and the values. Pooled connections keep their
prepared statements (the pool does not reset sessions), psycopg keeps at most `prepared_max` per
connection, and its cache key includes the parameters' types.

Server-side binding types every parameter: a SQL text that must also work with a NULL or a bare
string in a select list casts its parameters (see `exchange/services/orders.py`).
`API_PREPARED_STATEMENTS = False` (env) gives Django's ordinary cursor, for A/B runs.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings
from django.db import connection
from django.db.backends.utils import CursorWrapper


class _PreparingCursor(psycopg.Cursor[Any]):
    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Any:
        return super().execute(query, params, prepare=True, binary=binary)


def prepared_cursor() -> CursorWrapper:
    """A cursor on the default connection, used as `connection.cursor()` is (a context manager;
    statements are logged and wrapped as usual), whose statements run prepared."""
    if not settings.API_PREPARED_STATEMENTS:
        return connection.cursor()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = _PreparingCursor(connection.connection)
    wrapped: CursorWrapper = (
        connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    )
    return wrapped

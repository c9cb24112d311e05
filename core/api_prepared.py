"""Prepared statements for the few statements every signed order call runs.

Django's psycopg backend binds parameters on the client (`ClientCursor`): each statement reaches
PostgreSQL as new text, to be parsed and planned every time. For the order statement (one large
CTE) planning alone took about as long as executing it (EXPLAIN ANALYZE: 0.36 ms planning,
0.39 ms execution; docs/PERFORMANCE.md, REST API round 6). A cursor from `prepared_cursor` binds
server-side and has psycopg prepare each statement on its connection the first time it runs
there; every later run sends only the name and the values. Django sets `prepare_threshold` to
None, which turns psycopg's prepared statements off altogether (even `prepare=True`), so the
connection's threshold is set here; Django's own cursors bind client-side and never prepare.
Measured on one connection, PostgreSQL CPU per operation: API key read 0.17 -> 0.06 ms, market
read 0.23 -> 0.08, placement 0.95 -> 0.38, cancel 0.49 -> 0.30. Pooled connections keep their
prepared statements (the pool does not reset sessions), psycopg keeps at most `prepared_max` per
connection, and its cache key includes the parameters' types. Behind a transaction-mode pooler
without prepared-statement support, set `API_PREPARED_STATEMENTS=false`.

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

# psycopg keeps its conversion of a query's text (placeholders to $n) only for queries up to 4,096
# bytes with up to 50 parameters; the order statement is ~5,000 bytes with ~60, so each call
# parsed its text again: ~6 % of the web process's CPU per order (docs/PERFORMANCE.md, REST API
# round 8). Raised for the process; psycopg's cache stays an LRU of 128 entries.
QUERY_CACHE_MAX_LENGTH = 16_384
QUERY_CACHE_MAX_PARAMS = 256
_queries = getattr(psycopg, "_queries", None)
if _queries is not None and hasattr(_queries, "MAX_CACHED_STATEMENT_LENGTH"):
    _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, QUERY_CACHE_MAX_LENGTH)
    _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, QUERY_CACHE_MAX_PARAMS)


class _PreparingCursor(psycopg.Cursor[Any]):
    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Any:
        return super().execute(query, params, prepare=True, binary=binary)


class _LoggedQuery:
    """What Django's query log reads back (`ops.last_executed_query`: `cursor._query.query`),
    which psycopg leaves unset for a prepared statement: the statement's text."""

    def __init__(self, sql: str) -> None:
        self.query = sql.encode()


class _LoggingPreparingCursor(_PreparingCursor):
    """For a connection whose queries are logged (DEBUG, tests counting queries)."""

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Any:
        result = super().execute(query, params, binary=binary)
        self._query = _LoggedQuery(str(query))  # type: ignore[assignment]
        return result


def prepared_cursor() -> CursorWrapper:
    """A cursor on the default connection, used as `connection.cursor()` is (a context manager;
    statements are logged and wrapped as usual), whose statements run prepared."""
    if not settings.API_PREPARED_STATEMENTS:
        return connection.cursor()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    if connection.connection.prepare_threshold is None:
        # Django turns psycopg's prepared statements off on its connections (for transaction
        # poolers such as PgBouncer); its own cursors bind client-side and never prepare, so
        # turning them back on affects only this cursor's statements.
        connection.connection.prepare_threshold = 0
    if connection.queries_logged:
        return connection.make_debug_cursor(_LoggingPreparingCursor(connection.connection))  # type: ignore[no-any-return]
    wrapped: CursorWrapper = connection.make_cursor(_PreparingCursor(connection.connection))
    return wrapped

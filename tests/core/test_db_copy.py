"""Array literals and COPY rows built by joining text: PostgreSQL reads back exactly the values passed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from core.db_copy import array_literal, copy_escape, copy_rows, copy_text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sql_type", "values"),
    [
        ("bigint", [1, -2, 9_223_372_036_854_775_807, None, 0]),
        (
            "numeric",
            [Decimal("1.50"), Decimal("-0.000000000000000001"), Decimal("123456789012345678901234"), None],
        ),
        ("boolean", [True, False, True]),
        ("varchar", ["New", "PartiallyFilled", None, "NULL", "null", "a b", 'x"y\\z', "", "{,}", "é"]),
        ("bigint", []),
    ],
)
def test_an_array_literal_reads_back_as_the_values_it_was_built_from(sql_type, values):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{sql_type}[]", [array_literal(values)])
        assert cursor.fetchone()[0] == values


@pytest.mark.django_db
def test_copy_text_stores_what_copy_rows_stores():
    """The hot paths format COPY rows themselves (f-strings, `str` of each value): the stored rows
    must equal psycopg's own dumping of the same values."""
    moment = datetime(2026, 11, 25, 15, 55, 31, 123456, tzinfo=UTC)
    rows = [
        (
            1,
            Decimal("20.50"),
            Decimal("1E+2"),
            Decimal("0E-8"),
            Decimal("-0.000000000000000001"),
            moment,
            "Bid",
        ),
        (
            2,
            Decimal("123456789012345678.12345678"),
            Decimal(0),
            Decimal("7"),
            Decimal("1.5"),
            moment,
            'a\tb\\c\nd"é',
        ),
    ]
    columns = ("n", "a", "b", "c", "d", "t", "s")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE copied (n bigint, a numeric, b numeric, c numeric, d numeric,"
            " t timestamptz, s varchar)"
        )
        copy_rows("copied", columns, rows)
        copy_text(
            "copied",
            columns,
            "".join("\t".join([*map(str, row[:-1]), copy_escape(row[-1])]) + "\n" for row in rows),
        )
        cursor.execute("SELECT n, a, b, c, d, t, s, a::text, b::text, c::text FROM copied ORDER BY n, ctid")
        stored = cursor.fetchall()
    assert stored[0] == stored[1]
    assert stored[2] == stored[3]
    assert stored[0][:7] == rows[0]
    assert stored[2][:7] == rows[1]

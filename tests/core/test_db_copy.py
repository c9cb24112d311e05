"""Array literals built by joining text: PostgreSQL reads back exactly the values passed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from core.db_copy import array_literal


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

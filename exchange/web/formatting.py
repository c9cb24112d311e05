"""Numbers as the pages show them: fixed decimals per market or asset, never a float."""

from __future__ import annotations

from decimal import Decimal

from core.money import render


def places(increment: Decimal) -> int:
    """Decimals a multiple of `increment` needs: 0.01 -> 2, 0.5 -> 1, 25 -> 0."""
    exponent = increment.normalize().as_tuple().exponent
    return max(0, -int(exponent))


def fixed(value: Decimal | None, decimals: int) -> str:
    """`value` with exactly `decimals` decimals and no thousands separator, as the trading page's
    JavaScript renders it (static/js/decimal.js), so server and live rows look the same."""
    return "" if value is None else render(value, decimals)


def grouped(value: Decimal, decimals: int) -> str:
    """With thousands separators, for summary tables (markets list)."""
    return f"{value:,.{decimals}f}"

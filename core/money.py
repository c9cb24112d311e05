"""Exact money: one quantise function and the Decimal context every amount goes through."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal, InvalidOperation

__all__ = ["ROUND_DOWN", "ROUND_HALF_EVEN", "ROUND_UP", "Decimal", "parse_decimal", "quantise", "render"]

# DecimalField(max_digits=38, decimal_places=18) everywhere amounts are stored.
MAX_DIGITS = 38
DECIMAL_PLACES = 18


def quantise(amount: Decimal, step: Decimal, rounding: str) -> Decimal:
    """Round `amount` to a multiple of `step` (0.01, 0.5, 1, 25...) with an explicit rounding mode.

    The caller chooses the mode: in the exchange's favour only where documented (fees up, credits
    to users down), half-even nowhere money moves.
    """
    if step <= 0:
        raise ValueError("step must be positive")
    units = (amount / step).quantize(Decimal(1), rounding=rounding)
    return (units * step).quantize(step) if step.as_tuple().exponent < 0 else units * step


def parse_decimal(value: object) -> Decimal:
    """A finite Decimal from an API value (string or int); ValueError for anything else.

    Floats are refused on purpose: a float has already lost the amount the client meant.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError("expected a decimal string")
    try:
        result = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError) as exc:
        raise ValueError("expected a decimal string") from exc
    if not result.is_finite():
        raise ValueError("expected a finite decimal")
    return result


def render(amount: Decimal, places: int | None = None) -> str:
    """Decimal to the API's string form: fixed-point, no exponent, trailing zeros trimmed unless
    `places` fixes the number of decimals."""
    if places is not None:
        return f"{amount.quantize(Decimal(1).scaleb(-places)):f}"
    text = f"{amount:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text

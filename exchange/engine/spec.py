"""Exact conversion between the API's Decimals and the engine's integers, for one market.

- price    = ticks x tick_size
- quantity = lots x step_size
- quote    = notional units x (tick_size x step_size); a fill of `lots` at `ticks` is worth
  `ticks * lots` notional units, so quote amounts stay exact integers inside the engine.

Conversions into the engine refuse anything that is not an exact multiple of its unit, and refuse
floats and non-finite values: a float has already lost the amount the client meant, and silently
rounding a price or a size would trade something the client did not ask for. The one exception is
`quote_to_units_floor`, for funds reserved by the sequencer: rounding those down can only make the
engine spend less than was reserved.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache


class SpecError(ValueError):
    """A value that cannot be converted exactly (wrong type, not finite, not a multiple)."""


@dataclass(frozen=True, slots=True)
class MarketSpec:
    tick_size: Decimal
    step_size: Decimal

    def __post_init__(self) -> None:
        for name in ("tick_size", "step_size"):
            value = getattr(self, name)
            if type(value) is not Decimal or not value.is_finite() or value <= 0:
                raise SpecError(f"{name} must be a positive finite Decimal, not {value!r}")

    @property
    def quote_unit(self) -> Decimal:
        """The quote amount of one notional unit (one tick times one lot)."""
        return _quote_unit(self.tick_size, self.step_size)

    def price_to_ticks(self, price: Decimal) -> int:
        return _units(price, self.tick_size, "price", "tick size")

    def ticks_to_price(self, ticks: int) -> Decimal:
        return _scale(ticks, self.tick_size)

    def quantity_to_lots(self, quantity: Decimal) -> int:
        return _units(quantity, self.step_size, "quantity", "step size")

    def lots_to_quantity(self, lots: int) -> Decimal:
        return _scale(lots, self.step_size)

    def quote_to_units(self, quote: Decimal) -> int:
        return _units(quote, self.quote_unit, "quote amount", "tick size x step size")

    def quote_to_units_floor(self, quote: Decimal) -> int:
        """Whole notional units in `quote`, rounded down (for reserved funds only)."""
        numerator, denominator = _ratio(quote, "quote amount")
        unit_numerator, unit_denominator = self.quote_unit.as_integer_ratio()
        return (numerator * unit_denominator) // (denominator * unit_numerator)

    def units_to_quote(self, units: int) -> Decimal:
        return _scale(units, self.quote_unit)


@lru_cache(maxsize=256)
def _quote_unit(tick_size: Decimal, step_size: Decimal) -> Decimal:
    # Cached: the settlement path converts every fill's amounts, and a market has one unit.
    return _product(tick_size, step_size)


@lru_cache(maxsize=256)
def _unit_parts(unit: Decimal) -> tuple[int, int]:
    """(integer coefficient, exponent) of a unit: 0.001 -> (1, -3)."""
    _, digits, exponent = unit.as_tuple()
    return int("".join(map(str, digits))), exponent  # type: ignore[return-value]


def _product(left: Decimal, right: Decimal) -> Decimal:
    _, left_digits, left_exponent = left.as_tuple()
    _, right_digits, right_exponent = right.as_tuple()
    coefficient = int("".join(map(str, left_digits))) * int("".join(map(str, right_digits)))
    return Decimal(f"{coefficient}E{left_exponent + right_exponent}")  # type: ignore[operator]


def _ratio(value: object, what: str) -> tuple[int, int]:
    if type(value) is not Decimal:
        raise SpecError(f"{what} must be a Decimal, not {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise SpecError(f"{what} must be finite, not {value}")
    return value.as_integer_ratio()


def _units(value: object, unit: Decimal, what: str, unit_name: str) -> int:
    # Integer arithmetic on exact ratios: no Decimal context precision can round a non-multiple
    # into a multiple.
    numerator, denominator = _ratio(value, what)
    unit_numerator, unit_denominator = unit.as_integer_ratio()
    units, remainder = divmod(numerator * unit_denominator, denominator * unit_numerator)
    if remainder:
        raise SpecError(f"{what} {value} is not a multiple of the {unit_name} {unit.normalize()}")
    return units


def _scale(units: int, unit: Decimal) -> Decimal:
    if type(units) is not int:
        raise SpecError(f"expected an integer count of units, not {units!r}")
    # Built from the exact digits rather than `units * unit`, which rounds to the context's
    # precision (28 digits) on large values.
    coefficient, exponent = _unit_parts(unit)
    return Decimal(f"{units * coefficient}E{exponent}")

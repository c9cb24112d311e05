"""MarketSpec: exact Decimal <-> integer conversions at the engine's edges."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange.engine.spec import MarketSpec, SpecError

SPEC = MarketSpec(tick_size=Decimal("0.01"), step_size=Decimal("0.001"))


def test_prices_and_quantities_convert_both_ways_exactly():
    assert SPEC.price_to_ticks(Decimal("101.25")) == 10125
    assert SPEC.ticks_to_price(10125) == Decimal("101.25")
    assert SPEC.quantity_to_lots(Decimal("1.5")) == 1500
    assert SPEC.lots_to_quantity(1500) == Decimal("1.500")
    assert SPEC.price_to_ticks(Decimal("1E+2")) == 10000


def test_a_quote_unit_is_one_tick_times_one_lot():
    assert SPEC.quote_unit == Decimal("0.00001")
    # 3 lots (0.003) at 10125 ticks (101.25) cost 0.30375 quote.
    assert SPEC.units_to_quote(10125 * 3) == Decimal("0.30375")
    assert SPEC.quote_to_units(Decimal("50")) == 5_000_000


@pytest.mark.parametrize(
    ("convert", "value", "message"),
    [
        (SPEC.price_to_ticks, Decimal("101.255"), "not a multiple of the tick size 0.01"),
        (SPEC.quantity_to_lots, Decimal("0.0005"), "not a multiple of the step size 0.001"),
        (SPEC.quote_to_units, Decimal("0.000001"), "not a multiple"),
        (SPEC.price_to_ticks, 101.25, "must be a Decimal, not float"),
        (SPEC.price_to_ticks, "101.25", "must be a Decimal"),
        (SPEC.price_to_ticks, Decimal("NaN"), "finite"),
        (SPEC.quantity_to_lots, Decimal("Infinity"), "finite"),
    ],
)
def test_values_that_do_not_convert_exactly_are_refused(convert, value, message):
    with pytest.raises(SpecError, match=message):
        convert(value)


def test_reserved_funds_round_down_to_whole_units():
    assert SPEC.quote_to_units_floor(Decimal("50.0000199")) == 5_000_001
    assert SPEC.quote_to_units_floor(Decimal("0.000009")) == 0


def test_large_values_stay_exact():
    huge = Decimal("123456789012345678901234567.89")
    assert SPEC.ticks_to_price(SPEC.price_to_ticks(huge)) == huge
    assert SPEC.lots_to_quantity(10**30 + 1) == Decimal("1000000000000000000000000000.001")


@pytest.mark.parametrize("size", [Decimal(0), Decimal("-0.01"), 0.01, Decimal("NaN")])
def test_a_spec_needs_positive_decimal_sizes(size):
    with pytest.raises(SpecError):
        MarketSpec(tick_size=size, step_size=Decimal("0.001"))


def test_converting_counts_back_refuses_non_integers():
    with pytest.raises(SpecError):
        SPEC.ticks_to_price(1.5)  # type: ignore[arg-type]

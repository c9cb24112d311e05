"""The matching worker's shortcuts give exactly what the general code gives: fees by one quantize
for power-of-ten steps, and conversions into engine units remembered per batch; and the cyclic
collector, paused while a drain runs, always resumes."""

from __future__ import annotations

import gc
from decimal import ROUND_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import quantise
from exchange.engine.spec import MarketSpec, SpecError
from exchange.services.matching import SpecMemo, _gc_paused
from exchange.services.settlement import BatchWriter, _exponent

STEPS = [Decimal(1).scaleb(-places) for places in range(13)] + [
    Decimal("0.010"),
    Decimal("0.5"),
    Decimal("25"),
    Decimal("10"),
    Decimal("1E+1"),
]


def test_only_a_step_written_as_a_power_of_ten_takes_the_shortcut():
    assert _exponent(Decimal("1E-8")) == Decimal("1E-8")
    assert _exponent(Decimal("0.01")) == Decimal("0.01")
    assert _exponent(Decimal("1")) == Decimal("1")
    assert _exponent(Decimal("1E+1")) == Decimal("1E+1")
    for step in ("0.010", "0.5", "25", "10", "2E-8"):
        assert _exponent(Decimal(step)) is None


@given(
    amount=st.decimals(min_value=0, max_value=Decimal("1E12"), places=18, allow_nan=False),
    rate=st.sampled_from([Decimal("0.001"), Decimal("0.0025"), Decimal("0.000123"), Decimal(1)]),
    step=st.sampled_from(STEPS),
)
def test_a_fee_by_the_shortcut_equals_quantise_rounding_up(amount, rate, step):
    expected = quantise(amount * rate, step, ROUND_UP)
    fee = BatchWriter._fee(amount * rate, step, _exponent(step))
    assert fee == expected
    assert str(fee) == str(expected)  # same exponent too: the fee's text goes into the frames


@given(
    ticks=st.integers(min_value=1, max_value=10**9),
    lots=st.integers(min_value=1, max_value=10**9),
    trailing=st.integers(min_value=0, max_value=3),
)
def test_remembered_conversions_equal_the_specs(ticks, lots, trailing):
    spec = MarketSpec(tick_size=Decimal("0.01"), step_size=Decimal("0.001"))
    memo = SpecMemo(spec)
    price = spec.ticks_to_price(ticks)
    if trailing:  # 20.50 as well as 20.5: equal Decimals, one remembered conversion
        price = price.quantize(Decimal(1).scaleb(-2 - trailing))
    quantity = spec.lots_to_quantity(lots)
    quote = spec.units_to_quote(ticks * lots) + Decimal("0.000001")
    for _ in range(2):  # computed, then remembered
        assert memo.price_to_ticks(price) == spec.price_to_ticks(price) == ticks
        assert memo.quantity_to_lots(quantity) == spec.quantity_to_lots(quantity) == lots
        assert memo.quote_to_units_floor(quote) == spec.quote_to_units_floor(quote)


def test_a_remembered_value_does_not_let_an_equal_float_or_a_non_multiple_through():
    spec = MarketSpec(tick_size=Decimal("0.5"), step_size=Decimal("1"))
    memo = SpecMemo(spec)
    assert memo.price_to_ticks(Decimal("20.5")) == 41
    with pytest.raises(SpecError):
        memo.price_to_ticks(20.5)  # type: ignore[arg-type]
    with pytest.raises(SpecError):
        memo.price_to_ticks(Decimal("20.25"))
    with pytest.raises(SpecError):
        memo.quantity_to_lots(3.0)  # type: ignore[arg-type]


def test_the_collector_pauses_during_a_drain_and_resumes_after_even_on_error():
    assert gc.isenabled()
    seen = []

    def drain() -> None:
        with _gc_paused():
            seen.append(gc.isenabled())
            raise RuntimeError

    with pytest.raises(RuntimeError):
        drain()
    assert seen == [False]
    assert gc.isenabled()
    gc.disable()
    try:
        with _gc_paused():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()

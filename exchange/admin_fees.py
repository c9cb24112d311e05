"""Back office for fee tiers: configuration, edited in place from the list.

Imported by exchange/admin.py. Rates are fractions (0.001 = 0.1 %). Bounds are checked here because
a slip of one digit (0.01 for 0.001) would charge every trade of a tier ten times its fee.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from exchange.models import FeeTier

RATE_FIELDS = ["spot_maker_rate", "spot_taker_rate", "futures_maker_rate", "futures_taker_rate"]
# Zero up to 1 %: fills charge `rate * amount` and post it as a fee, so a negative rate (a rebate)
# would post a negative fee the ledger does not model; above 1 % is no exchange's tier.
MIN_RATE = Decimal(0)
MAX_RATE = Decimal("0.01")


class FeeTierForm(forms.ModelForm):
    class Meta:
        model = FeeTier
        fields = ["name", "min_volume_30d", *RATE_FIELDS]

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        for field in RATE_FIELDS:
            rate = cleaned.get(field)
            if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
                self.add_error(field, f"A rate is a fraction between {MIN_RATE} and {MAX_RATE} (1 %).")
        volume = cleaned.get("min_volume_30d")
        if volume is not None and volume < 0:
            self.add_error("min_volume_30d", "The volume threshold cannot be negative.")
        return cleaned


@admin.register(FeeTier)
class FeeTierAdmin(admin.ModelAdmin):
    form = FeeTierForm
    list_display = ["name", "min_volume_30d", *RATE_FIELDS]
    list_editable = RATE_FIELDS
    ordering = ["min_volume_30d"]
    search_fields = ["name"]

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> type[forms.ModelForm]:
        # The list's inline edits would otherwise use a plain ModelForm and skip the rate bounds.
        return super().get_changelist_form(request, form=FeeTierForm, **kwargs)

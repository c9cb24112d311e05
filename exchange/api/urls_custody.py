"""Custody routes: deposit address, deposit and withdrawal history, withdraw (Backpack's /wapi)."""

from __future__ import annotations

from exchange.api.custody import DepositAddressApi, DepositListApi, WithdrawalsApi
from exchange.api.routing import route

urlpatterns = [
    route("wapi/v1/capital/deposit/address", DepositAddressApi, "api-deposit-address"),
    route("wapi/v1/capital/deposits", DepositListApi, "api-deposits"),
    route("wapi/v1/capital/withdrawals", WithdrawalsApi, "api-withdrawals"),
]

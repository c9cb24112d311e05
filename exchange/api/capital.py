"""Signed capital endpoints."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.session_authentication import SIGNED_OR_SESSION
from core.api_views import BackpackApi
from core.money import render
from exchange.selectors import balances_for_user


class CapitalBalancesApi(BackpackApi):
    instructions = {"GET": "balanceQuery"}
    authentication_classes = SIGNED_OR_SESSION

    def get(self, request: Request) -> Response:
        balances = balances_for_user(user_id=request.user.pk)
        return Response(
            {
                symbol: {
                    "available": render(buckets["available"]),
                    "locked": render(buckets["locked"]),
                    "staked": render(buckets["staked"]),
                }
                for symbol, buckets in sorted(balances.items())
                if buckets["available"] or buckets["locked"] or buckets["staked"]
            }
        )

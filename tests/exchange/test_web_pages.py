from __future__ import annotations

import pytest
from django.urls import include, path

urlpatterns = [
    path("", include("exchange.web.urls")),
    path("", include("accounts.urls")),
]


@pytest.fixture(autouse=True)
def _web_settings(settings):  # type: ignore[no-untyped-def]
    settings.ROOT_URLCONF = __name__
    settings.ORDER_RESULT_WAIT_SECONDS = 0


def test_markets_page_lists_visible_markets(client, demo_markets):  # type: ignore[no-untyped-def]
    from exchange.models import Market

    response = client.get("/markets/")
    assert response.status_code == 200
    symbols = list(Market.objects.filter(visible=True).values_list("symbol", flat=True))
    assert symbols
    for symbol in symbols:
        assert symbol in response.content.decode()


def test_wallet_redirects_anonymous_users(client, db):  # type: ignore[no-untyped-def]
    response = client.get("/wallet/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_wallet_renders_for_logged_in_user(client, alice):  # type: ignore[no-untyped-def]
    client.force_login(alice)
    response = client.get("/wallet/")
    assert response.status_code == 200
    assert "Balances" in response.content.decode()

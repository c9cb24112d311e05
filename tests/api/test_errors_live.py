"""Backpack's error body for bad input on a live server: 4xx, a code and a message, never a 500."""

from __future__ import annotations

import time

import pytest
import requests

from accounts.signing import sign

pytestmark = pytest.mark.live


def signed_headers(account: dict, instruction: str, params: str = "") -> dict[str, str]:
    timestamp = str(time.time_ns() // 1_000_000)
    message = f"instruction={instruction}&{params + '&' if params else ''}timestamp={timestamp}&window=5000"
    return {
        "X-API-Key": account["api_key"],
        "X-Signature": sign(account["api_secret"], message),
        "X-Timestamp": timestamp,
        "X-Window": "5000",
        "Content-Type": "application/json; charset=utf-8",
    }


@pytest.fixture(scope="module")
def account(satchel_server):
    return satchel_server.create_account("errors-bob@example.com", "USDC=10")


def test_ping_is_plain_pong(satchel_server):
    response = requests.get(f"{satchel_server.url}/api/v1/ping", timeout=5)
    assert (response.status_code, response.text) == (200, "pong")
    assert response.headers["Content-Type"].startswith("text/plain")


def test_time_is_plain_milliseconds(satchel_server):
    before = time.time_ns() // 1_000_000
    served = int(requests.get(f"{satchel_server.url}/api/v1/time", timeout=5).text)
    assert before - 1000 <= served <= time.time_ns() // 1_000_000 + 1000


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/nothing-here", 404, "RESOURCE_NOT_FOUND"),
        ("/wapi/v1/nothing/here", 404, "RESOURCE_NOT_FOUND"),
        ("/api/v1/market?symbol=NOPE_USDC", 400, "INVALID_SYMBOL"),
        ("/api/v1/market", 400, "INVALID_CLIENT_REQUEST"),
        ("/api/v1/markets?marketType=FUTURES", 400, "INVALID_CLIENT_REQUEST"),
        ("/api/v1/capital", 401, "UNAUTHORIZED"),
    ],
)
def test_bad_requests_get_backpack_error_bodies(satchel_server, path, status, code):
    response = requests.get(f"{satchel_server.url}{path}", timeout=5)
    assert response.status_code == status
    body = response.json()
    assert body["code"] == code
    assert body["message"]


def test_account_settings_round_trip_and_bad_patch_changes_nothing(satchel_server, account):
    url = f"{satchel_server.url}/api/v1/account"
    before = requests.get(url, headers=signed_headers(account, "accountQuery"), timeout=5).json()
    assert before["leverageLimit"] == "10"
    assert before["autoLend"] is False

    bad = '{"autoLend":"yes","leverageLimit":"5"}'
    response = requests.patch(
        url,
        data=bad,
        headers=signed_headers(account, "accountUpdate", "autoLend=yes&leverageLimit=5"),
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_CLIENT_REQUEST"
    assert requests.get(url, headers=signed_headers(account, "accountQuery"), timeout=5).json() == before

    good = '{"autoLend":true,"leverageLimit":"5"}'
    response = requests.patch(
        url,
        data=good,
        headers=signed_headers(account, "accountUpdate", "autoLend=true&leverageLimit=5"),
        timeout=5,
    )
    assert (response.status_code, response.content) == (200, b"")
    after = requests.get(url, headers=signed_headers(account, "accountQuery"), timeout=5).json()
    assert (after["autoLend"], after["leverageLimit"]) == (True, "5")
    assert "code" not in after


def test_malformed_json_body_is_a_client_error(satchel_server, account):
    response = requests.patch(
        f"{satchel_server.url}/api/v1/account",
        data="{not json",
        headers=signed_headers(account, "accountUpdate"),
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_CLIENT_REQUEST"


def test_signature_for_another_instruction_is_refused(satchel_server, account):
    response = requests.get(
        f"{satchel_server.url}/api/v1/capital", headers=signed_headers(account, "accountQuery"), timeout=5
    )
    assert response.status_code == 401
    assert response.json() == {"code": "INVALID_SIGNATURE", "message": "Invalid signature"}

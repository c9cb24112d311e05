"""The unmodified ccxt `backpack` client against a live Satchel server: deposit address, deposits,
withdraw, withdrawals and balances (issue 3, custody).

The live server may run no Celery worker that knows the withdrawal task, so the pipeline is run by
`manage.py process_withdrawals`, which calls the same idempotent task function. Assertions hold
whether or not a worker got there first.
"""

from __future__ import annotations

import hashlib
import re
import time
from decimal import Decimal

import ccxt
import pytest
from django_otp.oath import totp

from exchange.chain.addresses import base58_encode

pytestmark = pytest.mark.live

SOLANA_ADDRESS = re.compile(r"[1-9A-HJ-NP-Za-km-z]{32,44}")
DESTINATION = base58_encode(hashlib.sha256(b"ccxt custody test wallet").digest())


def client(satchel_server, account) -> ccxt.backpack:
    return ccxt.backpack(
        {
            "urls": {"api": {"public": satchel_server.url, "private": satchel_server.url}},
            "apiKey": account["api_key"],
            "secret": account["api_secret"],
        }
    )


def usdc(exchange: ccxt.backpack) -> tuple[Decimal, Decimal, Decimal]:
    balance = exchange.fetch_balance().get("USDC", {"free": 0, "used": 0, "total": 0})
    return tuple(Decimal(str(balance[key] or 0)) for key in ("free", "used", "total"))  # type: ignore[return-value]


# alice's authenticator secret (hex), so the test can compute her codes as her app would.
TOTP_KEY = hashlib.sha256(b"ccxt custody alice authenticator").hexdigest()[:40]

# Operator-side setup on the live server: a confirmed authenticator (every withdrawal needs a code)
# and DESTINATION in alice's address book, added a day ago so its waiting period is over.
SETUP = """
from datetime import timedelta
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from accounts.models import User
from exchange.models import WithdrawalAddress
from exchange.services.withdrawal_addresses import withdrawal_address_add
user = User.objects.get(email="ccxt-custody-alice@example.com")
TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True, key="{key}")
entry = withdrawal_address_add(user=user, blockchain="Solana", address="{address}", ownership="self_hosted")
WithdrawalAddress.objects.filter(pk=entry.pk).update(usable_from=timezone.now() - timedelta(seconds=1))
"""


@pytest.fixture(scope="module")
def alice(satchel_server):
    account = satchel_server.create_account("ccxt-custody-alice@example.com", "USDC=100")
    satchel_server.manage("shell", "-c", SETUP.format(key=TOTP_KEY, address=DESTINATION))
    return account


def two_factor_code() -> str:
    return f"{totp(bytes.fromhex(TOTP_KEY)):06d}"


@pytest.fixture(scope="module")
def mallory(satchel_server):
    return satchel_server.create_account("ccxt-custody-mallory@example.com", "USDC=5")


def test_deposit_address_is_a_stable_solana_address(satchel_server, alice, mallory):
    exchange = client(satchel_server, alice)

    first = exchange.fetch_deposit_address("USDC", {"network": "SOL"})
    again = exchange.fetch_deposit_address("USDC", {"network": "SOL"})
    hers = client(satchel_server, mallory).fetch_deposit_address("USDC", {"network": "SOL"})

    assert SOLANA_ADDRESS.fullmatch(first["address"])
    assert (first["currency"], first["info"]) == ("USDC", {"address": first["address"]})
    assert again["address"] == first["address"] != hers["address"]


def test_deposit_address_on_an_unknown_network_is_a_bad_request(satchel_server, alice):
    with pytest.raises(ccxt.BadRequest, match="Unsupported blockchain"):
        client(satchel_server, alice).fetch_deposit_address("USDC", {"network": "Dogecoin"})


def test_deposits_are_the_callers_own(satchel_server, alice, mallory):
    exchange = client(satchel_server, alice)
    now = int(time.time() * 1000)

    deposits = exchange.fetch_deposits()
    bounded = exchange.fetch_deposits(since=now - 3_600_000, params={"until": now + 60_000})
    before_any = exchange.fetch_deposits(params={"until": now - 3_600_000})

    assert [(d["currency"], d["amount"], d["status"]) for d in deposits] == [("USDC", 100.0, "ok")]
    assert isinstance(deposits[0]["timestamp"], int)
    assert [d["id"] for d in bounded] == [deposits[0]["id"]]
    assert before_any == []
    assert [d["amount"] for d in client(satchel_server, mallory).fetch_deposits()] == [5.0]


def test_withdraw_moves_exactly_amount_plus_fee_and_shows_in_history(satchel_server, alice, mallory):
    exchange = client(satchel_server, alice)
    free, used, total = usdc(exchange)

    requested = exchange.withdraw(
        "USDC",
        10,
        DESTINATION,
        params={"network": "SOL", "tag": "memo-42", "twoFactorToken": two_factor_code()},
    )

    assert (requested["status"], requested["amount"], requested["currency"]) == ("pending", 10.0, "USDC")
    assert (requested["addressTo"], requested["network"], requested["txid"]) == (DESTINATION, "SOL", None)
    assert requested["fee"] == {"cost": 1.0, "currency": "USDC"}
    assert requested["info"]["clientId"] == "memo-42"
    # Locked at once (a worker may already have sent it; either way 11 left `free`).
    assert usdc(exchange)[0] == free - 11

    satchel_server.manage("process_withdrawals")

    withdrawals = exchange.fetch_withdrawals()
    assert [(w["id"], w["status"], w["amount"], w["addressTo"]) for w in withdrawals] == [
        (requested["id"], "ok", 10.0, DESTINATION)
    ]
    assert re.fullmatch(r"[1-9A-HJ-NP-Za-km-z]{86,88}", withdrawals[0]["txid"])
    assert withdrawals[0]["fee"] == {"cost": 1.0, "currency": "USDC"}
    assert usdc(exchange) == (free - 11, used, total - 11)
    assert client(satchel_server, mallory).fetch_withdrawals() == []
    assert "ledger ok" in satchel_server.manage("check_ledger", "-v", "0")


def test_refused_withdrawals_change_nothing(satchel_server, alice):
    exchange = client(satchel_server, alice)
    before = usdc(exchange)
    history = exchange.fetch_withdrawals()

    with pytest.raises(ccxt.InsufficientFunds):
        exchange.withdraw("USDC", 1_000_000, DESTINATION, params={"network": "SOL"})
    with pytest.raises(ccxt.BadRequest, match="Invalid Solana address"):
        exchange.withdraw("USDC", 10, "0x" + "ab" * 20, params={"network": "SOL"})
    with pytest.raises(ccxt.BadRequest, match="Minimum withdrawal"):
        exchange.withdraw("USDC", 1, DESTINATION, params={"network": "SOL"})

    assert usdc(exchange) == before
    assert exchange.fetch_withdrawals() == history
    assert "ledger ok" in satchel_server.manage("check_ledger", "-v", "0")

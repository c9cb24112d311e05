"""The custody endpoints over HTTP with signed requests: exact Backpack JSON, every read scoped to the
signer (mallory never sees alice's deposits or withdrawals), and bad input answered with the right
code while nothing changes."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services.api_keys import api_key_create
from accounts.signing import batch_signing_strings, parse_json_params, sign, signing_strings
from exchange.chain.addresses import base58_encode, simulated_address
from exchange.chain.simulated_withdrawals import simulated_withdrawal_hash
from exchange.models import JournalEntry, LedgerAccount, Withdrawal
from exchange.services.deposits import deposit_credit
from exchange.services.ledger_check import ledger_check
from exchange.tasks_custody import withdrawal_process

T0 = datetime(2026, 3, 2, 9, 0, 0, 123000, tzinfo=UTC)
DESTINATION = base58_encode(hashlib.sha256(b"a wallet outside the exchange").digest())
ADDRESS_URL = "/wapi/v1/capital/deposit/address"
DEPOSITS_URL = "/wapi/v1/capital/deposits"
WITHDRAWALS_URL = "/wapi/v1/capital/withdrawals"


def ms(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


class Signer:
    """Signs requests as a Backpack client does, for the Django test client."""

    def __init__(self, client: Any, user: Any) -> None:
        self.client = client
        self.user = user
        key, self.secret = api_key_create(user=user)
        self.api_key = key.public_key

    def _headers(self, instruction: str, params: Any) -> dict[str, str]:
        timestamp = str(time.time_ns() // 1_000_000)
        build = batch_signing_strings if isinstance(params, list) else signing_strings
        key = "items" if isinstance(params, list) else "params"
        message = build(instruction=instruction, timestamp=timestamp, window="5000", **{key: params})[0]
        return {
            "X-API-Key": self.api_key,
            "X-Signature": sign(self.secret, message),
            "X-Timestamp": timestamp,
            "X-Window": "5000",
        }

    def get(self, path: str, instruction: str, **params: object) -> Any:
        query = {key: str(value) for key, value in params.items()}
        return self.client.get(path, query, headers=self._headers(instruction, query))

    def post(self, path: str, instruction: str, body: object) -> Any:
        raw = json.dumps(body)
        return self.client.post(
            path,
            raw,
            content_type="application/json",
            headers=self._headers(instruction, parse_json_params(raw)),
        )


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def as_alice(client, alice, demo_markets, clock, settings) -> Signer:
    """alice with 100 USDC, an authenticator (every withdrawal needs a code) and no waiting period
    for new addresses (the address-book rules: tests/compliance/test_withdrawal_controls.py)."""
    settings.WITHDRAWAL_ADDRESS_WAITING_PERIOD = 0
    TOTPDevice.objects.create(user=alice, name="Authenticator app", confirmed=True)
    deposit_credit(user_id=alice.pk, asset=demo_markets["USDC"], quantity=Decimal("100"), source="solana")
    return Signer(client, alice)


@pytest.fixture
def as_mallory(client, mallory, demo_markets, clock) -> Signer:
    TOTPDevice.objects.create(user=mallory, name="Authenticator app", confirmed=True)
    return Signer(client, mallory)


def fresh_code(user) -> str:
    """A current code of the user's authenticator; time stands still here, and a code is accepted
    once per 30-second step, so the step is marked unused first."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
    return f"{totp(device.bin_key):06d}"


def snapshot() -> tuple[object, ...]:
    return (
        dict(LedgerAccount.objects.values_list("pk", "balance")),
        JournalEntry.objects.count(),
        list(Withdrawal.objects.order_by("pk").values_list("pk", "status")),
    )


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


# --- deposit address --------------------------------------------------------------------------


def test_deposit_address_is_the_users_own_and_stable(as_alice, as_mallory, alice, mallory):
    first = as_alice.get(ADDRESS_URL, "depositAddressQuery", blockchain="Solana")
    again = as_alice.get(ADDRESS_URL, "depositAddressQuery", blockchain="solana")
    hers = as_mallory.get(ADDRESS_URL, "depositAddressQuery", blockchain="Solana")

    assert (first.status_code, first.json()) == (
        200,
        {"address": simulated_address(user_id=alice.pk, blockchain="Solana")},
    )
    assert again.json() == first.json()
    assert hers.json() == {"address": simulated_address(user_id=mallory.pk, blockchain="Solana")}


@pytest.mark.parametrize("params", [{"blockchain": "Dogecoin"}, {"blockchain": ""}, {}])
def test_deposit_address_for_an_unknown_or_missing_chain_is_a_client_error(as_alice, params):
    response = as_alice.get(ADDRESS_URL, "depositAddressQuery", **params)

    assert error(response) == (400, "INVALID_CLIENT_REQUEST")


@pytest.mark.parametrize("path", [ADDRESS_URL + "?blockchain=Solana", DEPOSITS_URL, WITHDRAWALS_URL])
def test_custody_endpoints_need_a_signature(client, db, path):
    assert error(client.get(path)) == (401, "UNAUTHORIZED")


def test_a_signature_for_another_instruction_is_refused(as_alice):
    response = as_alice.get(DEPOSITS_URL, "withdrawalQueryAll")

    assert error(response) == (401, "INVALID_SIGNATURE")


# --- deposits ---------------------------------------------------------------------------------


@pytest.fixture
def deposits(as_alice, as_mallory, alice, mallory, demo_markets, clock):
    """alice: the fixture's 100 USDC at T0, 2 SOL from the chain at T0+1h, 0.5 BTC by staff at T0+2h;
    mallory: 7 USDC at T0+1h."""
    from exchange.chain.simulated import SimulatedChain

    chain = SimulatedChain()
    clock.move_to(T0 + timedelta(hours=1))
    sol = chain.simulate_incoming(
        to_address=chain.deposit_address(user_id=alice.pk, blockchain="Solana"),
        asset_symbol="SOL",
        blockchain="Solana",
        quantity=Decimal("2"),
        transaction_hash="5" * 88,
    )
    deposit_credit(user_id=mallory.pk, asset=demo_markets["USDC"], quantity=Decimal("7"), source="solana")
    clock.move_to(T0 + timedelta(hours=2))
    staff = deposit_credit(
        user_id=alice.pk, asset=demo_markets["BTC"], quantity=Decimal("0.5"), source="administrator"
    )
    clock.move_to(T0 + timedelta(hours=3))
    first = alice.deposits.order_by("pk").first()
    return first, sol, staff


def test_deposits_are_the_callers_own_newest_first_in_backpacks_shape(deposits, as_alice, alice):
    first, sol, staff = deposits

    response = as_alice.get(DEPOSITS_URL, "depositQueryAll")

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": staff.pk,
            "toAddress": None,
            "fromAddress": None,
            "source": "administrator",
            "status": "confirmed",
            "transactionHash": None,
            "symbol": "BTC",
            "quantity": "0.5",
            "createdAt": "2026-03-02T11:00:00.123",
            "fiatAmount": None,
            "fiatCurrency": None,
            "institutionBic": None,
            "platformMemo": None,
        },
        {
            "id": sol.pk,
            "toAddress": simulated_address(user_id=alice.pk, blockchain="Solana"),
            "fromAddress": None,
            "source": "solana",
            "status": "confirmed",
            "transactionHash": "5" * 88,
            "symbol": "SOL",
            "quantity": "2",
            "createdAt": "2026-03-02T10:00:00.123",
            "fiatAmount": None,
            "fiatCurrency": None,
            "institutionBic": None,
            "platformMemo": None,
        },
        {
            "id": first.pk,
            "toAddress": None,
            "fromAddress": None,
            "source": "solana",
            "status": "confirmed",
            "transactionHash": None,
            "symbol": "USDC",
            "quantity": "100",
            "createdAt": "2026-03-02T09:00:00.123",
            "fiatAmount": None,
            "fiatCurrency": None,
            "institutionBic": None,
            "platformMemo": None,
        },
    ]


def test_mallory_sees_only_her_deposit(deposits, as_mallory):
    response = as_mallory.get(DEPOSITS_URL, "depositQueryAll")

    assert [(item["symbol"], item["quantity"]) for item in response.json()] == [("USDC", "7")]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"limit": 1}, ["BTC"]),
        ({"limit": 2, "offset": 1}, ["SOL", "USDC"]),
        ({"offset": 3}, []),
        ({"from": ms(T0 + timedelta(hours=1))}, ["BTC", "SOL"]),
        ({"to": ms(T0 + timedelta(hours=1))}, ["SOL", "USDC"]),
        # ccxt sends its `until` as endTime.
        ({"endTime": ms(T0 + timedelta(hours=1))}, ["SOL", "USDC"]),
        ({"from": ms(T0 + timedelta(minutes=1)), "endTime": ms(T0 + timedelta(hours=1, minutes=1))}, ["SOL"]),
        ({"from": ms(T0 + timedelta(hours=2)), "to": ms(T0)}, []),
        ({"limit": 1000}, ["BTC", "SOL", "USDC"]),
    ],
)
def test_deposit_history_filters_and_pages(deposits, as_alice, params, expected):
    response = as_alice.get(DEPOSITS_URL, "depositQueryAll", **params)

    assert response.status_code == 200
    assert [item["symbol"] for item in response.json()] == expected


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 1001},
        {"limit": -1},
        {"limit": "ten"},
        {"offset": "1.5"},
        {"from": "yesterday"},
        {"to": "9" * 20},
    ],
)
def test_bad_history_parameters_are_client_errors(deposits, as_alice, params):
    for path, instruction in ((DEPOSITS_URL, "depositQueryAll"), (WITHDRAWALS_URL, "withdrawalQueryAll")):
        assert error(as_alice.get(path, instruction, **params)) == (400, "INVALID_CLIENT_REQUEST")


# --- withdrawals ------------------------------------------------------------------------------


def withdraw_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "address": DESTINATION,
        "blockchain": "Solana",
        "quantity": "10",
        "symbol": "USDC",
    }
    body.update(overrides)
    return body


def expected_withdrawal(withdrawal_id: int, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": withdrawal_id,
        "blockchain": "Solana",
        "clientId": None,
        "identifier": None,
        "quantity": "10",
        "fee": "1",
        "fiatFee": None,
        "fiatState": None,
        "fiatSymbol": None,
        "providerId": None,
        "symbol": "USDC",
        "status": "pending",
        "subaccountId": None,
        "toAddress": DESTINATION,
        "transactionHash": None,
        "createdAt": "2026-03-02T09:00:00.123",
        "isInternal": False,
        "bankName": None,
        "bankIdentifier": None,
        "accountIdentifier": None,
        "triggerAt": None,
    }
    body.update(overrides)
    return body


def usdc(user) -> tuple[Decimal, Decimal]:
    rows = dict(LedgerAccount.objects.filter(owner=user, asset__symbol="USDC").values_list("kind", "balance"))
    return rows.get("available", Decimal(0)), rows.get("locked", Decimal(0))


def test_withdraw_locks_the_funds_and_answers_one_withdrawal(as_alice, alice):
    response = as_alice.post(
        WITHDRAWALS_URL,
        "withdraw",
        withdraw_body(blockchain="solana", clientId="memo-7", twoFactorToken=fresh_code(alice)),
    )

    withdrawal = Withdrawal.objects.get()
    assert (response.status_code, response.json()) == (
        200,
        expected_withdrawal(withdrawal.pk, clientId="memo-7"),
    )
    assert usdc(alice) == (Decimal(89), Decimal(11))


def test_withdraw_accepts_an_integer_client_id_and_false_flags(as_alice, alice):
    body = withdraw_body(
        clientId=123,
        autoBorrow=False,
        autoLendRedeem=False,
        recipientInformation=None,
        twoFactorToken=fresh_code(alice),
    )

    response = as_alice.post(WITHDRAWALS_URL, "withdraw", body)

    assert response.status_code == 200
    assert response.json()["clientId"] == "123"


def test_withdrawal_history_after_processing(as_alice, as_mallory, alice, clock):
    first = as_alice.post(
        WITHDRAWALS_URL, "withdraw", withdraw_body(clientId="a", twoFactorToken=fresh_code(alice))
    ).json()
    clock.move_to(T0 + timedelta(minutes=5))
    second = as_alice.post(
        WITHDRAWALS_URL,
        "withdraw",
        withdraw_body(quantity="2.5", clientId="b", twoFactorToken=fresh_code(alice)),
    ).json()
    withdrawal_process(first["id"])
    confirmed = Withdrawal.objects.get(pk=first["id"])

    response = as_alice.get(WITHDRAWALS_URL, "withdrawalQueryAll")

    assert response.status_code == 200
    assert response.json() == [
        expected_withdrawal(second["id"], quantity="2.5", clientId="b", createdAt="2026-03-02T09:05:00.123"),
        expected_withdrawal(
            first["id"],
            clientId="a",
            status="confirmed",
            transactionHash=simulated_withdrawal_hash(confirmed),
        ),
    ]
    assert usdc(alice) == (Decimal("85.5"), Decimal("3.5"))
    only_first = as_alice.get(WITHDRAWALS_URL, "withdrawalQueryAll", id=first["id"]).json()
    assert [item["id"] for item in only_first] == [first["id"]]
    assert [
        item["id"] for item in as_alice.get(WITHDRAWALS_URL, "withdrawalQueryAll", clientId="b").json()
    ] == [second["id"]]
    since = as_alice.get(WITHDRAWALS_URL, "withdrawalQueryAll", **{"from": ms(T0 + timedelta(minutes=1))})
    assert [item["id"] for item in since.json()] == [second["id"]]
    until = as_alice.get(WITHDRAWALS_URL, "withdrawalQueryAll", to=ms(T0), limit=5)
    assert [item["id"] for item in until.json()] == [first["id"]]
    # Mallory sees none of them, not even by id.
    assert as_mallory.get(WITHDRAWALS_URL, "withdrawalQueryAll").json() == []
    assert as_mallory.get(WITHDRAWALS_URL, "withdrawalQueryAll", id=first["id"]).json() == []
    assert as_mallory.get(DEPOSITS_URL, "depositQueryAll").json() == []
    report = ledger_check()
    assert report.ok, report.problems


def test_a_rejected_withdrawal_shows_as_declined(as_alice, alice):
    from exchange.services.withdrawals import withdrawal_reject

    created = as_alice.post(
        WITHDRAWALS_URL, "withdraw", withdraw_body(twoFactorToken=fresh_code(alice))
    ).json()
    withdrawal_reject(withdrawal_id=created["id"], reason="compliance")

    listed = as_alice.get(WITHDRAWALS_URL, "withdrawalQueryAll").json()

    assert [item["status"] for item in listed] == ["declined"]
    assert usdc(alice) == (Decimal(100), Decimal(0))


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (withdraw_body(address=None), 400, "INVALID_CLIENT_REQUEST"),
        ({k: v for k, v in withdraw_body().items() if k != "address"}, 400, "INVALID_CLIENT_REQUEST"),
        ({k: v for k, v in withdraw_body().items() if k != "quantity"}, 400, "INVALID_CLIENT_REQUEST"),
        (withdraw_body(quantity=True), 400, "INVALID_CLIENT_REQUEST"),
        (withdraw_body(quantity="ten"), 400, "INVALID_CLIENT_REQUEST"),
        (withdraw_body(quantity="Infinity"), 400, "INVALID_CLIENT_REQUEST"),
        (withdraw_body(quantity="0"), 400, "INVALID_QUANTITY"),
        (withdraw_body(quantity="-10"), 400, "INVALID_QUANTITY"),
        (withdraw_body(quantity="1"), 400, "INVALID_QUANTITY"),
        (withdraw_body(quantity="10.0000001"), 400, "INVALID_QUANTITY"),
        (withdraw_body(quantity="99.5"), 400, "INSUFFICIENT_FUNDS"),
        (withdraw_body(symbol="DOGE"), 400, "INVALID_ASSET"),
        (withdraw_body(symbol="BTC"), 400, "INVALID_ASSET"),
        (withdraw_body(symbol=5), 400, "INVALID_CLIENT_REQUEST"),
        (withdraw_body(blockchain="Dogecoin"), 400, "INVALID_CLIENT_REQUEST"),
        (withdraw_body(address="not-an-address"), 400, "INVALID_CLIENT_REQUEST"),
        (withdraw_body(address="0x" + "ab" * 20), 400, "INVALID_CLIENT_REQUEST"),
        (withdraw_body(clientId=True), 400, "INVALID_CLIENT_REQUEST"),
        (withdraw_body(clientId="x" * 129), 400, "INVALID_CLIENT_REQUEST"),
        (withdraw_body(autoBorrow=True), 400, "INVALID_CLIENT_REQUEST"),
        (withdraw_body(autoLendRedeem="yes"), 400, "INVALID_CLIENT_REQUEST"),
        ([withdraw_body()], 400, "INVALID_CLIENT_REQUEST"),
    ],
)
def test_bad_withdrawals_are_refused_with_the_right_code_and_change_nothing(as_alice, body, status, code):
    before = snapshot()

    response = as_alice.post(WITHDRAWALS_URL, "withdraw", body)

    assert error(response) == (status, code)
    assert response.json()["message"]
    assert snapshot() == before


def test_withdrawals_need_an_authenticator_over_the_api(as_alice, alice):
    TOTPDevice.objects.filter(user=alice).delete()
    before = snapshot()

    response = as_alice.post(WITHDRAWALS_URL, "withdraw", withdraw_body(twoFactorToken="123456"))

    assert error(response) == (400, "TWO_FACTOR_REQUIRED")
    assert "two-factor authentication" in response.json()["message"]
    assert snapshot() == before


def test_two_factor_code_is_required_over_the_api(as_alice, alice, clock):
    device = TOTPDevice.objects.get(user=alice)
    before = snapshot()

    missing = as_alice.post(WITHDRAWALS_URL, "withdraw", withdraw_body())
    wrong = as_alice.post(
        WITHDRAWALS_URL, "withdraw", withdraw_body(twoFactorToken=f"{(totp(device.bin_key) + 1) % 10**6:06d}")
    )
    assert (error(missing), error(wrong)) == (
        (400, "INVALID_TWO_FACTOR_CODE"),
        (400, "INVALID_TWO_FACTOR_CODE"),
    )
    assert snapshot() == before
    clock.shift(timedelta(seconds=2))  # past django-otp's throttle after one wrong code, same time step
    good = as_alice.post(
        WITHDRAWALS_URL, "withdraw", withdraw_body(twoFactorToken=f"{totp(device.bin_key):06d}")
    )

    assert good.status_code == 200
    assert usdc(alice) == (Decimal(89), Decimal(11))


def test_mallory_cannot_spend_alices_funds(as_alice, as_mallory, alice):
    before = snapshot()

    response = as_mallory.post(WITHDRAWALS_URL, "withdraw", withdraw_body())

    assert error(response) == (400, "INSUFFICIENT_FUNDS")
    assert snapshot() == before

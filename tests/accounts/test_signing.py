"""accounts.signing: rebuilding and verifying what Backpack API clients sign (pure, no database)."""

from __future__ import annotations

import base64
import contextlib
import json
import urllib.parse
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.signing import (
    DEFAULT_WINDOW_MS,
    MalformedSignatureHeaders,
    RequestExpired,
    RequestFromFuture,
    SigningError,
    batch_signing_strings,
    check_timestamp,
    generate_keypair,
    normalize_public_key,
    parse_json_params,
    parse_query_params,
    public_key_from_secret,
    sign,
    signing_strings,
    subscribe_signing_string,
    verify,
)

# One key pair per module: hypothesis rejects function-scoped fixtures, and key generation is not
# what these tests are about.
API_KEY, SECRET = generate_keypair()
OTHER_KEY, OTHER_SECRET = generate_keypair()
TS = "1795549757419"
WINDOW = "5000"

# Small-order points (RFC 8032 torsion): identity, order 2, order 4 (y=0), and the two order-8 points.
SMALL_ORDER_KEYS = [
    bytes([1]) + bytes(31),
    ((2**255 - 19) - 1).to_bytes(32, "little"),
    bytes(32),
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def client_string(instruction: str, params: dict[str, object], *, ccxt: bool) -> str:
    """What a client signs: sorted pairs, bools lower-case; ccxt percent-encodes via urlencode."""
    rendered = sorted(
        (key, ("true" if value else "false") if isinstance(value, bool) else str(value))
        for key, value in params.items()
    )
    if ccxt:
        query = urllib.parse.urlencode(rendered, quote_via=urllib.parse.quote)
    else:
        query = "&".join(f"{key}={value}" for key, value in rendered)
    middle = f"{query}&" if query else ""
    return f"instruction={instruction}&{middle}timestamp={TS}&window={WINDOW}"


def server_accepts(instruction: str, params: object, signature: str, key: str = API_KEY) -> bool:
    candidates = signing_strings(instruction=instruction, params=params, timestamp=TS, window=WINDOW)
    return verify(api_key_b64=key, signature_b64=signature, candidates=candidates)


# --- keys -------------------------------------------------------------------------------------------


def test_generated_keys_are_44_char_base64_of_32_bytes_and_match():
    assert len(API_KEY) == len(SECRET) == 44
    assert len(base64.b64decode(API_KEY, validate=True)) == 32
    assert len(base64.b64decode(SECRET, validate=True)) == 32
    assert public_key_from_secret(SECRET) == API_KEY
    assert normalize_public_key(API_KEY) == API_KEY
    assert API_KEY != OTHER_KEY


def test_64_byte_seed_and_pubkey_secret_uses_the_first_32_bytes():
    long_secret = b64(base64.b64decode(SECRET) + base64.b64decode(API_KEY))
    assert public_key_from_secret(long_secret) == API_KEY
    assert sign(long_secret, "x") == sign(SECRET, "x")


@pytest.mark.parametrize(
    "secret", ["", "not base64", b64(bytes(31)), b64(bytes(33)), b64(bytes(48)), SECRET.rstrip("=")]
)
def test_bad_secrets_raise_signing_error(secret):
    with pytest.raises(SigningError):
        public_key_from_secret(secret)
    with pytest.raises(SigningError):
        sign(secret, "x")


def test_normalize_canonicalises_non_canonical_padding_bits():
    # 32 bytes leave 2 unused bits in the last data character; a set bit decodes to the same key.
    tweaked = (
        API_KEY[:42]
        + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".index(API_KEY[42]) ^ 1
        ]
        + "="
    )
    assert tweaked != API_KEY
    assert normalize_public_key(tweaked) == API_KEY


def _off_curve_y() -> bytes:
    # A y with no x: (y^2 - 1) / (d y^2 + 1) is a non-square mod p (Euler's criterion).
    p = 2**255 - 19
    d = -121665 * pow(121666, p - 2, p) % p
    for y in range(2, 100):
        ratio = (y * y - 1) * pow(d * y * y + 1, p - 2, p) % p
        if pow(ratio, (p - 1) // 2, p) == p - 1:
            return y.to_bytes(32, "little")
    raise AssertionError("no off-curve y found")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "!" * 44,
        API_KEY.rstrip("="),  # padding is required
        " " + API_KEY[1:],
        API_KEY.replace("+", "-").replace("/", "_") if ("+" in API_KEY or "/" in API_KEY) else "-" * 44,
        b64(bytes(31)),
        b64(bytes(33)),
        b64(bytes(64)),
        b64(_off_curve_y()),
        b64((2**255 - 19 + 2).to_bytes(32, "little")),  # y >= p: non-canonical
        *[b64(raw) for raw in SMALL_ORDER_KEYS],
    ],
)
def test_invalid_public_keys_are_rejected(key):
    with pytest.raises(SigningError):
        normalize_public_key(key)
    assert not verify(api_key_b64=key, signature_b64=sign(SECRET, "x"), candidates=["x"])


def test_signing_error_is_a_value_error():
    assert issubclass(SigningError, ValueError)
    for cls in (MalformedSignatureHeaders, RequestExpired, RequestFromFuture):
        assert issubclass(cls, SigningError)


# --- signing strings: the observed examples ---------------------------------------------------------


def test_no_params_signs_instruction_timestamp_window_only():
    candidates = signing_strings(instruction="balanceQuery", params={}, timestamp=TS, window=WINDOW)
    assert candidates == ["instruction=balanceQuery&timestamp=1795549757419&window=5000"]
    assert server_accepts("balanceQuery", [], sign(SECRET, candidates[0]))


def test_order_execute_example_from_the_reference():
    body = {
        "symbol": "SOL_USDC",
        "side": "Bid",
        "orderType": "Limit",
        "price": "100",
        "quantity": "1",
        "timeInForce": "GTC",
        "postOnly": True,
        "selfTradePrevention": "RejectTaker",
        "clientId": 123,
    }
    candidates = signing_strings(instruction="orderExecute", params=body, timestamp=TS, window=WINDOW)
    assert candidates == [
        "instruction=orderExecute&clientId=123&orderType=Limit&postOnly=true&price=100&quantity=1"
        "&selfTradePrevention=RejectTaker&side=Bid&symbol=SOL_USDC&timeInForce=GTC"
        f"&timestamp={TS}&window=5000"
    ]
    assert server_accepts("orderExecute", body, sign(SECRET, client_string("orderExecute", body, ccxt=True)))


def test_batch_example_from_the_reference():
    # ccxt's body order (not sorted); only the signed string is sorted, per item, in array order.
    items = [
        {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": "99", "quantity": "1"},
        {"symbol": "SOL_USDC", "side": "Ask", "orderType": "Limit", "price": "105", "quantity": "2"},
    ]
    candidates = batch_signing_strings(instruction="orderExecute", items=items, timestamp=TS, window=WINDOW)
    expected = (
        "instruction=orderExecute&orderType=Limit&price=99&quantity=1&side=Bid&symbol=SOL_USDC"
        "&instruction=orderExecute&orderType=Limit&price=105&quantity=2&side=Ask&symbol=SOL_USDC"
        f"&timestamp={TS}&window=5000"
    )
    assert candidates == [expected]
    assert verify(api_key_b64=API_KEY, signature_b64=sign(SECRET, expected), candidates=candidates)
    # Array order matters: the same orders swapped are a different request.
    swapped = batch_signing_strings(
        instruction="orderExecute", items=items[::-1], timestamp=TS, window=WINDOW
    )
    assert not verify(api_key_b64=API_KEY, signature_b64=sign(SECRET, expected), candidates=swapped)


def test_batch_with_percent_encoded_values_has_both_variants():
    items = [{"clientId": 1, "symbol": "A B"}, {"symbol": "C/D"}]
    raw, encoded = batch_signing_strings(instruction="orderExecute", items=items, timestamp=TS, window="5000")
    assert raw.startswith(
        "instruction=orderExecute&clientId=1&symbol=A B&instruction=orderExecute&symbol=C/D&"
    )
    assert "symbol=A%20B" in encoded
    assert "symbol=C%2FD" in encoded


@pytest.mark.parametrize("items", [[], {}, "x", [{"a": 1}, "not an object"], [[("a", 1)]]])
def test_malformed_batches_raise_signing_error(items):
    with pytest.raises(SigningError):
        batch_signing_strings(instruction="orderExecute", items=items, timestamp=TS, window=WINDOW)


def test_subscribe_string_and_ws_signature():
    message = subscribe_signing_string("1795549779536", "5000")
    assert message == "instruction=subscribe&timestamp=1795549779536&window=5000"
    assert verify(api_key_b64=API_KEY, signature_b64=sign(SECRET, message), candidates=[message])


def test_missing_window_is_signed_as_default():
    window = None
    effective = check_timestamp(timestamp=TS, window=window, now_ms=int(TS))
    window_text = window if window is not None else str(effective)
    assert window_text == str(DEFAULT_WINDOW_MS) == "5000"
    candidates = signing_strings(instruction="balanceQuery", params={}, timestamp=TS, window=window_text)
    assert candidates == [f"instruction=balanceQuery&timestamp={TS}&window=5000"]


# --- signing strings: client variants ---------------------------------------------------------------


def test_capitalised_bool_query_values_verify_against_lowercase_signature():
    # SDK A/B: requests puts True in the URL, but the signature covers "true".
    signed = (
        f"instruction=maxOrderQuantity&reduceOnly=true&side=Bid&symbol=SOL_USDC&timestamp={TS}&window=5000"
    )
    query = parse_query_params("symbol=SOL_USDC&side=Bid&reduceOnly=True")
    assert server_accepts("maxOrderQuantity", query, sign(SECRET, signed))
    assert (
        signing_strings(instruction="maxOrderQuantity", params=query, timestamp=TS, window=WINDOW)[0]
        == signed
    )
    false_query = parse_query_params("reduceOnly=False")
    false_signed = f"instruction=maxOrderQuantity&reduceOnly=false&timestamp={TS}&window=5000"
    assert server_accepts("maxOrderQuantity", false_query, sign(SECRET, false_signed))


def test_a_string_that_happens_to_be_true_still_verifies_verbatim():
    # A withdrawal memo "True" in a JSON body: ccxt signs it as the text it is.
    body = {"clientId": "True", "symbol": "USDC"}
    candidates = signing_strings(instruction="withdraw", params=body, timestamp=TS, window=WINDOW)
    assert candidates[0] == f"instruction=withdraw&clientId=true&symbol=USDC&timestamp={TS}&window=5000"
    assert server_accepts("withdraw", body, sign(SECRET, client_string("withdraw", body, ccxt=True)))


@pytest.mark.parametrize("signed_as", [123, "123"])
@pytest.mark.parametrize("received_as", [123, "123"])
def test_client_id_int_or_numeric_string(signed_as, received_as):
    signature = sign(
        SECRET, client_string("orderCancel", {"clientId": signed_as, "symbol": "SOL_USDC"}, ccxt=False)
    )
    assert server_accepts("orderCancel", {"clientId": received_as, "symbol": "SOL_USDC"}, signature)


def test_withdraw_address_with_reserved_characters_ccxt_and_raw():
    body = {
        "address": "ab/cd+ef:gh ij~k_l.m-n",
        "blockchain": "Solana",
        "clientId": "memo 1",
        "quantity": "10",
        "symbol": "USDC",
    }
    ccxt_string = client_string("withdraw", body, ccxt=True)
    raw_string = client_string("withdraw", body, ccxt=False)
    assert "address=ab%2Fcd%2Bef%3Agh%20ij~k_l.m-n" in ccxt_string
    candidates = signing_strings(instruction="withdraw", params=body, timestamp=TS, window=WINDOW)
    assert candidates == [raw_string, ccxt_string]  # raw first, then percent-encoded
    assert server_accepts("withdraw", body, sign(SECRET, ccxt_string))
    assert server_accepts("withdraw", body, sign(SECRET, raw_string))
    tampered = {**body, "address": "ab/cd+ef:gh ij~k_l.m-X"}
    assert not server_accepts("withdraw", tampered, sign(SECRET, ccxt_string))


def test_values_render_as_documented():
    params = [
        ("b", True),
        ("c", False),
        ("d", 7),
        ("e", Decimal("1.50")),
        ("f", 0.25),
        ("g", None),
        ("h", "1e2"),
    ]
    (candidate,) = signing_strings(instruction="x", params=params, timestamp="1", window="2")
    assert candidate == "instruction=x&b=true&c=false&d=7&e=1.50&f=0.25&g=null&h=1e2&timestamp=1&window=2"


def test_repeated_query_keys_are_all_kept_in_received_order():
    query = parse_query_params("symbol=SOL_USDC&marketType=SPOT&marketType=PERP")
    (candidate,) = signing_strings(instruction="positionQuery", params=query, timestamp=TS, window=WINDOW)
    assert candidate == (
        f"instruction=positionQuery&marketType=SPOT&marketType=PERP&symbol=SOL_USDC&timestamp={TS}&window=5000"
    )


def test_keys_sort_in_plain_byte_order():
    (candidate,) = signing_strings(
        instruction="x", params={"b": "1", "B": "2", "a": "3", "_": "4"}, timestamp="1", window="2"
    )
    assert candidate == "instruction=x&B=2&_=4&a=3&b=1&timestamp=1&window=2"


@pytest.mark.parametrize(
    "params",
    [
        {"a": {"nested": 1}},
        {"a": [1, 2]},
        {"a": float("nan")},
        {"a": Decimal("Infinity")},
        {"a": "\ud800"},
        {1: "a"},
        [("a",)],
        ["ab"],
        "a=b",
        None,
    ],
)
def test_unsignable_params_raise_signing_error(params):
    with pytest.raises(SigningError):
        signing_strings(instruction="x", params=params, timestamp=TS, window=WINDOW)


# --- verification failures --------------------------------------------------------------------------


def test_wrong_key_fails():
    message = client_string("balanceQuery", {}, ccxt=False)
    assert not server_accepts("balanceQuery", {}, sign(OTHER_SECRET, message))
    assert server_accepts("balanceQuery", {}, sign(OTHER_SECRET, message), key=OTHER_KEY)


def test_tampered_param_timestamp_or_instruction_fails():
    body = {"orderType": "Market", "quoteQuantity": "50", "side": "Bid", "symbol": "SOL_USDC"}
    signature = sign(SECRET, client_string("orderExecute", body, ccxt=True))
    assert server_accepts("orderExecute", body, signature)
    assert not server_accepts("orderExecute", {**body, "quoteQuantity": "500"}, signature)
    assert not server_accepts("orderExecute", {**body, "extra": "1"}, signature)
    assert not server_accepts("orderCancel", body, signature)
    later = signing_strings(
        instruction="orderExecute", params=body, timestamp=str(int(TS) + 1), window=WINDOW
    )
    assert not verify(api_key_b64=API_KEY, signature_b64=signature, candidates=later)


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "!!!",
        b64(bytes(63)),
        b64(bytes(65)),
        "A" * 88,  # no padding: not 64 bytes
        None,
        12,
    ],
)
def test_malformed_signatures_return_false(signature):
    assert verify(api_key_b64=API_KEY, signature_b64=signature, candidates=["x"]) is False


def test_verify_skips_unusable_candidates():
    signature = sign(SECRET, "ok")
    assert verify(api_key_b64=API_KEY, signature_b64=signature, candidates=["\ud800", None, "ok"])
    assert not verify(api_key_b64=API_KEY, signature_b64=signature, candidates=[])


# --- timestamp and window ---------------------------------------------------------------------------

NOW = 1_795_549_757_419


@pytest.mark.parametrize(
    ("timestamp", "window", "effective"),
    [
        (str(NOW), "5000", 5000),
        (str(NOW), None, 5000),
        (str(NOW - 5000), "5000", 5000),  # exactly at the edge: not yet expired
        (str(NOW + 5000), "5000", 5000),  # exactly at the future edge
        (str(NOW - 60000), "60000", 60000),
        (str(NOW), "1", 1),
    ],
)
def test_fresh_requests_pass(timestamp, window, effective):
    assert check_timestamp(timestamp=timestamp, window=window, now_ms=NOW) == effective


def test_expired_and_future_requests():
    with pytest.raises(RequestExpired):
        check_timestamp(timestamp=str(NOW - 5001), window="5000", now_ms=NOW)
    with pytest.raises(RequestExpired):
        check_timestamp(timestamp=str(NOW - 5001), window=None, now_ms=NOW)
    with pytest.raises(RequestFromFuture):
        check_timestamp(timestamp=str(NOW + 5001), window="5000", now_ms=NOW)
    with pytest.raises(RequestExpired):
        check_timestamp(timestamp="0", window="5000", now_ms=NOW)


def test_custom_limits():
    assert check_timestamp(timestamp=str(NOW), window=None, now_ms=NOW, default_window_ms=1000) == 1000
    with pytest.raises(RequestExpired):
        check_timestamp(timestamp=str(NOW - 1001), window=None, now_ms=NOW, default_window_ms=1000)
    with pytest.raises(MalformedSignatureHeaders):
        check_timestamp(timestamp=str(NOW), window="10001", now_ms=NOW, max_window_ms=10000)


@pytest.mark.parametrize(
    "window", ["60001", "0", "", "-1", " 5000", "5000 ", "+5000", "5_000", "5e3", "5000.0", "\u0665", 5000]
)
def test_malformed_or_out_of_range_windows(window):
    with pytest.raises(MalformedSignatureHeaders):
        check_timestamp(timestamp=str(NOW), window=window, now_ms=NOW)


@pytest.mark.parametrize("timestamp", ["", "-1", " 1", "1.5", "1e12", "\u0665", "1" * 21, None, NOW])
def test_malformed_timestamps(timestamp):
    with pytest.raises(MalformedSignatureHeaders):
        check_timestamp(timestamp=timestamp, window="5000", now_ms=NOW)


# --- parsing helpers --------------------------------------------------------------------------------


def test_json_numbers_keep_their_exact_text():
    body = b'{"price": 1.50, "quantity": 1e2, "clientId": 123, "postOnly": true, "memo": null}'
    params = parse_json_params(body)
    assert params == {"price": "1.50", "quantity": "1e2", "clientId": "123", "postOnly": True, "memo": None}
    (candidate,) = signing_strings(instruction="x", params=params, timestamp="1", window="2")
    assert (
        candidate
        == "instruction=x&clientId=123&memo=null&postOnly=true&price=1.50&quantity=1e2&timestamp=1&window=2"
    )


def test_json_bodies_objects_arrays_and_empty():
    assert parse_json_params(b"") == {}
    assert parse_json_params("  \n") == {}
    assert parse_json_params(b'[{"a": 1}, {"b": "2"}]') == [{"a": "1"}, {"b": "2"}]


@pytest.mark.parametrize(
    "body",
    [b"{", b"[1, 2]", b'"x"', b"3", b'{"a": NaN}', b'{"a": Infinity}', b"\xff\xfe\x00", b"[" * 100_000, 5],
)
def test_bad_json_bodies_raise_signing_error(body):
    with pytest.raises(SigningError):
        parse_json_params(body)


def test_query_parsing_decodes_like_the_server_sees_it():
    assert parse_query_params("a=x%2By+z&b=&c=%3A") == [("a", "x+y z"), ("b", ""), ("c", ":")]


# --- the real client --------------------------------------------------------------------------------


def test_ccxt_signatures_verify():
    ccxt = pytest.importorskip("ccxt")
    exchange = ccxt.backpack({"apiKey": API_KEY, "secret": SECRET})
    exchange.nonce = lambda: int(TS)

    def accepted(request: dict, instruction: str, *, batch: bool = False) -> bool:
        headers = request["headers"]
        assert check_timestamp(timestamp=headers["X-Timestamp"], window=headers["X-Window"], now_ms=int(TS))
        if request["body"] is None:
            params = parse_query_params(urllib.parse.urlsplit(request["url"]).query)
        else:
            params = parse_json_params(request["body"].encode())
        common = {
            "instruction": instruction,
            "timestamp": headers["X-Timestamp"],
            "window": headers["X-Window"],
        }
        candidates = (
            batch_signing_strings(items=params, **common)
            if batch
            else signing_strings(params=params, **common)
        )
        return verify(
            api_key_b64=headers["X-API-Key"], signature_b64=headers["X-Signature"], candidates=candidates
        )

    withdraw = {"address": "ab/cd+ef:gh ij", "blockchain": "Solana", "quantity": "10", "symbol": "USDC"}
    order = {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": "100", "quantity": "1",
             "postOnly": True, "clientId": 123}  # fmt: skip
    assert accepted(exchange.sign("wapi/v1/capital/withdrawals", ["private"], "POST", withdraw), "withdraw")
    assert accepted(exchange.sign("api/v1/order", ["private"], "POST", order), "orderExecute")
    assert accepted(
        exchange.sign("api/v1/orders", ["private"], "POST", [order, order]), "orderExecute", batch=True
    )
    assert accepted(exchange.sign("api/v1/capital", ["private"], "GET", {}), "balanceQuery")
    limits = {"symbol": "SOL_USDC", "side": "Bid", "reduceOnly": True}
    assert accepted(
        exchange.sign("api/v1/account/limits/order", ["private"], "GET", limits), "maxOrderQuantity"
    )
    assert not accepted(exchange.sign("api/v1/order", ["private"], "POST", order), "orderCancel")


# --- properties -------------------------------------------------------------------------------------

SAFE_ASCII = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-", max_size=12
).filter(lambda text: text not in {"True", "False"})  # those two also get a verbatim variant
KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=10)


@settings(max_examples=50, deadline=None)
@given(params=st.dictionaries(KEYS, SAFE_ASCII | st.booleans() | st.integers(), max_size=8))
def test_round_trip_raw_signature_verifies(params):
    candidates = signing_strings(instruction="orderExecute", params=params, timestamp=TS, window=WINDOW)
    assert candidates[0] == client_string("orderExecute", params, ccxt=False)
    assert len(candidates) == 1  # safe ASCII: raw and percent-encoded forms coincide
    assert verify(api_key_b64=API_KEY, signature_b64=sign(SECRET, candidates[0]), candidates=candidates)


@settings(max_examples=50, deadline=None)
@given(
    params=st.dictionaries(KEYS, st.text(st.characters(exclude_categories=["Cs"]), max_size=12), max_size=6)
)
def test_round_trip_any_text_raw_and_ccxt_encoded(params):
    for ccxt_style in (False, True):
        signature = sign(SECRET, client_string("withdraw", params, ccxt=ccxt_style))
        assert server_accepts("withdraw", params, signature)


@settings(max_examples=200, deadline=None)
@given(
    api_key=st.text(max_size=100) | st.binary(min_size=32, max_size=32).map(b64),
    signature=st.text(max_size=120) | st.binary(min_size=64, max_size=64).map(b64),
    candidate=st.text(max_size=50),
)
def test_arbitrary_key_and_signature_text_never_raises(api_key, signature, candidate):
    assert verify(api_key_b64=api_key, signature_b64=signature, candidates=[candidate]) is False
    with contextlib.suppress(SigningError):
        normalize_public_key(api_key)


@settings(max_examples=200, deadline=None)
@given(
    timestamp=st.text(max_size=25) | st.integers().map(str),
    window=st.none() | st.text(max_size=12) | st.integers().map(str),
    now_ms=st.integers(min_value=0, max_value=2**63),
)
def test_arbitrary_timestamp_text_only_raises_signing_error(timestamp, window, now_ms):
    try:
        effective = check_timestamp(timestamp=timestamp, window=window, now_ms=now_ms)
    except SigningError:
        return
    assert 0 < effective <= 60000


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(max_size=100),
    key=st.text(max_size=20),
    value=st.text(max_size=20),
    body=st.binary(max_size=40) | st.text(max_size=40),
)
def test_arbitrary_secret_params_and_body_only_raise_signing_error(secret, key, value, body):
    for call in (
        lambda: sign(secret, value),
        lambda: public_key_from_secret(secret),
        lambda: signing_strings(instruction=value, params={key: value}, timestamp=value, window=value),
        lambda: batch_signing_strings(instruction=value, items=[{key: value}], timestamp=value, window=value),
        lambda: parse_json_params(body),
        lambda: parse_query_params(value),
    ):
        with contextlib.suppress(SigningError):
            call()


def test_json_dump_of_signed_body_round_trips_through_parse():
    # What the project's own test clients do: sign signing_strings(...)[0], send json.dumps(body).
    body = {"symbol": "SOL_USDC", "price": "100.5", "quantity": "2", "clientId": 7, "postOnly": False}
    message = signing_strings(instruction="orderExecute", params=body, timestamp=TS, window=WINDOW)[0]
    received = parse_json_params(json.dumps(body).encode())
    assert server_accepts("orderExecute", received, sign(SECRET, message))

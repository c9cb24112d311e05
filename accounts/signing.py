"""ED25519 request signing as Backpack Exchange API v1 clients do it (pure: stdlib + `cryptography`).

The server rebuilds the string a client signed and checks the `X-Signature` header against it. Real
clients disagree on a few rendering details (see docs/reference §2.3 and §10.4), so instead of one
string we build every variant a supported client could have signed and accept a match on any:

* raw value text (SDK A, SDK B, and ccxt whenever values are plain) vs ccxt's percent-encoding
  (`urlencode(..., quote_via=quote)`: everything except ``A-Za-z0-9_.-~`` is escaped);
* GET query values ``True``/``False`` (what `requests` puts in the URL) vs the signed ``true``/``false``.

Values are rendered as text before signing. Pass them either as the text received (query values, or
JSON numbers kept as their raw JSON text, see `parse_json_params`) or as Python objects:

====================  =================================================================
``str``               as is; ``"True"``/``"False"`` are tried lower-cased first, then verbatim
``bool``              ``"true"`` / ``"false"`` (every client signs lower-case)
``int``               ``str(value)``, so ``123`` and ``"123"`` sign the same (clientId quirk)
``Decimal``/``float`` ``str(value)``; prefer raw JSON text, since ``1e2`` != ``str(100.0)``
``None``              ``"null"``, the JSON text (clients normally omit absent values)
anything else         `SigningError` (nested objects/arrays: no client signs them reproducibly)
====================  =================================================================

Every failure on malformed input is a `SigningError` (a `ValueError`), never another exception, and
`verify` never raises: a bad key or signature is just "not verified".
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from urllib.parse import parse_qsl, quote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "DEFAULT_WINDOW_MS",
    "MAX_WINDOW_MS",
    "MalformedSignatureHeaders",
    "ParamValue",
    "Params",
    "RequestExpired",
    "RequestFromFuture",
    "SigningError",
    "batch_signing_strings",
    "check_timestamp",
    "generate_keypair",
    "normalize_public_key",
    "parse_json_params",
    "parse_query_params",
    "public_key_from_secret",
    "sign",
    "signing_strings",
    "subscribe_signing_string",
    "verify",
]

DEFAULT_WINDOW_MS = 5000  # used, and signed as "5000", when X-Window is absent [D]
MAX_WINDOW_MS = 60000

ParamValue = str | bool | int | float | Decimal | None
Params = Mapping[str, ParamValue] | Iterable[tuple[str, ParamValue]]


class SigningError(ValueError):
    """Malformed key, secret, signature headers or parameters."""


class MalformedSignatureHeaders(SigningError):
    """X-Timestamp / X-Window are not plain decimal integers, or the window is out of range."""


class RequestExpired(SigningError):
    """The request arrived after timestamp + window."""


class RequestFromFuture(SigningError):
    """The timestamp is further ahead of the server clock than the window allows."""


# --- keys -------------------------------------------------------------------------------------------

_SEED_LEN = 32
_PUBLIC_KEY_LEN = 32
_SIGNATURE_LEN = 64


def _b64decode(text: object, lengths: tuple[int, ...], what: str) -> bytes:
    # Strict standard alphabet with padding: every client sends exactly that, and being strict means
    # one header value maps to one byte string (no whitespace or URL-safe look-alikes).
    if not isinstance(text, str) or len(text) not in {4 * ((n + 2) // 3) for n in lengths}:
        raise SigningError(f"{what} must be base64 of {' or '.join(map(str, lengths))} bytes")
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as exc:  # binascii.Error, or non-ASCII text
        raise SigningError(f"{what} is not valid base64") from exc
    if len(raw) not in lengths:
        raise SigningError(f"{what} must be base64 of {' or '.join(map(str, lengths))} bytes")
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _private_key(secret_b64: str) -> Ed25519PrivateKey:
    # ccxt keeps the first 32 bytes of the decoded secret, so a 64-byte seed||pubkey secret works there;
    # accept it too. We always issue 32-byte seeds because SDK A/B require exactly 32.
    raw = _b64decode(secret_b64, (_SEED_LEN, 2 * _SEED_LEN), "secret")
    return Ed25519PrivateKey.from_private_bytes(raw[:_SEED_LEN])


def generate_keypair() -> tuple[str, str]:
    """Return ``(api_key_b64, secret_b64)``: the public key and the 32-byte seed, 44 base64 chars each."""
    private = Ed25519PrivateKey.generate()
    return _b64encode(private.public_key().public_bytes_raw()), _b64encode(private.private_bytes_raw())


def public_key_from_secret(secret_b64: str) -> str:
    """The API key (base64 public key) for a base64 secret (32-byte seed, or 64-byte seed||pubkey)."""
    return _b64encode(_private_key(secret_b64).public_key().public_bytes_raw())


# Curve25519 in Edwards form, for point validation only. OpenSSL (hence `cryptography`) accepts any 32
# bytes as a public key, so without this a registered key could be garbage, or a small-order point
# for which signatures are trivially forgeable (RFC 8032 §5.1.3 decoding, plus a cofactor check).
_P = 2**255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _decode_point(raw: bytes) -> tuple[int, int] | None:
    y = int.from_bytes(raw, "little")
    x_sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _P:
        return None  # non-canonical encoding
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    vxx = v * x * x % _P
    if vxx == (-u) % _P:
        x = x * _SQRT_M1 % _P
    elif vxx != u:
        return None  # no x for this y: not on the curve
    if x == 0 and x_sign:
        return None
    if x & 1 != x_sign:
        x = _P - x
    return x, y


def _double(point: tuple[int, int]) -> tuple[int, int]:
    x, y = point
    xy = x * y % _P
    dxxyy = _D * xy * xy % _P
    x3 = 2 * xy * pow(1 + dxxyy, _P - 2, _P) % _P
    y3 = (y * y + x * x) * pow(1 - dxxyy, _P - 2, _P) % _P
    return x3, y3


def _is_small_order(point: tuple[int, int]) -> bool:
    for _ in range(3):  # [8]P: the cofactor kills the whole small-order torsion
        point = _double(point)
    return point == (0, 1)


def _public_key_bytes(api_key_b64: object) -> bytes:
    raw = _b64decode(api_key_b64, (_PUBLIC_KEY_LEN,), "API key")
    point = _decode_point(raw)
    if point is None:
        raise SigningError("API key is not a valid Ed25519 point")
    if _is_small_order(point):
        raise SigningError("API key is a small-order (weak) Ed25519 point")
    return raw


def normalize_public_key(api_key_b64: str) -> str:
    """Validate a base64 Ed25519 public key and return its canonical base64 (the stored form)."""
    return _b64encode(_public_key_bytes(api_key_b64))


# --- signing strings ------------------------------------------------------------------------------


def _render(value: object) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):  # before int: bool is an int subclass
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float | Decimal):
        if not (math.isfinite(value) if isinstance(value, float) else value.is_finite()):
            raise SigningError("non-finite numbers cannot be signed")
        text = str(value)
    elif value is None:
        text = "null"
    else:
        raise SigningError(f"cannot sign a parameter value of type {type(value).__name__}")
    _check_text(text)
    return text


def _check_text(text: str) -> None:
    # A lone surrogate (possible via a JSON "\ud800" escape) has no UTF-8 form, so no client can
    # have signed it; refuse here instead of failing with UnicodeEncodeError later.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SigningError("parameters must be valid Unicode text") from exc


def _pairs(params: object) -> list[tuple[str, str]]:
    items: Iterable[object]
    if isinstance(params, Mapping):
        items = params.items()
    elif isinstance(params, Iterable) and not isinstance(params, str | bytes):
        items = params
    else:
        raise SigningError("params must be a mapping or a list of (key, value) pairs")
    pairs: list[tuple[str, str]] = []
    for item in items:
        if not (isinstance(item, tuple | list) and len(item) == 2 and isinstance(item[0], str)):
            raise SigningError("each param must be a (str key, value) pair")
        _check_text(item[0])
        pairs.append((item[0], _render(item[1])))
    # Plain byte order: for valid Unicode, code-point order equals UTF-8 byte order. Sorting by key
    # only keeps repeated keys (marketType=SPOT&marketType=PERP) in their received order.
    pairs.sort(key=lambda pair: pair[0])
    return pairs


# The four renderings, most common first: (lower-case True/False strings, percent-encode).
_VARIANTS = ((True, False), (False, False), (True, True), (False, True))
_BOOL_TEXT = {"True": "true", "False": "false"}


def _join(pairs: list[tuple[str, str]], *, lower: bool, encode: bool) -> str:
    parts = []
    for key, value in pairs:
        if lower:
            value = _BOOL_TEXT.get(value, value)
        if encode:
            # quote(safe="") leaves exactly A-Za-z0-9_.-~ unescaped, as ccxt's urlencode(quote_via=quote).
            key, value = quote(key, safe=""), quote(value, safe="")
        parts.append(f"{key}={value}")
    return "&".join(parts)


def _dedupe(candidates: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(candidates))


def signing_strings(*, instruction: str, params: Params, timestamp: str, window: str) -> list[str]:
    """Every string a supported client may have signed for one request, most likely first.

    ``params`` are the GET query pairs or the top-level keys of the JSON body object: a mapping, or
    a list of ``(key, value)`` pairs when keys repeat. ``timestamp``/``window`` are the header texts
    (``"5000"`` when X-Window was absent).
    """
    pairs = _pairs(params)
    tail = f"timestamp={timestamp}&window={window}"

    def build(lower: bool, encode: bool) -> str:
        body = _join(pairs, lower=lower, encode=encode)
        return f"instruction={instruction}&{body}&{tail}" if body else f"instruction={instruction}&{tail}"

    return _dedupe(build(lower, encode) for lower, encode in _VARIANTS)


def batch_signing_strings(
    *, instruction: str, items: Sequence[Mapping[str, ParamValue]], timestamp: str, window: str
) -> list[str]:
    """Candidates for a batch body (a JSON array, POST /api/v1/orders).

    Each item contributes ``instruction=<instruction>&<its sorted pairs>`` in array order; the parts
    are joined with ``&`` and followed by ``&timestamp=..&window=..``.
    """
    if isinstance(items, Mapping | str | bytes) or not isinstance(items, Sequence) or not items:
        raise SigningError("a batch must be a non-empty list of objects")
    if not all(isinstance(item, Mapping) for item in items):
        raise SigningError("every batch item must be an object")
    per_item = [_pairs(item) for item in items]
    tail = f"timestamp={timestamp}&window={window}"

    def build(lower: bool, encode: bool) -> str:
        parts = []
        for pairs in per_item:
            body = _join(pairs, lower=lower, encode=encode)
            parts.append(f"instruction={instruction}&{body}" if body else f"instruction={instruction}")
        return "&".join(parts) + "&" + tail

    return _dedupe(build(lower, encode) for lower, encode in _VARIANTS)


def subscribe_signing_string(timestamp: str, window: str) -> str:
    """What a WS client signs for a private SUBSCRIBE/UNSUBSCRIBE (stream names are not included)."""
    return f"instruction=subscribe&timestamp={timestamp}&window={window}"


def _reject_constant(name: str) -> object:
    raise SigningError(f"{name} is not valid JSON")


def parse_json_params(body: bytes | str) -> dict[str, object] | list[dict[str, object]]:
    """Parse a request body for signing: numbers stay as their exact JSON text.

    Signing is over the text the client rendered, so ``"price": 1.50`` must sign as ``1.50``, not
    as a reformatted float. Returns a dict (an object body) or a list of dicts (a batch). An empty
    body means no params. Use the result only for signing; validate the body separately.
    """
    if isinstance(body, bytearray):
        body = bytes(body)
    if not isinstance(body, bytes | str):
        raise SigningError("body must be bytes or text")
    if not body.strip():
        return {}
    try:
        data = json.loads(body, parse_int=str, parse_float=str, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise SigningError("body is not valid JSON") from exc
    if isinstance(data, dict):
        return data
    if isinstance(data, list) and all(isinstance(item, dict) for item in data):
        return data
    raise SigningError("body must be a JSON object or an array of objects")


def parse_query_params(query_string: str) -> list[tuple[str, str]]:
    """Decode a raw query string into ``(key, value)`` pairs, keeping repeats and blank values."""
    if not isinstance(query_string, str):
        raise SigningError("query string must be text")
    return parse_qsl(query_string, keep_blank_values=True)


# --- signing and verification ---------------------------------------------------------------------


def sign(secret_b64: str, message: str) -> str:
    """Base64 ED25519 signature of the UTF-8 message (what clients put in X-Signature)."""
    return signer(secret_b64)(message)


def signer(secret_b64: str) -> Callable[[str], str]:
    """`sign` with the secret decoded once, for a client signing many requests (bench/api)."""
    private = _private_key(secret_b64)

    def sign_message(message: str) -> str:
        if not isinstance(message, str):
            raise SigningError("message must be text")
        _check_text(message)
        return _b64encode(private.sign(message.encode("utf-8")))

    return sign_message


@functools.lru_cache(maxsize=4096)
def _verifier(api_key_b64: str) -> Ed25519PublicKey:
    """The key's verifier, after the point checks. Those are pure-Python curve arithmetic, ~0.6 ms,
    more than the signature check itself, and their answer for a given key never changes."""
    return Ed25519PublicKey.from_public_bytes(_public_key_bytes(api_key_b64))


def verify(*, api_key_b64: str, signature_b64: str, candidates: Iterable[str]) -> bool:
    """True if the signature verifies under the key for any candidate string. Never raises."""
    try:
        public = _verifier(api_key_b64)
        signature = _b64decode(signature_b64, (_SIGNATURE_LEN,), "signature")
    except (SigningError, TypeError):  # TypeError: an unhashable key object is no key
        return False
    for candidate in candidates:
        try:
            public.verify(signature, candidate.encode("utf-8"))
        except (InvalidSignature, UnicodeEncodeError, AttributeError):
            continue
        return True
    return False


# --- freshness ------------------------------------------------------------------------------------

# ASCII digits only: int() would also take " 12", "+12", "1_000" and non-ASCII digits, none of which
# a client sends, and any of which would make the signed text differ from the number we check.
_TIMESTAMP_RE = re.compile(r"[0-9]{1,20}")
_WINDOW_RE = re.compile(r"[0-9]{1,10}")


def check_timestamp(
    *,
    timestamp: str,
    window: str | None,
    now_ms: int,
    max_window_ms: int = MAX_WINDOW_MS,
    default_window_ms: int = DEFAULT_WINDOW_MS,
) -> int:
    """Check X-Timestamp/X-Window against the server clock and return the effective window (ms).

    A missing window (``None``) means ``default_window_ms``; the signing string then carries
    ``str(default_window_ms)``. A present but empty window is malformed.
    """
    if not isinstance(timestamp, str) or not _TIMESTAMP_RE.fullmatch(timestamp):
        raise MalformedSignatureHeaders("Invalid X-Timestamp header")
    if window is None:
        window_ms = default_window_ms
    elif isinstance(window, str) and _WINDOW_RE.fullmatch(window):
        window_ms = int(window)
    else:
        raise MalformedSignatureHeaders("Invalid X-Window header")
    if not 0 < window_ms <= max_window_ms:
        raise MalformedSignatureHeaders(f"X-Window must be between 1 and {max_window_ms}")
    ts = int(timestamp)
    if now_ms > ts + window_ms:
        raise RequestExpired("Request has expired")
    if ts > now_ms + window_ms:
        raise RequestFromFuture("Request timestamp is in the future")
    return window_ms

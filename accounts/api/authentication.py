"""Backpack request signatures for DRF: X-API-Key is the ED25519 public key that verifies X-Signature.

The instruction a signature must name comes from the view (`BackpackApi.instructions`), the params
from the query string (GET) or the JSON body (POST, PATCH, DELETE: DELETE carries a body). Unsigned
requests to public endpoints pass through as anonymous.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts import signing
from accounts.models import ApiKey, User
from core.api_prepared import prepared_cursor
from core.api_rows import row_shape
from core.errors import InvalidRequest, InvalidSignature, Unauthorized

# Recording last use on every request would make each signed call a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _headers(request: Request) -> tuple[str | None, str | None, str | None, str | None]:
    meta = request.META
    return (
        meta.get("HTTP_X_API_KEY"),
        meta.get("HTTP_X_SIGNATURE"),
        meta.get("HTTP_X_TIMESTAMP"),
        meta.get("HTTP_X_WINDOW"),
    )


def _api_key_get(public_key: str) -> ApiKey | None:
    """The unrevoked key with its user, one indexed read on every signed call (plain SQL: the ORM
    compiling this join cost ten times the query, docs/PERFORMANCE.md). Read fresh each time, so a
    revoked key or a deactivated user is refused from the next request on."""
    found = api_key_read(public_key)
    return None if found is None else found[0]


def api_key_read(public_key: str, extra: str = "") -> tuple[ApiKey, tuple[Any, ...]] | None:
    """`_api_key_get`'s read, with the values of `extra` (more select-list expressions over the
    key `k` and user `u`) after the key."""
    key_shape, user_shape = row_shape(ApiKey), row_shape(User)
    with prepared_cursor() as cursor:
        cursor.execute(
            f"SELECT {key_shape.select('k')}, {user_shape.select('u')}{', ' + extra if extra else ''}"  # noqa: S608  (columns from _meta)
            ' FROM accounts_apikey k JOIN accounts_user u ON u.id = k."user_id"'
            " WHERE k.public_key = %s AND k.revoked_at IS NULL",
            [public_key],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    key = key_shape.instance(row)
    key.user = user_shape.instance(row, key_shape.width)
    return key, tuple(row[key_shape.width + user_shape.width :])


def _candidates(
    *, method: str, instruction: str, query_string: str, body: bytes, timestamp: str, window: str
) -> list[str]:
    """Every signing string a supported client could have produced for this request."""
    try:
        if method == "GET":
            params: Any = signing.parse_query_params(query_string)
            return signing.signing_strings(
                instruction=instruction, params=params, timestamp=timestamp, window=window
            )
        parsed = signing.parse_json_params(body)
        if isinstance(parsed, list):
            return signing.batch_signing_strings(
                instruction=instruction, items=parsed, timestamp=timestamp, window=window
            )
        return signing.signing_strings(
            instruction=instruction, params=parsed, timestamp=timestamp, window=window
        )
    except signing.SigningError as exc:
        raise InvalidRequest(str(exc)) from exc


def signed_caller(
    *,
    method: str,
    instruction: str,
    api_key: str,
    signature: str,
    timestamp: str,
    window: str | None,
    query_string: str,
    body: bytes,
    key_get: Callable[[str], ApiKey | None] | None = None,
) -> tuple[User, ApiKey]:
    """The user and key behind a signed request whose three headers are present: freshness, the
    key (unrevoked, its user active), then the signature over the query string (GET) or the raw
    body. Raises InvalidRequest (401 when expired or from the future), Unauthorized,
    InvalidSignature. Also used by the order calls served on the event loop (exchange/api/fast_orders.py),
    which may pass `key_get`: the key look-up to use instead of a fresh read."""
    try:
        window_ms = signing.check_timestamp(
            timestamp=timestamp,
            window=window,
            now_ms=time.time_ns() // 1_000_000,
            max_window_ms=settings.API_SIGNATURE_MAX_WINDOW_MS,
            default_window_ms=settings.API_SIGNATURE_DEFAULT_WINDOW_MS,
        )
    except (signing.RequestExpired, signing.RequestFromFuture) as exc:
        raise InvalidRequest(str(exc), status=401) from exc
    except signing.SigningError as exc:
        raise InvalidRequest(str(exc)) from exc
    key = (key_get or _api_key_get)(api_key.strip())
    if key is None:
        raise Unauthorized("Invalid API key")
    if not key.user.is_active:
        raise Unauthorized("Account is deactivated", code="ACCOUNT_DEACTIVATED")
    candidates = _candidates(
        method=method,
        instruction=instruction,
        query_string=query_string,
        body=body,
        timestamp=timestamp,
        window=window if window is not None else str(window_ms),
    )
    if not signing.verify(api_key_b64=key.public_key, signature_b64=signature, candidates=candidates):
        raise InvalidSignature("Invalid signature")
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now  # a key kept by a cache (`key_get`) is not written again for a minute
    return key.user, key


class BackpackSignatureAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        view = request.parser_context.get("view") if request.parser_context else None
        instruction_for = getattr(view, "instruction_for", None)
        instruction = instruction_for(request.method) if instruction_for else None
        api_key, signature, timestamp, window = _headers(request)
        if instruction is None:
            return None  # a public endpoint: auth headers, if any, are ignored as Backpack does
        if not (api_key and signature and timestamp):
            return None  # BackpackApi.initial answers 401 for a signed endpoint
        django_request = request._request  # the raw body; DRF parses it again later from the cache
        method = request.method or "GET"
        return signed_caller(
            method=method,
            instruction=instruction,
            api_key=api_key,
            signature=signature,
            timestamp=timestamp,
            window=window,
            query_string=django_request.META.get("QUERY_STRING", "") if method == "GET" else "",
            body=django_request.body if method != "GET" else b"",
        )

    def authenticate_header(self, request: Request) -> str:
        return "X-Signature"

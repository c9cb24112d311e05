"""Signed `POST /api/v1/order` and `DELETE /api/v1/order` served from the event loop.

These two calls are nearly all of a trading client's traffic. Through Django each one built a
request, ran nine middlewares and DRF's dispatch (negotiation, parsing, authentication, the view,
rendering) and then kept a thread asleep while the matching worker worked, and under load the web
process spent twice the in-process CPU of the call in that machinery and in handing the
interpreter between many threads (docs/PERFORMANCE.md, REST API round 6). Here the HTTP handler
(config/asgi_http.py) hands such a call to `serve`, which makes one trip to a worker thread for
what needs the database, with the same code as the view (`signed_caller`, `_market`,
`order_request_from`, `_order_selector`, `order_submit`, `order_cancel_submit`), waits for the
worker's answer on the loop (exchange/services/done_listener.py), and renders the same JSON with
the same headers. Errors are Backpack's body with the status the DRF exception handler gives.

Only a request this path answers exactly as Django would is taken (`fast_order_call`): the three
signature headers present once each, a JSON body of a known, modest length, no query string, a
valid Host, and an Accept header that DRF's negotiation would meet with plain JSON. Anything else,
a session-authenticated call from the web UI included, goes to Django unchanged.
`API_FAST_ORDERS = False` (env) turns the path off.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.core import signals
from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError
from django.http.request import split_domain_port, validate_host
from rest_framework.renderers import JSONRenderer

from accounts.api.authentication import signed_caller
from accounts.models import ApiKey, User
from core.api import error_body
from core.api_views import body_object_of
from core.errors import DomainError, InvalidRequest
from exchange.api.order_json import order_json
from exchange.api.orders import OrderApi, _market, _order_selector, order_request_from
from exchange.api.seen_rows import SeenKey, seen_forget, seen_key, seen_market, seen_rows_of
from exchange.models import Market, Order
from exchange.services.done_listener import Answer, done_listener_here
from exchange.services.doorbell import command_done_answer
from exchange.services.orders import (
    SeenRows,
    SeenRowsChanged,
    commits_durable,
    order_cancel_submit,
    order_check_answer,
    order_from_answer,
    order_reread,
    order_submit,
)

logger = logging.getLogger(__name__)

PATHS = frozenset({"/api/v1/order", "/api/v1/order/"})
# A larger body goes to Django, which applies its own size limits.
MAX_BODY_BYTES = 16 * 1024
_ACCEPTED = frozenset({"*/*", "application/*", "application/json"})
_SIGNATURE_HEADERS = (b"x-api-key", b"x-signature", b"x-timestamp")

# What Django's middleware (SecurityMiddleware, XFrameOptionsMiddleware) and DRF's view add to
# these calls' answers; tests/api/test_fast_orders.py holds both paths to the same headers.
# `Allow` as Django's View lists it: its handlers in `http_method_names` order, HEAD served by GET.
_ALLOW = ", ".join(
    name.upper()
    for name in OrderApi.http_method_names
    if hasattr(OrderApi, name) or (name == "head" and hasattr(OrderApi, "get"))
)

T = TypeVar("T")
Run = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class FastCall:
    scope: dict[str, Any]
    method: str
    api_key: str
    signature: str
    timestamp: str
    window: str | None


def fast_order_call(scope: dict[str, Any]) -> FastCall | None:
    """The call if this path serves it exactly as Django would, else None (Django serves it)."""
    method = scope.get("method")
    if (
        method not in ("POST", "DELETE")
        or scope.get("path") not in PATHS
        or scope.get("query_string")
        or scope.get("root_path")
        or not settings.API_FAST_ORDERS
        or settings.SECURE_SSL_REDIRECT
    ):
        return None
    seen: dict[bytes, bytes] = {}
    for name, value in scope.get("headers", ()):
        name = name.lower()
        if name in seen:
            return None  # Django would join repeated headers: leave the oddity to it
        seen[name] = value
    if not all(seen.get(name) for name in _SIGNATURE_HEADERS):
        return None
    content_type = seen.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    length = seen.get(b"content-length", b"")
    if content_type != b"application/json" or not length.isdigit() or not 0 < int(length) <= MAX_BODY_BYTES:
        return None
    accept = seen.get(b"accept")
    if accept is not None:
        items = [item.strip() for item in accept.decode("latin-1").split(",")]
        if any(";" in item for item in items) or not _ACCEPTED.intersection(items):
            return None
    host = seen.get(b"host")
    if host is None or not validate_host(
        split_domain_port(host.decode("latin-1"))[0], settings.ALLOWED_HOSTS
    ):
        return None
    window = seen.get(b"x-window")
    return FastCall(
        scope=scope,
        method=method,
        api_key=seen[b"x-api-key"].decode("latin-1"),
        signature=seen[b"x-signature"].decode("latin-1"),
        timestamp=seen[b"x-timestamp"].decode("latin-1"),
        window=None if window is None else window.decode("latin-1"),
    )


async def serve(call: FastCall, receive: Any, send: Any, run: Run) -> None:
    """Answer the call. `run(function, *args)` runs a function on the request's worker thread."""
    body = await _read_body(receive)
    if body is None:
        return  # the client went away
    try:
        order, sequence = await run(_in_request, call, _submit, call, body)
        answer = await _answer(call, order, sequence, run)
        if answer is None:  # no durable batch of the worker's covers the command: make it durable
            await run(_in_request, call, commits_durable)
        else:
            answered = order_from_answer(order, answer)
            order = answered if answered is not None else await run(_in_request, call, order_reread, order)
        if call.method == "POST":
            order_check_answer(order)
        status, data = 200, order_json(order)
    except DomainError as exc:
        status, data = exc.status, error_body(exc.code, exc.message)
    except Exception as exc:  # as core.api.exception_handler: logged, answered without details
        logger.exception("unhandled API error", exc_info=exc)
        status, data = 500, error_body("SERVER_ERROR", "Internal server error")
    await _respond(send, status, data)


def _in_request(call: FastCall, function: Callable[..., T], *args: Any) -> T:
    """On the worker thread, as Django frames a request: queries reset and stale connections
    closed at the start, the request's connections given back (to the pool) at the end."""
    signals.request_started.send(sender=FastCall, scope=call.scope)
    try:
        return function(*args)
    finally:
        signals.request_finished.send(sender=FastCall)


class _ReadAfresh(Exception):
    """The call, tried on cached rows, must be made again on rows read afresh."""


def _submit(call: FastCall, body: bytes) -> tuple[Order, int]:
    """What `OrderApi.post` / `OrderApi.delete` do before the wait. First on the key, user,
    market and assets this process has cached (exchange/api/seen_rows.py), the order statement
    checking they still hold; if they do not, or the call is refused for any reason, again on
    fresh reads, so every refusal and every answer is what a fresh read gives."""
    if settings.API_SEEN_ROWS:
        try:
            return _submit_seen(call, body)
        except _ReadAfresh:
            pass
    return _submit_fresh(call, body)


def _submit_seen(call: FastCall, body: bytes) -> tuple[Order, int]:
    public_key = call.api_key.strip()
    symbol = None
    try:
        data = body_object_of(_parse(body))
        symbol = data.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            raise _ReadAfresh
        found: list[SeenKey] = []

        def key_get(public_key: str) -> ApiKey | None:
            seen = seen_key(public_key)
            if seen is None:
                return None
            found.append(seen)
            return seen.key

        user = _caller(call, body, key_get)
        place = seen_market(symbol)
        if place is None:
            raise _ReadAfresh
        return _order_call(call, user, place.market, data, seen_rows_of(found[0], place))
    except (DomainError, SeenRowsChanged, IntegrityError, ObjectDoesNotExist) as exc:
        # The last two: a cached row was deleted (no ledger account could be made for it).
        seen_forget(public_key=public_key, symbol=symbol)
        raise _ReadAfresh from exc


def _submit_fresh(call: FastCall, body: bytes) -> tuple[Order, int]:
    """What `OrderApi.post` / `OrderApi.delete` do before the wait, in the same order."""
    user = _caller(call, body)
    data = body_object_of(_parse(body))
    return _order_call(call, user, _market(data.get("symbol")), data)


def _caller(call: FastCall, body: bytes, key_get: Callable[[str], ApiKey | None] | None = None) -> User:
    user, _ = signed_caller(
        method=call.method,
        instruction=OrderApi.instructions[call.method],
        api_key=call.api_key,
        signature=call.signature,
        timestamp=call.timestamp,
        window=call.window,
        query_string="",
        body=body,
        key_get=key_get,
    )
    return user


def _order_call(
    call: FastCall, user: User, market: Market, data: dict[str, Any], seen: SeenRows | None = None
) -> tuple[Order, int]:
    if call.method == "POST":
        order = order_submit(user=user, market=market, request=order_request_from(data), seen=seen)
        return order, order.sequence
    order_id, client_id = _order_selector(data)
    return order_cancel_submit(user=user, market=market, order_id=order_id, client_id=client_id, seen=seen)


def _parse(body: bytes) -> Any:
    """As DRF with core.parsers.DecimalJSONParser: UTF-8 JSON, numbers with a fraction as Decimal."""
    try:
        return json.loads(body.decode("utf-8"), parse_float=Decimal)
    except ValueError as exc:
        raise InvalidRequest("Request body is not valid JSON") from exc


async def _answer(call: FastCall, order: Order, sequence: int, run: Run) -> Answer | None:
    """The worker's answer within the wait (None: none came), awaited on this loop's listener;
    where there is none yet, a thread waits for it as the Django path does."""
    timeout = settings.ORDER_RESULT_WAIT_SECONDS
    if timeout <= 0:
        return None
    listener = done_listener_here()
    if listener is not None:
        return await listener.wait_async(market_id=order.market_id, sequence=sequence, timeout=timeout)
    answer: Answer | None = await run(
        functools.partial(command_done_answer, market_id=order.market_id, sequence=sequence, timeout=timeout)
    )
    return answer


async def _read_body(receive: Any) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


_RENDERER = JSONRenderer()


async def _respond(send: Any, status: int, data: dict[str, Any]) -> None:
    body = _RENDERER.render(data)
    headers = [
        (b"content-type", b"application/json"),
        (b"allow", _ALLOW.encode()),
        *_middleware_headers(),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _middleware_headers() -> list[tuple[bytes, bytes]]:
    """What SecurityMiddleware and XFrameOptionsMiddleware add to a response, from the settings."""
    headers = []
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append((b"x-content-type-options", b"nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        value = policy if isinstance(policy, str) else ",".join(policy)
        headers.append((b"referrer-policy", value.encode()))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append((b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode()))
    headers.append((b"x-frame-options", settings.X_FRAME_OPTIONS.encode()))
    return headers

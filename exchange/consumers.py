"""The WebSocket API at `/` (§8 of the API reference): SUBSCRIBE / UNSUBSCRIBE to public and
private streams, events from the outbox publisher (exchange/services/outbox.py).

Thin and read-only: it parses, authenticates each private SUBSCRIBE by its signature, joins its
account's groups (exchange/streams.py) and its process's hub for public streams
(exchange/stream_hub.py), and forwards what the publisher sends. A connection is bound to the account
of its first authenticated SUBSCRIBE and only ever joins that account's group, so it can receive no
other account's events.

The web UI's own socket subscribes without a signature: it is authenticated by the session cookie
it carries, and only when its `Origin` is this site (`_origin_allowed`). A browser sends cookies on
a cross-site WebSocket too, so without that check any page a logged-in user visits could read their
orders and balances (cross-site WebSocket hijacking).

Private access ends when its credentials do (exchange/stream_auth.py): a revoked key or a frozen
account at once, by a message to the socket's groups; a logout, or anything a lost message missed,
at the next credential check, at most `stream_auth.RECHECK_SECONDS` apart while private events flow.
A signed SUBSCRIBE is accepted once: replayed on another socket it is refused.

Error frames are `{"id": null, "error": {"code", "message"}}`. ccxt rejects every pending watch on
the connection when one arrives (§8.1), so they are sent only for requests that are really wrong.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from accounts.models import User
from accounts.services.access import stream_refusal
from exchange import stream_auth, stream_hub, streams
from exchange.models import Market, MarketState
from exchange.stream_auth import FORBIDDEN_STREAM, INVALID_SIGNATURE, StreamError

logger = logging.getLogger(__name__)

INVALID_REQUEST = 4000
INVALID_STREAM = 4006
# ccxt fetches its REST snapshot once 11 deltas are cached (snapshotDelay 10, §8.6).
DEPTH_WARMUP_FRAMES = 11
# Close code when a depth gap is seen: the client's book is wrong and only a resync fixes it.
CLOSE_DEPTH_GAP = 4008
_MARKETS_TTL_SECONDS = 10.0
_markets: tuple[float, dict[str, Market]] = (0.0, {})


def _markets_by_symbol() -> dict[str, Market]:
    # A process-wide cache: markets change rarely, and a new one shows up within the TTL.
    global _markets
    loaded_at, markets = _markets
    if time.monotonic() - loaded_at > _MARKETS_TTL_SECONDS:
        markets = streams.market_symbols()
        _markets = (time.monotonic(), markets)
    return markets


def _origin_allowed(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the socket was opened by a page of this site: its `Origin` is in
    CSRF_TRUSTED_ORIGINS, or names the very host the socket connected to and that host is allowed.

    The host comparison, not ALLOWED_HOSTS alone, is the guard: ALLOWED_HOSTS may be `*`.
    Non-browser clients send no Origin (or any they like) and carry no cookie: they sign instead.
    """
    values = {name.lower(): value.decode("latin-1") for name, value in headers}
    origin, host = values.get(b"origin", ""), values.get(b"host", "")
    if not origin or not host:
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or parts.netloc.lower() != host.lower():
        return False
    domain, _port = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # as Django's own host check in DEBUG
    return bool(domain) and validate_host(domain, allowed)


def _streams_refused(
    user_id: int | None, session_key: str | None, wanted: list[streams.Stream], markets: dict[str, Market]
) -> dict[str, str]:
    """The streams an authenticated socket's account may not have (accounts.services.access:
    blocked country, no derivatives), name -> message; nothing for an anonymous socket."""
    if user_id is None and session_key is not None:
        user_id = stream_auth.account_for_session(session_key)
    user = User.objects.only("residence_country").filter(pk=user_id).first() if user_id else None
    if user is None:
        return {}
    refused = {}
    for stream in wanted:
        market = markets.get(stream.symbol or "")
        message = stream_refusal(user=user, kind=stream.kind, is_private=stream.is_private, market=market)
        if message is not None:
            refused[stream.name] = message
    return refused


def _initial_frames(stream: streams.Stream, market: Market) -> list[dict[str, Any]]:
    """What a new subscriber gets at once: the depth warm-up, or the current bookTicker, ticker or
    candle, so that a watch on a quiet market resolves without waiting for a trade."""
    if stream.kind == "depth":
        update_id = (
            MarketState.objects.filter(market_id=market.pk).values_list("last_update_id", flat=True).first()
        )
        payload = streams.depth_warmup_payload(market, update_id or 0)
        return [payload] * DEPTH_WARMUP_FRAMES
    if stream.kind == "bookTicker":
        return [streams.book_ticker_payload(market)]
    if stream.kind == "ticker":
        return [streams.ticker_payload(market)]
    if stream.kind == "kline":
        kline = streams.kline_payload(market, stream.interval or "1m")
        return [kline] if kline else []
    return []


class StreamConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.public: set[str] = set()
        self.private: set[str] = set()
        self.user_id: int | None = None
        # The credentials behind the private streams: re-checked before delivering private events
        # once `checked_at` is RECHECK_SECONDS old (stream_auth.credentials_refusal).
        self.api_key_ids: set[int] = set()
        self.session_granted = False
        self.checked_at = 0.0
        # Signed texts this socket claimed, until their claims expire: it may present them again,
        # no other socket may.
        self.claimed: dict[str, int] = {}
        # Per depth stream, the last update id sent: duplicates (a publisher retry) are skipped,
        # and a gap closes the socket, since ccxt would silently keep a wrong book (§8.6).
        self.depth_last: dict[str, int] = {}
        self.trade_last: dict[str, int] = {}
        # Every frame goes out through the writer, in order (exchange/stream_hub.py). Public
        # streams come from this process's hub; while a stream's initial frames are read, its
        # frames from the hub wait here, so that they follow the initial ones.
        self.writer = stream_hub.FrameWriter(self.base_send)
        self.joining: dict[str, list[stream_hub.Frame]] = {}
        # The session cookie counts only on a socket this site's own pages opened (see the module doc).
        cookies = self.scope.get("cookies") or {}
        self.session_key: str | None = None
        if _origin_allowed(self.scope.get("headers") or []):
            self.session_key = cookies.get(settings.SESSION_COOKIE_NAME) or None
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "writer"):
            self.writer.cancel()
        hub = stream_hub.stream_hub(self.channel_layer)
        for stream in getattr(self, "public", ()):
            await hub.leave(stream, self)
        if getattr(self, "private", None) and self.user_id is not None:
            await self.channel_layer.group_discard(streams.user_group(self.user_id), self.channel_name)
        for api_key_id in getattr(self, "api_key_ids", ()):
            await self.channel_layer.group_discard(streams.api_key_group(api_key_id), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = json.loads(text_data if text_data is not None else (bytes_data or b""))
        except (ValueError, RecursionError):
            self._send_error(INVALID_REQUEST, "Invalid JSON")
            return
        method = message.get("method") if isinstance(message, dict) else None
        method = method.upper() if isinstance(method, str) else None
        if method == "PING":
            self._send({"id": message.get("id"), "result": "PONG"})
            return
        params = message.get("params") if method in ("SUBSCRIBE", "UNSUBSCRIBE") else None
        if not isinstance(params, list):
            self._send_error(INVALID_REQUEST, "Invalid request")
            return
        if method == "UNSUBSCRIBE":
            await self._unsubscribe(params)
            return
        try:
            await self._subscribe(params, message.get("signature"))
        except StreamError as error:
            self._send_error(error.code, error.message)

    # --- subscriptions ------------------------------------------------------------------------------

    async def _subscribe(self, names: list[object], signature: object) -> None:
        """Subscribe every valid stream; raise the first error after doing so (one error frame)."""
        markets = await database_sync_to_async(_markets_by_symbol)()
        parsed = [streams.stream_parse(name, symbols=markets) for name in names]
        error = StreamError(INVALID_STREAM, "Invalid stream") if None in parsed else None
        wanted = [stream for stream in parsed if stream is not None]
        private = [stream for stream in wanted if stream.is_private]
        if private:
            try:
                await self._authenticate(signature)
            except StreamError as exc:
                error, wanted = exc, [stream for stream in wanted if not stream.is_private]
        refused: dict[str, str] = {}
        if self.user_id is not None or self.session_key is not None:  # anonymous sockets: public data only
            refused = await database_sync_to_async(_streams_refused)(
                self.user_id, self.session_key, wanted, markets
            )
        if refused:
            error = StreamError(FORBIDDEN_STREAM, next(iter(refused.values())))
            wanted = [stream for stream in wanted if stream.name not in refused]
        for stream in wanted:
            if stream.is_private:
                await self._join_private(stream)
            elif stream.name not in self.public:
                await self._join_public(stream, markets[stream.symbol or ""])
        if error is not None:
            raise error

    async def _authenticate(self, signature: object) -> None:
        # Re-checked on every private SUBSCRIBE: a revoked key, a stale or replayed signature, an
        # ended session or a frozen account subscribes nothing.
        checked_at = time.monotonic()
        if signature is None and self.session_key is not None:
            grant = await database_sync_to_async(stream_auth.grant_for_session)(self.session_key)
        else:
            grant = await database_sync_to_async(stream_auth.grant_for_signature)(
                signature, claimed=frozenset(self.claimed)
            )
        if self.user_id is None:
            self.user_id = grant.user_id
        elif self.user_id != grant.user_id:
            raise StreamError(INVALID_SIGNATURE, "This connection belongs to another account")
        # The socket's credentials were all valid at the older of their checks.
        if not self.api_key_ids and not self.session_granted:
            self.checked_at = checked_at
        if grant.claim is not None:
            # Pruned here, so a socket that subscribes all day keeps only its live claims.
            now_ms = time.time_ns() // 1_000_000
            self.claimed = {claim: end for claim, end in self.claimed.items() if end > now_ms}
            self.claimed[grant.claim] = grant.claim_expires_ms
        if grant.api_key_id is None:
            self.session_granted = True
        elif grant.api_key_id not in self.api_key_ids:
            # A revocation committed between the check above and this join is missed here, and
            # caught by the next credential check (stream_auth.RECHECK_SECONDS).
            await self.channel_layer.group_add(streams.api_key_group(grant.api_key_id), self.channel_name)
            self.api_key_ids.add(grant.api_key_id)

    async def _join_private(self, stream: streams.Stream) -> None:
        assert self.user_id is not None
        if not self.private:
            await self.channel_layer.group_add(streams.user_group(self.user_id), self.channel_name)
        self.private.add(stream.name)

    async def _join_public(self, stream: streams.Stream, market: Market) -> None:
        # Join first, then read: whatever commits after the read reaches the hub, hence this
        # socket; what committed before is in the initial frames or in the REST snapshot.
        self.joining[stream.name] = []
        self.public.add(stream.name)
        await stream_hub.stream_hub(self.channel_layer).join(stream.name, self)
        try:
            frames = await database_sync_to_async(_initial_frames)(stream, market)
        finally:
            waiting = self.joining.pop(stream.name, [])
        if stream.kind == "depth" and frames:
            self.depth_last[stream.name] = int(frames[0]["u"])
        for data in frames:
            self._send({"stream": stream.name, "data": data})
        # No await from the pop to here: nothing from the hub comes between.
        self.hub_frames(waiting)

    async def _unsubscribe(self, names: list[object]) -> None:
        # Unsubscribing from something not subscribed is not an error worth failing a client for.
        for name in names:
            if name in self.public:
                assert isinstance(name, str)
                self.public.discard(name)
                self.depth_last.pop(name, None)
                self.trade_last.pop(name, None)
                self.joining.pop(name, None)
                await stream_hub.stream_hub(self.channel_layer).leave(name, self)
            elif name in self.private:
                self.private.discard(name)  # type: ignore[arg-type]
                if not self.private and self.user_id is not None:
                    await self.channel_layer.group_discard(
                        streams.user_group(self.user_id), self.channel_name
                    )

    # --- events from the publisher ------------------------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every handler: a hop to the sync
        # thread. Publisher events touch no database, and at 1,000 sockets those hops took most of
        # the web process's time (docs/PERFORMANCE.md, "WebSocket fan-out").
        if message.get("type") == streams.EVENTS_MESSAGE_TYPE:
            await self.stream_events(message)
            return
        await super().dispatch(message)

    async def stream_events(self, message: dict[str, Any]) -> None:
        # Only private events reach the consumer's own channel: public ones come from the hub.
        user_id = message.get("user")
        if user_id is not None and user_id == self.user_id:
            await self._private_events(message["events"])

    def hub_frames(self, frames: list[stream_hub.Frame]) -> None:
        """Public frames from this process's hub (exchange/stream_hub.py), encoded once by the
        publisher (streams.stream_events_send) next to the ids that order them: every subscriber
        writes the same text without decoding the event. No await: the hub calls every socket."""
        for frame in frames:
            stream, kind, first_id, last_id, text = frame
            if stream not in self.public or self.writer.is_closed:
                continue  # unsubscribed while the message was on its way
            waiting = self.joining.get(stream)
            if waiting is not None:
                waiting.append(frame)
                continue
            if kind == "depth":
                last = self.depth_last.get(stream)
                if last is not None:
                    if last_id <= last:
                        continue
                    if first_id > last + 1:
                        logger.warning("depth gap on %s: %s after %s; closing", stream, first_id, last)
                        self.writer.close(CLOSE_DEPTH_GAP)
                        return
                self.depth_last[stream] = last_id
            elif kind == "trade":
                if last_id <= self.trade_last.get(stream, 0):
                    continue
                self.trade_last[stream] = last_id
            self.writer.write(text)

    async def _private_events(self, events: list[list[Any]]) -> None:
        # The per-event check is `self.private`, which an access end empties: no query per event.
        if not self.private:
            return
        if time.monotonic() - self.checked_at >= stream_auth.RECHECK_SECONDS:
            assert self.user_id is not None
            checked_at = time.monotonic()
            refusal = await database_sync_to_async(stream_auth.credentials_refusal)(
                user_id=self.user_id,
                api_key_ids=frozenset(self.api_key_ids),
                session_key=self.session_key if self.session_granted else None,
            )
            if refusal is not None:
                await self._private_end(refusal)
                return
            self.checked_at = checked_at
        for stream, data in events:
            if stream in self.private:
                self._send({"stream": stream, "data": data})
            symbol = data.get("s")
            if symbol and f"{stream}.{symbol}" in self.private:
                self._send({"stream": f"{stream}.{symbol}", "data": data})

    async def stream_access_end(self, message: dict[str, Any]) -> None:
        """A key this socket subscribed with was revoked, or its account frozen (streams.py)."""
        error = stream_auth.ACCESS_END_ERRORS.get(message.get("reason", ""))
        if error is not None:
            await self._private_end(error)

    async def _private_end(self, error: StreamError) -> None:
        """Drop every private stream and the credentials behind them; tell the client if it had
        any. The socket stays bound to its account, and public streams go on."""
        had_private = bool(self.private)
        if had_private and self.user_id is not None:
            await self.channel_layer.group_discard(streams.user_group(self.user_id), self.channel_name)
        self.private.clear()
        for api_key_id in self.api_key_ids:
            await self.channel_layer.group_discard(streams.api_key_group(api_key_id), self.channel_name)
        self.api_key_ids.clear()
        self.session_granted = False
        if had_private:
            self._send_error(error.code, error.message)

    # --- frames -------------------------------------------------------------------------------------

    def _send(self, frame: dict[str, Any]) -> None:
        self.writer.write(json.dumps(frame, separators=(",", ":")))

    def _send_error(self, code: int, message: str) -> None:
        self._send({"id": None, "error": {"code": code, "message": message}})

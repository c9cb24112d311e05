"""The outbox publisher: committed `OutboxEvent` rows to channel-layer groups, in id order.

The matching worker writes events in the transaction of the batch they describe
(exchange/services/settlement.py) and rings `NOTIFY satchel_outbox`, which PostgreSQL delivers at
commit. The publisher:

1. takes a PostgreSQL advisory lock, so exactly one publisher runs; a second one waits for it;
2. reads unpublished rows in id order, sends them, one message per group per round
   (exchange/streams.py), and marks them published by compare-and-set;
3. then sends what is derived from committed state (bookTicker, ticker, kline) for the markets
   that moved, throttled per market, and only for streams somebody watches;
4. sleeps until a NOTIFY or a short poll interval.

All of it runs in one thread, as plain blocking code: the statements prepared on the publisher's
one connection (core/api_prepared.py), a round's messages to Redis in one write
(exchange/services/outbox_send.py). Under load a round holds one or a few small batch rows, so
what a round costs besides its rows (ORM compiling, asyncio tasks and thread hops, a Redis round
trip per message, waiting for the mark's WAL flush) was most of the publisher's CPU (a py-spy
profile at 300 orders/s).

Rows: most writers store one event per row (`payload` an object). The matching worker stores one
row per batch (stream `matching.batch`): the batch's events in engine units and ids, which the
publisher renders into frames (exchange/services/outbox_batch.py); rendering them in the batch's
transaction, a row per event, cost the batch more time and WAL than its own fills
(docs/PERFORMANCE.md, sequencer). Rows holding a list of rendered events (one per stream and
user, as the worker stored them before) are expanded too. A round stops adding rows once it holds
`batch_size` events.

Ordering: one market's batches commit one after another (one writer per market), so within a
market id order is commit order, and one publisher sends each group's events in that order.
Markets interleave freely. Delivery is at least once: a crash between sending and marking sends
a round again; consumers drop depth and trade events they have already sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NamedTuple, TypeVar

from django.db import DatabaseError, connection
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from psycopg.types.numeric import Int8

from core.advisory_locks import AdvisoryNamespace
from core.api_prepared import prepared_cursor
from core.db_copy import array_literal
from exchange import streams
from exchange.models import Market, OutboxEvent
from exchange.selectors_market_data import KLINE_INTERVALS
from exchange.services.outbox_batch import (
    BATCH_STREAM,
    ORDER_FIELD_COLUMNS,
    batch_events_render,
    batch_order_entry,
)
from exchange.services.outbox_send import Message, Sender, sender_for

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "satchel_outbox"
ADVISORY_NAMESPACE = int(AdvisoryNamespace.OUTBOX_PUBLISHER)
ADVISORY_KEY = 1
BATCH_SIZE = 1000
# Without a NOTIFY (an event written elsewhere, a lost notification), a round still starts this often.
POLL_SECONDS = 0.05
LOCK_RETRY_SECONDS = 1.0
ERROR_BACKOFF_SECONDS = 1.0
# Derived streams, at most this often per market (Backpack: ticker each second, kline at most
# once a second); the last change is always sent once the interval has passed.
BOOK_TICKER_INTERVAL = 0.05
TICKER_INTERVAL = 1.0
KLINE_INTERVAL = 1.0
# Published rows are kept this long for inspection, then deleted a chunk at a time.
RETENTION = timedelta(days=1)
PRUNE_EVERY_SECONDS = 60.0
PRUNE_CHUNK = 10_000
MARKETS_RELOAD_SECONDS = 10.0

T = TypeVar("T")


def outbox_notify() -> None:
    """Wake the publisher when the caller's transaction commits (PostgreSQL delivers NOTIFY then,
    and folds repeats within one transaction into one)."""
    with connection.cursor() as cursor:
        cursor.execute(f"NOTIFY {NOTIFY_CHANNEL}")


class PendingEvent(NamedTuple):
    id: int
    stream: str
    user_id: int | None
    payload: dict[str, Any]


# Rows read per query while filling a round: grouped rows hold many events each.
_PAGE_ROWS = 100

# Prepared (core/api_prepared.py): the publisher runs these on every round, where the ORM spent
# more CPU compiling them than PostgreSQL running them.
# The read is one statement: a page of unpublished rows (the partial index on unpublished ids),
# then the fixed fields of the orders their batch rows name (`stream` NULL), which the frames
# need; a second statement for the orders cost the round another trip to PostgreSQL. The order ids
# go through an array, as `= ANY(%s)` would: the planner takes an array of unknown length for a few
# elements and looks the orders up by primary key, where the set-returning function's default
# estimate (100 rows per batch row) could make it scan the whole order table instead.
_PENDING_SQL = f"""WITH pending AS MATERIALIZED (
    SELECT id, stream, user_id, payload FROM exchange_outboxevent
     WHERE published_at IS NULL AND id > %s ORDER BY id LIMIT %s)
SELECT id, stream, user_id, payload, {", ".join(["NULL"] * len(ORDER_FIELD_COLUMNS))} FROM pending
UNION ALL
SELECT o.id, NULL, o.user_id, NULL, {", ".join("o." + column for column in ORDER_FIELD_COLUMNS)}
  FROM exchange_order o
 WHERE o.id = ANY(ARRAY(SELECT (event ->> 0)::bigint FROM pending p, jsonb_array_elements(
                   CASE WHEN p.stream = '{BATCH_STREAM}' THEN p.payload -> 'o' END) AS event))"""  # noqa: S608  (constants)
_MARK_SQL = (
    "UPDATE exchange_outboxevent SET published_at = %s WHERE id = ANY(%s::bigint[]) AND published_at IS NULL"
)


def _on(cursor: CursorWrapper | None) -> contextlib.AbstractContextManager[CursorWrapper]:
    """`cursor` as it is, else a prepared cursor of its own (closed after)."""
    return contextlib.nullcontext(cursor) if cursor is not None else prepared_cursor()


def outbox_pending(
    *, limit: int = BATCH_SIZE, cursor: CursorWrapper | None = None
) -> tuple[list[PendingEvent], list[int]]:
    """The oldest unpublished events, in id order (the partial index on unpublished ids), from
    whole rows until at least `limit` events or none left; and the ids of those rows. A grouped
    row's events share its id. A row that holds a whole matching batch counts its events as it is
    rendered: the rows after the one that reached `limit` wait for the next round. The orders
    named by a page's batch rows come with the page, in the same statement. `cursor`: a
    `prepared_cursor()` to run on (the publisher's round uses one for all its statements)."""
    events: list[PendingEvent] = []
    ids: list[int] = []
    after = 0
    while len(events) < limit:
        page = min(_PAGE_ROWS, limit - len(events))
        with _on(cursor) as on:
            # int8 whatever the values, so that one prepared statement serves every round.
            on.execute(_PENDING_SQL, [Int8(after), Int8(page)])
            fetched = on.fetchall()
        rows: list[tuple[int, str, int | None, Any]] = []
        orders: dict[int, tuple[int, dict[str, Any]]] = {}
        for row in fetched:
            if row[1] is None:
                order_id, entry = batch_order_entry((row[0], row[2], *row[4:]))
                orders[order_id] = entry
            else:
                payload = row[3]
                rows.append(
                    (row[0], row[1], row[2], json.loads(payload) if isinstance(payload, str) else payload)
                )
        rows.sort(key=_first)  # id order (the statement's UNION ALL does not promise one)
        for row_id, stream, user_id, payload in rows:
            if len(events) >= limit:
                return events, ids
            ids.append(row_id)
            if stream == BATCH_STREAM:
                events.extend(PendingEvent(row_id, *event) for event in batch_events_render(payload, orders))
            elif isinstance(payload, list):
                events.extend(PendingEvent(row_id, stream, user_id, item) for item in payload)
            else:
                events.append(PendingEvent(row_id, stream, user_id, payload))
        if len(rows) < page:
            break
        after = rows[-1][0]
    return events, ids


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


def outbox_mark_published(*, ids: list[int], cursor: CursorWrapper | None = None) -> int:
    """Compare-and-set: only rows still unpublished are marked. Returns how many were."""
    if not ids:
        return 0
    with _on(cursor) as on:
        on.execute(_MARK_SQL, [timezone.now(), array_literal(ids)])
        marked = on.rowcount
    if marked != len(ids):
        # Only possible if a second publisher ran without the lock: its consumers dedupe depth.
        logger.warning("outbox: %s of %s events were already published", len(ids) - marked, len(ids))
    return marked


def outbox_prune(*, older_than: timedelta = RETENTION, chunk: int = PRUNE_CHUNK) -> int:
    """Delete published events older than `older_than`, at most `chunk` rows per call."""
    cutoff = timezone.now() - older_than
    ids = list(
        OutboxEvent.objects.filter(published_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:chunk]
    )
    if not ids:
        return 0
    deleted, _ = OutboxEvent.objects.filter(pk__in=ids).delete()
    return deleted


def _try_lock() -> bool:
    """Session-level, so it outlives statements and PostgreSQL frees it if this process dies.

    The session's commits (marking rows published, pruning) then return without waiting for the
    WAL flush: one a round, each an fsync the round waited for. A crash of PostgreSQL may lose the
    last few marks, and their rows are sent again: delivery is at least once anyway."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ADVISORY_NAMESPACE, ADVISORY_KEY])
        acquired = bool(cursor.fetchone()[0])
        if acquired:
            cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")
            cursor.execute("SET synchronous_commit TO off")
        return acquired


def _wait_for_notify(timeout: float) -> None:
    """Block up to `timeout` seconds for a NOTIFY (ones that came in meanwhile return at once)."""
    connection.ensure_connection()
    for _ in connection.connection.notifies(timeout=max(0.0, timeout), stop_after=1):
        break


def _reset_connection() -> None:
    """Release the lock and drop the session; after a failure, start over from the lock (a broken
    connection lost the lock and the LISTEN anyway). Unlocking first, rather than leaving it to the
    server when the session ends, lets the next publisher take over at once."""
    with contextlib.suppress(DatabaseError):
        if connection.connection is not None and not connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock_all()")
    connection.close()


@dataclass
class _Due:
    """Markets whose derived stream needs sending, and when each was last sent."""

    interval: float
    pending: set[int] = field(default_factory=set)
    sent_at: dict[int, float] = field(default_factory=dict)

    def ready(self, now: float) -> list[int]:
        ready = [m for m in self.pending if now - self.sent_at.get(m, 0.0) >= self.interval]
        self.pending.difference_update(ready)
        for market_id in ready:
            self.sent_at[market_id] = now
        return ready

    def next_due(self, now: float) -> float:
        """Seconds until the next pending market may be sent (inf when none is pending)."""
        waits = [self.sent_at.get(m, 0.0) + self.interval - now for m in self.pending]
        return max(0.0, min(waits)) if waits else math.inf


class OutboxPublisher:
    """Runs in one thread of its own: every database call (Django's connection is per thread,
    and the advisory lock and LISTEN belong to that connection) and, through `sender`
    (exchange/services/outbox_send.py), every Redis publish. `run` hands that thread the whole
    loop; `publish_round` one round. A round is plain blocking code: the asyncio tasks, futures and
    thread hops it took per message and per query cost more CPU than the work itself."""

    def __init__(self, *, layer: Any, batch_size: int = BATCH_SIZE, poll_seconds: float = POLL_SECONDS):
        self.layer = layer
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-db")
        self.sender: Sender | None = None
        self.markets: dict[str, Market] = {}
        self.book_tickers = _Due(BOOK_TICKER_INTERVAL)
        self.tickers = _Due(TICKER_INTERVAL)
        self.klines = _Due(KLINE_INTERVAL)
        self.last_book_ticker: dict[int, tuple[Any, ...]] = {}
        # Per market, the first and last trade time since its candles were last sent: a round
        # may straddle a candle boundary, and each candle traded in gets its update.
        self.trade_span: dict[int, tuple[datetime, datetime]] = {}
        self.pruned_at = 0.0
        self.markets_loaded_at = -MARKETS_RELOAD_SECONDS

    async def _db(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, partial(function, *args, **kwargs)
        )

    def _ensure_sender(self) -> Sender:
        """Made on the event loop: a layer's per-loop state belongs to the loop that drives it."""
        if self.sender is None:
            self.sender = sender_for(self.layer)
        return self.sender

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set; database and Redis failures back off and start over."""
        halt = threading.Event()  # `stop`, as the publisher's thread can wait on it
        stopped = asyncio.ensure_future(stop.wait())
        stopped.add_done_callback(lambda _: halt.set())
        try:
            self._ensure_sender()
            await self._db(self._serve, halt)
        finally:
            halt.set()
            stopped.cancel()
            await self.close()

    def _serve(self, halt: threading.Event) -> None:
        while not halt.is_set():
            try:
                if not _try_lock():
                    logger.info("outbox: another publisher holds the lock; waiting")
                    halt.wait(LOCK_RETRY_SECONDS)
                    continue
                logger.info("outbox: publishing")
                while not halt.is_set():
                    self._round(wait=True)
            except Exception:
                # Database or Redis gone, or a bug: this process is the only publisher, so
                # it backs off and starts over rather than exit and stop the node.
                logger.exception("outbox: publishing failed; retrying")
                _reset_connection()
                halt.wait(ERROR_BACKOFF_SECONDS)

    async def close(self) -> None:
        """Drop the database session (and with it the lock) and Redis connections, and stop the
        publisher's thread."""
        await self._db(self._close)
        self.executor.shutdown(wait=True)

    def _close(self) -> None:
        _reset_connection()
        if self.sender is not None:
            self.sender.close()

    async def publish_round(self, *, wait: bool = True) -> int:
        """One round (see `_round`), in the publisher's thread. Returns the rows published."""
        self._ensure_sender()
        return await self._db(self._round, wait)

    def _round(self, wait: bool) -> int:
        """Send the pending events, mark them, send derived streams that are due, and (with
        `wait`) sleep until woken if the outbox was drained. Returns the rows published."""
        with prepared_cursor() as cursor:
            events, ids = outbox_pending(limit=self.batch_size, cursor=cursor)
            if events:
                self.send_events(events)
                outbox_mark_published(ids=ids, cursor=cursor)
        if events:
            self._note_markets(events)
        self.send_derived()
        now = time.monotonic()
        if now - self.pruned_at > PRUNE_EVERY_SECONDS:
            self.pruned_at = now
            outbox_prune()
        if wait and len(events) < self.batch_size:
            timeout = min(
                self.poll_seconds,
                self.book_tickers.next_due(now),
                self.tickers.next_due(now),
                self.klines.next_due(now),
            )
            _wait_for_notify(timeout)
        return len(ids)

    def send_events(self, events: list[PendingEvent]) -> None:
        """One message per group (more past `streams.EVENTS_PER_MESSAGE`), each group's events in
        id order; all of a round's messages in one call to the sender."""
        by_group: dict[tuple[str, int | None], list[tuple[str, dict[str, Any]]]] = {}
        for event in events:
            # A user's private events all go to the user's group, whatever their stream.
            key = (event.stream, None) if event.user_id is None else ("", event.user_id)
            group_events = by_group.get(key)
            if group_events is None:
                group_events = by_group[key] = []
            group_events.append((event.stream, event.payload))
        messages: list[Message] = []
        for (stream, user_id), group_events in by_group.items():
            group = streams.public_group(stream) if user_id is None else streams.user_group(user_id)
            messages.extend(
                (group, message) for message in streams.stream_messages(group_events, user_id=user_id)
            )
        self._sender().send(messages)

    def _sender(self) -> Sender:
        if self.sender is None:
            raise RuntimeError("the publisher's sender is made on its event loop first")
        return self.sender

    def _note_markets(self, events: list[PendingEvent]) -> None:
        for event in events:
            if event.user_id is not None:
                continue
            kind, _, symbol = event.stream.partition(".")
            if kind not in ("depth", "trade"):
                continue
            market = self.markets.get(symbol)
            if market is None and time.monotonic() - self.markets_loaded_at > MARKETS_RELOAD_SECONDS:
                # A market added since, or a hidden one (no derived streams): reload, not too often.
                self.markets = streams.market_symbols()
                self.markets_loaded_at = time.monotonic()
                market = self.markets.get(symbol)
            if market is None:
                continue
            if kind == "depth":
                self.book_tickers.pending.add(market.pk)
            else:
                self.tickers.pending.add(market.pk)
                self.klines.pending.add(market.pk)
                at = datetime.fromtimestamp(event.payload["T"] / 1_000_000, tz=UTC)
                first, _ = self.trade_span.get(market.pk, (at, at))
                self.trade_span[market.pk] = (min(first, at), at)

    def send_derived(self) -> None:
        """bookTicker, ticker and kline for the markets whose depth or trades moved, as due, and
        only for streams somebody watches (asked of Redis once for all of them)."""
        now = time.monotonic()
        book_ticker_ids, ticker_ids, kline_ids = (
            self.book_tickers.ready(now),
            self.tickers.ready(now),
            self.klines.ready(now),
        )
        if not (book_ticker_ids or ticker_ids or kline_ids):
            return
        by_id = {market.pk: market for market in self.markets.values()}
        book_tickers = [
            (f"bookTicker.{market.symbol}", market)
            for market_id in book_ticker_ids
            if (market := by_id.get(market_id)) is not None
        ]
        tickers = [
            (f"ticker.{market.symbol}", market)
            for market_id in ticker_ids
            if (market := by_id.get(market_id)) is not None
        ]
        klines: list[tuple[str, Market, str, tuple[datetime, datetime]]] = []
        for market_id in kline_ids:
            if (market := by_id.get(market_id)) is None:
                continue
            span = self.trade_span.pop(market_id, None)
            if span is None:
                continue
            klines.extend(
                (f"kline.{interval}.{market.symbol}", market, interval, span) for interval in KLINE_INTERVALS
            )
        names = [stream for stream, _ in book_tickers + tickers] + [kline[0] for kline in klines]
        if not names:
            return
        sender = self._sender()
        watched = dict(
            zip(names, sender.watched([streams.public_group(name) for name in names]), strict=True)
        )
        messages: list[Message] = []
        for stream, market in book_tickers:
            if not watched[stream]:
                # Unwatched changes are not tracked, so forget what was last sent.
                self.last_book_ticker.pop(market.pk, None)
                continue
            data = streams.book_ticker_payload(market)
            best = (data["a"], data["A"], data["b"], data["B"])
            if self.last_book_ticker.get(market.pk) != best:  # else bookTicker has nothing new
                self.last_book_ticker[market.pk] = best
                messages.append(_public_message(stream, data))
        for stream, market in tickers:
            if watched[stream]:
                messages.append(_public_message(stream, streams.ticker_payload(market)))
        for stream, market, interval, (first, last) in klines:
            if not watched[stream]:
                continue
            moments = (
                [first]
                if streams.kline_bucket(interval, first) == streams.kline_bucket(interval, last)
                else [first, last]
            )
            for at in moments:
                kline = streams.kline_payload(market, interval, at)
                if kline is not None:
                    messages.append(_public_message(stream, kline))
        if messages:
            sender.send(messages)


def _public_message(stream: str, data: dict[str, Any]) -> Message:
    (message,) = streams.stream_messages([(stream, data)])
    return streams.public_group(stream), message


__all__ = [
    "NOTIFY_CHANNEL",
    "OutboxPublisher",
    "PendingEvent",
    "outbox_mark_published",
    "outbox_notify",
    "outbox_pending",
    "outbox_prune",
]

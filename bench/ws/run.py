"""WebSocket fan-out benchmark: N subscribers on one market's `depth` and `trade` streams while
orders flow through REST.

    .venv/bin/python bench/ws/run.py [--subscribers 100 --subscribers 1000] [--rate 10] [--seconds 20]
        [--client raw|websockets]

Starts its own Satchel node (web, matching and general workers, outbox publisher) on a fresh
database of the embedded PostgreSQL under var/bench, as bench/api/run.py does. For each N it opens
N sockets, subscribes each to `depth.SOL_USDC` and `trade.SOL_USDC`, then offers limit orders at a
fixed rate (open loop), alternately a resting bid and an ask that fills it, so every order makes a
depth event and every second one a trade.

The client shares the machine with the server, so by default it is a minimal one (`_RawClient`,
on uvloop) that stamps each frame in the socket's read callback; `--client websockets` uses the
websockets library instead, whose per-frame cost at 1,000 sockets queues frames in the client.

Latency is the receive time at the client minus the event's `E`, which the matching worker stamps
when it opens the batch transaction: an upper bound on commit-to-client, since it also counts the
batch's own writes and commit. Both clocks are this machine's wall clock. Also reported: frames/s
received over all sockets, missing deliveries (events some socket never got), depth sequence gaps,
duplicates, and the client process's own CPU share (a saturated client inflates the figures).
Final line: JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import uvloop

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
SYMBOL = "SOL_USDC"
STREAMS = [f"depth.{SYMBOL}", f"trade.{SYMBOL}"]
CONNECT_CONCURRENCY = 50
DRAIN_SECONDS = 3.0  # after the last order, for events still on their way
DATABASE = "satchel_ws_bench"
REDIS_DB = 8


@dataclass
class Subscriber:
    depth_last: int | None = None
    received: set[tuple[str, int]] = field(default_factory=set)
    gaps: int = 0
    duplicates: int = 0
    closed_early: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Tally:
    """What every subscriber saw of events stamped after `since_micros` (the warm-up frames and
    anything older are not measured)."""

    since_micros: int
    latencies_us: list[int] = field(default_factory=list)
    frames: int = 0


async def _subscribe(
    url: str, subscriber: Subscriber, tally: Tally, stop: asyncio.Event, client: str
) -> None:
    if client == "raw":
        await _subscribe_raw(url, subscriber, tally, stop)
        return
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    try:
        async with connect(url, ping_interval=None, max_queue=None, open_timeout=60) as ws:
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": STREAMS}))
            receiving = asyncio.ensure_future(_receive(ws, subscriber, tally))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if receiving.done():
                subscriber.closed_early = True
                receiving.result()
            receiving.cancel()
            stopping.cancel()
    except (OSError, ConnectionClosed, TimeoutError):
        subscriber.closed_early = True
        subscriber.ready.set()


async def _receive(ws: Any, subscriber: Subscriber, tally: Tally) -> None:
    async for raw in ws:
        _frame_received(raw, time.time_ns() // 1000, subscriber, tally)


def _frame_received(raw: str | bytes, received_at: int, subscriber: Subscriber, tally: Tally) -> None:
    frame = json.loads(raw)
    data = frame.get("data")
    if data is None:
        raise AssertionError(f"unexpected frame {raw!r:.200}")
    kind = data["e"]
    if kind == "depth":
        if data["U"] == data["u"] and data["a"] == data["b"] == []:
            subscriber.ready.set()  # the warm-up frames right after SUBSCRIBE, all alike
            subscriber.depth_last = data["u"]
            return
        last = subscriber.depth_last
        if last is not None:
            if data["u"] <= last:
                subscriber.duplicates += 1
                return
            if data["U"] > last + 1:
                subscriber.gaps += 1
        subscriber.depth_last = data["u"]
        key = ("depth", data["u"])
    else:
        key = ("trade", data["t"])
    if data["E"] >= tally.since_micros and key not in subscriber.received:
        subscriber.received.add(key)
        tally.frames += 1
        tally.latencies_us.append(received_at - data["E"])


class _RawClient(asyncio.Protocol):
    """A minimal WebSocket client for this benchmark only: it reads the server's frames in the
    protocol callback and stamps them there, where the websockets client's frame parsing, queue
    and task hop per frame cost about three times what the server spends per frame (at 1,000
    sockets the client then measured its own backlog). Server frames are unmasked and unfragmented
    (uvicorn sends each message whole); the one client frame, the SUBSCRIBE, is masked."""

    def __init__(self, host: str, subscriber: Subscriber, tally: Tally) -> None:
        self.host, self.subscriber, self.tally = host, subscriber, tally
        self.buffer = bytearray()
        self.upgraded = False
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            f"GET / HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def send_text(self, text: str) -> None:
        assert self.transport is not None
        payload, mask = text.encode(), os.urandom(4)
        length = len(payload)
        header = bytes([0x81, 0x80 | length]) if length < 126 else bytes([0x81, 0xFE]) + length.to_bytes(2)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.transport.write(header + mask + masked)

    def data_received(self, data: bytes) -> None:
        received_at = time.time_ns() // 1000
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                raise AssertionError(f"upgrade refused: {bytes(buffer[:200])!r}")
            del buffer[: end + 4]
            self.upgraded = True
            self.send_text(json.dumps({"method": "SUBSCRIBE", "params": STREAMS}))
        offset = 0
        while len(buffer) - offset >= 2:
            opcode, length = buffer[offset] & 0x0F, buffer[offset + 1] & 0x7F
            start = offset + 2
            if length == 126:
                length, start = int.from_bytes(buffer[start : start + 2]), start + 2
            elif length == 127:
                length, start = int.from_bytes(buffer[start : start + 8]), start + 8
            if len(buffer) < start + length:
                break
            payload = bytes(buffer[start : start + length])
            offset = start + length
            if opcode == 0x1:
                _frame_received(payload, received_at, self.subscriber, self.tally)
            elif opcode == 0x8:
                self.subscriber.closed_early = True
                self.subscriber.ready.set()
                assert self.transport is not None
                self.transport.close()
        del buffer[:offset]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def _subscribe_raw(url: str, subscriber: Subscriber, tally: Tally, stop: asyncio.Event) -> None:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    loop = asyncio.get_running_loop()
    try:
        transport, client = await loop.create_connection(
            lambda: _RawClient(parts.netloc, subscriber, tally), parts.hostname, parts.port
        )
    except OSError:
        subscriber.closed_early = True
        subscriber.ready.set()
        return
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({stopping, client.closed}, return_when=asyncio.FIRST_COMPLETED)
    if not stop.is_set():
        subscriber.closed_early = True
    stopping.cancel()
    transport.close()


def _signed_headers(account: dict[str, str], instruction: str, body: dict[str, str]) -> dict[str, str]:
    from accounts.signing import sign

    timestamp = str(time.time_ns() // 1_000_000)
    pairs = "&".join(f"{k}={v}" for k, v in sorted(body.items()))
    message = f"instruction={instruction}&{pairs}&timestamp={timestamp}&window=60000"
    return {
        "X-API-Key": account["api_key"],
        "X-Signature": sign(account["api_secret"], message),
        "X-Timestamp": timestamp,
        "X-Window": "60000",
        "Content-Type": "application/json",
    }


async def _order_flow(
    http_url: str, maker: dict[str, str], taker: dict[str, str], rate: float, seconds: float
) -> dict[str, int]:
    """Open loop: order n is sent at n/rate seconds whatever happened to the earlier ones."""
    import aiohttp

    outcomes: dict[str, int] = {}

    async def place(session: aiohttp.ClientSession, n: int) -> None:
        # Pairs at one price: the bid rests, the ask fills it (or rests and the next bid fills it).
        price = f"{100 + (n // 2) % 7}.00"
        account, side = (maker, "Bid") if n % 2 == 0 else (taker, "Ask")
        body = {"orderType": "Limit", "price": price, "quantity": "0.10", "side": side, "symbol": SYMBOL}
        try:
            async with session.post(
                f"{http_url}/api/v1/order",
                data=json.dumps(body),
                headers=_signed_headers(account, "orderExecute", body),
            ) as response:
                key = str(response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            key = type(exc).__name__
        outcomes[key] = outcomes.get(key, 0) + 1

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        tasks: list[asyncio.Task[None]] = []
        started = time.perf_counter()
        n = 0
        while (elapsed := time.perf_counter() - started) < seconds:
            while n < int(elapsed * rate):
                tasks.append(asyncio.create_task(place(session, n)))
                n += 1
            await asyncio.sleep(0.005)
        await asyncio.gather(*tasks)
    return outcomes


def _percentile(sorted_values: list[int], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index] / 1000


async def _measure(
    http_url: str,
    subscribers_count: int,
    maker: dict,
    taker: dict,
    rate: float,
    seconds: float,
    client: str,
) -> dict[str, Any]:
    ws_url = http_url.replace("http://", "ws://") + "/"
    stop = asyncio.Event()
    tally = Tally(since_micros=2**62)
    subscribers = [Subscriber() for _ in range(subscribers_count)]
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def start(subscriber: Subscriber) -> asyncio.Task[None]:
        async with gate:
            task = asyncio.create_task(_subscribe(ws_url, subscriber, tally, stop, client))
            await asyncio.wait_for(subscriber.ready.wait(), 60)
            return task

    connect_started = time.perf_counter()
    tasks = await asyncio.gather(*(start(s) for s in subscribers))
    connect_seconds = time.perf_counter() - connect_started
    await asyncio.sleep(1.0)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    tally.since_micros = time.time_ns() // 1000
    flow_started = time.perf_counter()
    outcomes = await _order_flow(http_url, maker, taker, rate, seconds)
    await asyncio.sleep(DRAIN_SECONDS)
    elapsed = time.perf_counter() - flow_started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    stop.set()
    await asyncio.gather(*tasks)

    events = set().union(*(s.received for s in subscribers))
    latencies = sorted(tally.latencies_us)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {
        "subscribers": subscribers_count,
        "client": client,
        "orders_offered_per_second": rate,
        "orders": outcomes,
        "events": len(events),
        "deliveries": tally.frames,
        "missing_deliveries": len(events) * subscribers_count - tally.frames,
        "depth_gaps": sum(s.gaps for s in subscribers),
        "duplicates": sum(s.duplicates for s in subscribers),
        "sockets_closed_early": sum(s.closed_early for s in subscribers),
        "frames_per_second": round(tally.frames / elapsed, 1),
        "latency_ms_p50": _percentile(latencies, 0.50),
        "latency_ms_p90": _percentile(latencies, 0.90),
        "latency_ms_p99": _percentile(latencies, 0.99),
        "latency_ms_max": _percentile(latencies, 1.0),
        "latency_ms_mean": round(statistics.fmean(latencies) / 1000, 1) if latencies else 0.0,
        "connect_seconds": round(connect_seconds, 1),
        "client_cpu_percent": round(100 * cpu / elapsed),
    }


def _start_node() -> tuple[str, list[subprocess.Popen[bytes]], list[dict[str, str]], str]:
    """Fresh database, migrated and seeded, two funded API accounts, the node's processes."""
    from bench.node import node_prepare

    node = node_prepare(database=DATABASE, redis_db=REDIS_DB)
    accounts = [
        node.create_account(f"{name}@ws-bench.test", "USDC=100000000", "SOL=1000000")
        for name in ("maker", "taker")
    ]
    node.start("ws")
    return node.url, list(node.processes.values()), accounts, node.server_url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, action="append", help="sockets (repeatable)")
    parser.add_argument("--rate", type=float, default=10.0, help="orders offered per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--client",
        choices=("raw", "websockets"),
        default="raw",
        help="raw: a minimal client on uvloop that stamps frames as they arrive (default); "
        "websockets: the websockets library's asyncio client, as the first figures used",
    )
    args = parser.parse_args()
    counts = args.subscribers or [100, 1000]
    os.environ.setdefault("SATCHEL_DATA_DIR", str(ROOT / "var" / "bench"))
    os.environ.pop("SATCHEL_PG_FAST", None)
    from config import services

    url, processes, (maker, taker), _ = _start_node()
    try:
        import requests

        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/api/v1/ping", timeout=1).text == "pong":
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.2)
        time.sleep(3)  # workers up
        loop_factory = uvloop.new_event_loop if args.client == "raw" else None
        runs = []
        for n in counts:
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                runs.append(runner.run(_measure(url, n, maker, taker, args.rate, args.seconds, args.client)))
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                # uvicorn waits for open sockets to close: a failed run may leave some behind.
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        services.release()
    print(
        f"{'subs':>6} {'events':>7} {'frames/s':>9} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7}"
        f" {'missing':>8} {'gaps':>5} {'client cpu':>10}"
    )
    for run in runs:
        print(
            f"{run['subscribers']:>6} {run['events']:>7} {run['frames_per_second']:>9} "
            f"{run['latency_ms_p50']:>7} {run['latency_ms_p90']:>7} {run['latency_ms_p99']:>7} "
            f"{run['latency_ms_max']:>7} {run['missing_deliveries']:>8} {run['depth_gaps']:>5} "
            f"{run['client_cpu_percent']:>9}%"
        )
    print(json.dumps({"benchmark": "ws_fanout", "symbol": SYMBOL, "runs": runs}))


if __name__ == "__main__":
    main()

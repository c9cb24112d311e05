"""Live updates over WebSocket: unmodified ccxt.pro and a raw `websockets` client against a live
server (uvicorn + matching worker + outbox publisher), with orders placed through REST."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import ccxt.pro
import pytest
import websockets

from accounts.signing import sign, subscribe_signing_string

pytestmark = pytest.mark.live

T = TypeVar("T")
TEST_SECONDS = 90  # every test body runs under this bound
WATCH_SECONDS = 10  # one awaited update


def run(coroutine: Awaitable[T]) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, TEST_SECONDS))  # type: ignore[arg-type]


def ws_url(server) -> str:
    return server.url.replace("http://", "ws://")


def pro(server, account: dict[str, Any] | None = None) -> ccxt.pro.backpack:
    config: dict[str, Any] = {
        "urls": {
            "api": {
                "public": server.url,
                "private": server.url,
                "ws": {"public": ws_url(server), "private": ws_url(server)},
            }
        }
    }
    if account is not None:
        config.update(apiKey=account["api_key"], secret=account["api_secret"])
    return ccxt.pro.backpack(config)


async def until(
    watch: Callable[[], Awaitable[Any]], cached: Callable[[], T | None], done: Callable[[T], bool], what: str
) -> T:
    """Wait until ccxt's cached state (`cached()`) satisfies `done`, awaiting the next update with
    `watch()` in between, within WATCH_SECONDS. A watch resolves on the *next* update, so the cache
    is checked first: the update may have come in while the test awaited a REST call."""
    deadline = time.monotonic() + WATCH_SECONDS
    while True:
        value = cached()
        if value is not None and done(value):
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {what} within {WATCH_SECONDS}s (last: {value!r:.300})")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watch(), remaining)


async def inside_spread(exchange: ccxt.pro.backpack, symbol: str, preferred: float, tick: float) -> float:
    """A price strictly between the book's best bid and ask (whatever earlier tests left there),
    so that an order at it rests at the top and a crossing order meets it first."""
    book = await exchange.fetch_order_book(symbol)
    low = book["bids"][0][0] if book["bids"] else 0.0
    high = book["asks"][0][0] if book["asks"] else float("inf")
    if low < preferred < high:
        return preferred
    price = round(round((low + min(high, low * 2 + 100)) / 2 / tick) * tick, 8)
    assert low < price < high, f"no room between {low} and {high}"
    return price


@pytest.fixture(scope="module")
def cast(satchel_server) -> tuple[dict[str, Any], dict[str, Any]]:
    """alice and bob, shared by the module (creating an account is a process start); every test
    cancels what it leaves open."""
    return tuple(  # type: ignore[return-value]
        satchel_server.create_account(f"{name}@streams.test", "USDC=100000", "ETH=100", "BTC=10", "SOL=1000")
        for name in ("alice", "bob")
    )


def test_watch_order_book_with_the_default_snapshot_delay_matches_rest_depth(satchel_server, cast):
    maker, taker = cast

    async def scenario() -> None:
        watcher, trader, seller = pro(satchel_server), pro(satchel_server, maker), pro(satchel_server, taker)
        try:
            await trader.load_markets()

            async def flow() -> None:
                # Orders keep flowing while ccxt caches deltas, fetches its snapshot and aligns them.
                placed = []
                for i in range(14):
                    placed.append(await trader.create_order("SOL/USDC", "limit", "buy", 1 + i, 20 + i / 10))
                    if i % 4 == 3:
                        await trader.cancel_order(placed[i - 1]["id"], "SOL/USDC")
                await seller.create_order("SOL/USDC", "limit", "sell", 2.5, 21)  # a trade moves levels too

            flowing = asyncio.create_task(flow())
            # The default snapshotDelay: ccxt fetches the REST snapshot after 11 cached deltas.
            assert "snapshotDelay" not in watcher.options.get("watchOrderBook", {})
            await asyncio.wait_for(watcher.watch_order_book("SOL/USDC"), WATCH_SECONDS)
            await flowing
            rest = await trader.fetch_order_book("SOL/USDC")
            book = await until(
                lambda: watcher.watch_order_book("SOL/USDC"),
                lambda: watcher.orderbooks.get("SOL/USDC"),
                lambda b: (b["nonce"] or 0) >= rest["nonce"],
                "order book at the REST nonce",
            )
            assert book["nonce"] == rest["nonce"]
            assert book["bids"][: len(rest["bids"])] == rest["bids"]
            assert book["asks"][: len(rest["asks"])] == rest["asks"]
            assert [20.5, 6] in book["bids"]
            await trader.cancel_all_orders("SOL/USDC")
        finally:
            for exchange in (watcher, trader, seller):
                await exchange.close()

    run(scenario())


def test_trades_ticker_ohlcv_and_best_bid_ask_follow_rest_orders(satchel_server, cast):
    maker, taker = cast

    async def scenario() -> None:
        watcher, seller, buyer = pro(satchel_server), pro(satchel_server, maker), pro(satchel_server, taker)
        try:
            # Initial frames resolve these at once, which also proves the subscriptions are live.
            await asyncio.wait_for(watcher.watch_ticker("BTC/USDC"), WATCH_SECONDS)
            await asyncio.wait_for(watcher.watch_bids_asks(["BTC/USDC"]), WATCH_SECONDS)
            watches = [
                asyncio.create_task(watcher.watch_trades("BTC/USDC")),
                asyncio.create_task(watcher.watch_ohlcv("BTC/USDC", "1m")),
            ]
            await asyncio.sleep(0.1)
            # One connection, processed in order: once this initial ticker is back, the trades and
            # candles subscriptions sent before it are live (a fixed pause may be too short under
            # load, and the trade below would go by unseen).
            await asyncio.wait_for(watcher.watch_ticker("ETH/USDC"), WATCH_SECONDS)

            def best() -> dict[str, Any] | None:
                return watcher.bidsasks.get("BTC/USDC")

            price = await inside_spread(seller, "BTC/USDC", 55555.5, 0.1)
            ask = await seller.create_order("BTC/USDC", "limit", "sell", 0.25, price)
            top = await until(
                lambda: watcher.watch_bids_asks(["BTC/USDC"]),
                best,
                lambda t: t["ask"] == price,
                "the new ask",
            )
            assert top["askVolume"] == 0.25
            bought = await buyer.create_order("BTC/USDC", "limit", "buy", 0.1, price)
            assert bought["status"] == "closed"

            trades = await until(
                lambda: watcher.watch_trades("BTC/USDC"),
                lambda: watcher.trades.get("BTC/USDC"),
                lambda ts: any(t["order"] == bought["id"] for t in ts),
                "our trade",
            )
            trade = next(t for t in trades if t["order"] == bought["id"])
            assert (trade["amount"], trade["side"], trade["price"]) == (0.1, "buy", price)

            ticker = await until(
                lambda: watcher.watch_ticker("BTC/USDC"),
                lambda: watcher.tickers.get("BTC/USDC"),
                lambda t: t["last"] == price,
                "ticker after the trade",
            )
            assert ticker["baseVolume"] >= 0.1

            candles = await until(
                lambda: watcher.watch_ohlcv("BTC/USDC", "1m"),
                lambda: watcher.ohlcvs.get("BTC/USDC", {}).get("1m"),
                lambda cs: bool(cs) and cs[-1][4] == price,
                "candle closing at the trade",
            )
            assert candles[-1][5] >= 0.1
            await until(
                lambda: watcher.watch_bids_asks(["BTC/USDC"]),
                best,
                lambda t: t["askVolume"] == 0.15,
                "the fill",
            )
            await asyncio.gather(*watches)
            await seller.cancel_order(ask["id"], "BTC/USDC")
        finally:
            for exchange in (watcher, seller, buyer):
                await exchange.close()

    run(scenario())


def test_watch_orders_and_balance_see_the_accounts_own_rest_orders(satchel_server, cast):
    owner, counterparty = cast

    async def scenario() -> None:
        mine, other = pro(satchel_server, owner), pro(satchel_server, counterparty)
        try:
            await mine.load_markets()
            watches = [
                asyncio.create_task(mine.watch_orders()),
                asyncio.create_task(mine.watch_orders("ETH/USDC")),
                asyncio.create_task(mine.watch_balance()),
            ]
            await asyncio.sleep(0.1)
            # One connection, processed in order: once this initial ticker is back, the private
            # subscriptions sent before it are live.
            await asyncio.wait_for(mine.watch_ticker("ETH/USDC"), WATCH_SECONDS)

            def order_state() -> dict[str, Any] | None:
                return next((o for o in mine.orders or [] if o["id"] == order["id"]), None)

            price = await inside_spread(mine, "ETH/USDC", 1234.5, 0.01)
            cost = round(2 * price, 8)
            order = await mine.create_order("ETH/USDC", "limit", "buy", 2, price, {"clientOrderId": "77"})
            accepted = await until(mine.watch_orders, order_state, lambda o: True, "orderAccepted")
            assert (accepted["status"], accepted["side"], accepted["price"], accepted["amount"]) == (
                "open",
                "buy",
                price,
                2,
            )
            assert accepted["clientOrderId"] == "77"
            await asyncio.wait_for(asyncio.gather(*watches), WATCH_SECONDS)  # each saw an update
            await until(
                mine.watch_balance,
                lambda: mine.balance or None,
                lambda b: b.get("USDC", {}).get("used") == cost,
                "the hold",
            )

            await other.create_order("ETH/USDC", "limit", "sell", 2, price)
            fill = await until(
                lambda: mine.watch_orders("ETH/USDC"),
                order_state,
                lambda o: o["status"] == "closed",
                "the fill",
            )
            assert (fill["filled"], fill["cost"], fill["fee"]["currency"]) == (2, cost, "ETH")
            rest = await mine.fetch_balance()
            after = await until(
                mine.watch_balance,
                lambda: mine.balance or None,
                lambda b: b["ETH"]["free"] == rest["ETH"]["free"] and b["USDC"]["used"] == 0,
                "balance after the fill",
            )
            assert (after["USDC"]["free"], after["ETH"]["used"]) == (rest["USDC"]["free"], 0)
        finally:
            await mine.close()
            await other.close()

    run(scenario())


# --- raw socket: authentication, isolation, framing ---------------------------------------------------


def signature(account: dict[str, Any], *, timestamp: int | None = None) -> list[str]:
    ts = str(timestamp if timestamp is not None else int(time.time() * 1000))
    return [account["api_key"], sign(account["api_secret"], subscribe_signing_string(ts, "5000")), ts, "5000"]


async def send(socket, method: str, *streams: str, **extra: Any) -> None:
    await socket.send(json.dumps({"method": method, "params": list(streams), **extra}))


async def drain(socket) -> list[dict[str, Any]]:
    """Every frame up to the PONG answering a PING sent now: the socket handles frames in order."""
    await socket.send(json.dumps({"method": "PING", "id": 9}))
    frames = []
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), WATCH_SECONDS))
        if frame.get("result") == "PONG":
            return frames
        frames.append(frame)


async def frames_until(socket, done: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    frames = []
    deadline = time.monotonic() + WATCH_SECONDS
    while not frames or not done(frames[-1]):
        frames.append(
            json.loads(await asyncio.wait_for(socket.recv(), max(0.01, deadline - time.monotonic())))
        )
    return frames


INVALID_STREAM = {"id": None, "error": {"code": 4006, "message": "Invalid stream"}}


def test_private_streams_need_a_fresh_signature_and_carry_only_the_accounts_own_events(satchel_server, cast):
    alice, bob = cast

    async def scenario() -> None:
        traders = pro(satchel_server, alice), pro(satchel_server, bob)
        url = ws_url(satchel_server)
        try:
            async with (
                websockets.connect(url) as anonymous,
                websockets.connect(url) as alices,
                websockets.connect(url) as stale,
            ):
                await send(anonymous, "SUBSCRIBE", "account.orderUpdate", "account.balanceUpdate")
                (error,) = await drain(anonymous)
                assert error["id"] is None
                assert error["error"]["code"] == 4001
                old = int(time.time() * 1000) - 60_000
                await send(
                    stale, "SUBSCRIBE", "account.orderUpdate", signature=signature(alice, timestamp=old)
                )
                assert [frame["error"]["code"] for frame in await drain(stale)] == [4001]

                await send(
                    alices,
                    "SUBSCRIBE",
                    "account.orderUpdate",
                    "account.orderUpdate.ETH_USDC",
                    "account.balanceUpdate",
                    "account.rfqUpdate",
                    signature=signature(alice),
                )
                assert await drain(alices) == []  # accepted silently, rfqUpdate included
                await send(alices, "SUBSCRIBE", "account.orderUpdate", signature=signature(bob))
                assert [frame["error"]["code"] for frame in await drain(alices)] == [4001]
                await send(alices, "SUBSCRIBE", "account.nonsense", "depth.NOPE_USDC")
                assert await drain(alices) == [INVALID_STREAM]

                # bob trades; then alice places one order: alice's socket sees only hers.
                await traders[1].create_order("ETH/USDC", "limit", "buy", 1, 1001.11)
                await traders[1].cancel_all_orders("ETH/USDC")
                mine = await traders[0].create_order("ETH/USDC", "limit", "buy", 1, 1001.12)
                frames = await frames_until(
                    alices, lambda f: f["data"].get("e") == "balanceUpdate" and f["data"]["a"] == "USDC"
                )
                await asyncio.sleep(0.5)
                frames += await drain(alices)
                orders = [f for f in frames if f["stream"].startswith("account.orderUpdate")]
                assert {f["data"]["i"] for f in orders} == {mine["id"]}
                assert sorted(f["stream"] for f in orders) == [
                    "account.orderUpdate",
                    "account.orderUpdate.ETH_USDC",
                ]
                accepted = orders[0]["data"]
                assert {k: accepted[k] for k in "esSopqXzZ"} == {
                    "e": "orderAccepted",
                    "s": "ETH_USDC",
                    "S": "Bid",
                    "o": "LIMIT",
                    "p": "1001.12",
                    "q": "1",
                    "X": "New",
                    "z": "0",
                    "Z": "0",
                }
                capital = await traders[0].private_get_api_v1_capital()
                (usdc,) = [f["data"] for f in frames if f["stream"] == "account.balanceUpdate"]
                assert (usdc["A"], usdc["L"], usdc["S"]) == (
                    capital["USDC"]["available"],
                    capital["USDC"]["locked"],
                    capital["USDC"]["staked"],
                )
                assert await drain(anonymous) == []
                assert await drain(stale) == []
                await traders[0].cancel_all_orders("ETH/USDC")
        finally:
            for trader in traders:
                await trader.close()

    run(scenario())


def test_depth_frames_start_with_a_warm_up_then_follow_one_counter(satchel_server, cast):
    maker, _ = cast

    async def scenario() -> None:
        trader = pro(satchel_server, maker)
        try:
            async with websockets.connect(ws_url(satchel_server)) as socket:
                await send(socket, "SUBSCRIBE", "depth.ETH_USDC", "depth.ETH_USDC")  # idempotent
                warmup = await drain(socket)
                assert len(warmup) == 11
                assert len({(f["data"]["U"], f["data"]["u"]) for f in warmup}) == 1
                assert {f["stream"] for f in warmup} == {"depth.ETH_USDC"}
                assert warmup[0]["data"]["a"] == warmup[0]["data"]["b"] == []
                last = warmup[-1]["data"]["u"]
                for i in range(3):
                    await trader.create_order("ETH/USDC", "limit", "buy", 1, 900.11 + i)
                await trader.cancel_all_orders("ETH/USDC")
                rest = await trader.public_get_api_v1_depth({"symbol": "ETH_USDC"})
                frames = await frames_until(socket, lambda f: f["data"]["u"] >= int(rest["lastUpdateId"]))
                for frame in frames:
                    assert frame["data"]["U"] == frame["data"]["u"] == last + 1
                    last = frame["data"]["u"]
                levels = [level for f in frames for level in f["data"]["b"]]
                assert ["900.11", "1"] in levels
                assert ["900.11", "0"] in levels
        finally:
            await trader.close()

    run(scenario())

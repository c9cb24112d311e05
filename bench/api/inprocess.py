"""In-process CPU cost of one signed REST order call, without the server or the matching worker.

    .venv/bin/python bench/api/inprocess.py [--requests 2000] [--profile 25]

Sets up a fresh database on the embedded PostgreSQL (var/bench, like bench/api/run.py), then
sends signed `POST /api/v1/order` (half of them cancelled again with `DELETE /api/v1/order`)
through the node's ASGI application (`config.asgi`) in this process, with `ORDER_RESULT_WAIT_SECONDS=0` (no worker:
the answer is the order as accepted). Prints ms per request (wall and this process's CPU), and
with `--profile N` the N most expensive functions by cumulative time. Final line: JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable


def _setup() -> tuple[dict[str, str], dict[str, str]]:
    os.environ.setdefault("SATCHEL_DATA_DIR", str(ROOT / "var" / "bench"))
    os.environ.pop("SATCHEL_PG_FAST", None)
    from config import services

    urls = services.acquire()
    import psycopg

    base = urls.database_url.rsplit("/", 1)[0]
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS satchel_api_inprocess WITH (FORCE)")
        conn.execute("CREATE DATABASE satchel_api_inprocess")
    env = {
        **os.environ,
        "DATABASE_URL": base + "/satchel_api_inprocess",
        "REDIS_URL": urls.redis_url.rsplit("/", 1)[0] + "/8",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "ORDER_RESULT_WAIT_SECONDS": "0",
    }

    def manage(*command: str) -> str:
        return subprocess.run(
            [PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        ).stdout

    manage("migrate", "--no-input", "-v", "0")
    manage("seed_demo")
    account = json.loads(
        manage(
            "create_account",
            "--email",
            "inprocess@bench.test",
            "--password",
            "bench-password-1",
            "--kyc",
            "full",
            "--deposit",
            "USDC=100000000",
            "--deposit",
            "SOL=1000000",
            "--api-key",
            "--json",
        )
        .strip()
        .splitlines()[-1]
    )
    return env, account


class _AsgiClient:
    """The node's ASGI application called as uvicorn calls it (core.asgi_call); answers like
    Django's test client."""

    def __init__(self, application: Any) -> None:
        from core.asgi_call import asgi_http_call

        self.application, self.call = application, asgi_http_call

    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
        status, _, content = await self.call(
            self.application, method, path, body, {"Content-Type": "application/json", **headers}
        )
        return _Answer(status, content)


class _Answer:
    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code, self.content = status_code, content

    def json(self) -> Any:
        return json.loads(self.content)


async def _run(account: dict[str, str], requests: int, *, mode: str) -> tuple[float, float]:
    """`mode`: "server" sends through `config.asgi.application` as uvicorn does (what the node
    runs); "django" through Django's stock ASGI handler (its test client), for comparison;
    "thread" runs Django's test handler in this thread (what cProfile can see)."""
    from django.test import AsyncClient, Client

    from accounts.signing import sign

    client: Any = Client() if mode == "thread" else AsyncClient()
    if mode == "server":
        from config.asgi import application

        server = _AsgiClient(application)

    async def send(method: str, path: str, body: Any, **kwargs: Any) -> Any:
        if mode == "server":
            data = body if isinstance(body, str) else json.dumps(body)
            return await server.request(method.upper(), path, data.encode(), kwargs["headers"])
        if mode == "thread":
            return getattr(client, method)(path, body, **kwargs)
        return await getattr(client, method)(path, body, **kwargs)

    rng = random.Random(3)
    placed: list[str] = []

    def headers(instruction: str, body: dict[str, str]) -> dict[str, str]:
        timestamp = str(time.time_ns() // 1_000_000)
        pairs = "&".join(f"{k}={v}" for k, v in sorted(body.items()))
        return {
            "X-API-Key": account["api_key"],
            "X-Signature": sign(
                account["api_secret"], f"instruction={instruction}&{pairs}&timestamp={timestamp}&window=60000"
            ),
            "X-Timestamp": timestamp,
            "X-Window": "60000",
        }

    # Signing is the client's cost: done before the clock starts.
    calls: list[tuple[str, dict[str, str], dict[str, str]]] = []
    for n in range(requests):
        if n % 2:
            calls.append(("DELETE", {"orderId": "", "symbol": "SOL_USDC"}, {}))
        else:
            price = str(100 + rng.randint(-5, 5))
            body = {
                "orderType": "Limit",
                "price": price,
                "quantity": "0.1",
                "side": "Bid",
                "symbol": "SOL_USDC",
            }
            calls.append(("POST", body, headers("orderExecute", body)))
    wall = time.perf_counter()
    cpu = time.process_time()
    for method, body, signed in calls:
        if method == "POST":
            response = await send(
                "post", "/api/v1/order", body, content_type="application/json", headers=signed
            )
            assert response.status_code == 200, response.content
            placed.append(response.json()["id"])
        else:
            body = {**body, "orderId": placed.pop()}
            response = await send(
                "delete",
                "/api/v1/order",
                json.dumps(body),
                content_type="application/json",
                headers=headers("orderCancel", body),
            )
            assert response.status_code == 200, response.content
    return (time.perf_counter() - wall) * 1000 / requests, (time.process_time() - cpu) * 1000 / requests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", type=int, default=0, help="print the N top functions (cumulative)")
    parser.add_argument(
        "--only-server", action="store_true", help="only the node's ASGI application (no comparisons)"
    )
    args = parser.parse_args()
    env, account = _setup()
    os.environ.update(env)
    import django

    django.setup()
    from config import services

    try:
        asyncio.run(_run(account, 200, mode="server"))  # warm up: caches, pool, first-use look-ups
        wall_ms, cpu_ms = asyncio.run(_run(account, args.requests, mode="server"))
        django_wall_ms = django_cpu_ms = sync_wall_ms = sync_cpu_ms = float("nan")
        if not args.only_server:
            django_wall_ms, django_cpu_ms = asyncio.run(_run(account, args.requests, mode="django"))
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "1"  # the sync handler, inside this event loop
            sync_wall_ms, sync_cpu_ms = asyncio.run(_run(account, args.requests, mode="thread"))
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            asyncio.run(_run(account, args.requests, mode="thread"))
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
    finally:
        services.release()
    load = os.getloadavg()[0]
    print(
        f"{args.requests} signed calls: {wall_ms:.2f} ms wall, {cpu_ms:.2f} ms CPU per call (load {load:.1f})"
    )
    if not args.only_server:
        print(
            f"same, Django's stock ASGI handler: {django_wall_ms:.2f} ms wall, {django_cpu_ms:.2f} ms CPU per call"
        )
        print(
            f"same, view in this thread (no ASGI): {sync_wall_ms:.2f} ms wall, {sync_cpu_ms:.2f} ms CPU per call"
        )
    print(
        json.dumps(
            {
                "benchmark": "api_inprocess",
                "requests": args.requests,
                "ms_wall_per_call": round(wall_ms, 3),
                "ms_cpu_per_call": round(cpu_ms, 3),
                "ms_cpu_per_call_django_asgi": None if args.only_server else round(django_cpu_ms, 3),
                "ms_cpu_per_call_without_asgi": None if args.only_server else round(sync_cpu_ms, 3),
                "load_average": round(load, 1),
            }
        )
    )


if __name__ == "__main__":
    main()

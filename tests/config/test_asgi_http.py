"""The node's HTTP handler (config/asgi_http.py): one thread hop per request on reused threads,
with Django's guarantees kept: signals, the database connection given back, streaming responses
closed in their own thread, a disconnect ending a stream, bad requests answered.

Drives `config.asgi.application` as uvicorn does (scope, receive, send), against real PostgreSQL.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from django.core import signals
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.asgi_http import PooledThreadASGIHandler

events: list[tuple[str, int]] = []


def _where(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"thread": threading.get_ident()})


def _stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        for n in range(3):
            with connection.cursor() as cursor:  # the view's connection, in the view's thread
                cursor.execute("SELECT %s", [n])
                yield f"{cursor.fetchone()[0]},".encode()

    response = StreamingHttpResponse(chunks())
    response._resource_closers.append(lambda: events.append(("closed", threading.get_ident())))
    return response


def _endless(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100_000):
            yield b"x" * 1024
            await asyncio.sleep(0.001)

    response = StreamingHttpResponse(chunks())
    response._resource_closers.append(lambda: events.append(("closed", threading.get_ident())))
    return response


@csrf_exempt
def _echo(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.body)


urlpatterns = [
    path("where", _where),
    path("stream", _stream),
    path("endless", _endless),
    path("echo", _echo),
]


@pytest.fixture
def handler(settings) -> PooledThreadASGIHandler:  # type: ignore[no-untyped-def]
    settings.ROOT_URLCONF = __name__
    events.clear()

    def started(**kwargs: Any) -> None:
        events.append(("started", threading.get_ident()))

    def finished(**kwargs: Any) -> None:
        events.append(("finished", threading.get_ident()))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    yield PooledThreadASGIHandler()
    signals.request_started.disconnect(started)
    signals.request_finished.disconnect(finished)


async def _call(
    application: Any, path_: str, *, body: bytes = b"", method: str = "GET", disconnect_after: int = 0
) -> tuple[int, bytes, int]:
    """(status, body, body messages sent). `disconnect_after`: the client goes away after that
    many body messages have been sent to it."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path_,
        "raw_path": path_.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    gone = asyncio.Event()
    answer: dict[str, Any] = {"body": b"", "messages": 0}

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop()
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            return
        answer["body"] += message.get("body", b"")
        answer["messages"] += 1
        if disconnect_after and answer["messages"] >= disconnect_after:
            gone.set()

    await asyncio.wait_for(application(scope, receive, send), 10)
    return answer["status"], answer["body"], answer["messages"]


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


@pytest.mark.django_db(transaction=True)
def test_a_request_runs_in_one_reused_thread_and_gives_its_connection_back(handler):
    status, body, _ = _run(_call(handler, "/where"))
    first_thread = int(body.decode().split(":")[1].strip(" }"))
    threads_before = threading.active_count()

    status_again, body_again, _ = _run(_call(handler, "/where"))

    assert (status, status_again) == (200, 200)
    # The same idle thread served the second request: no thread started per request.
    assert int(body_again.decode().split(":")[1].strip(" }")) == first_thread
    assert threading.active_count() == threads_before
    # request_started and request_finished (which closes the request's connections) both ran
    # once per request, in the request's thread, before the answer went out.
    assert events == [("started", first_thread), ("finished", first_thread)] * 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_each_get_a_thread(handler):
    async def both() -> list[tuple[int, bytes, int]]:
        return await asyncio.gather(_call(handler, "/where"), _call(handler, "/where"))

    answers = _run(both())

    assert [status for status, _, _ in answers] == [200, 200]
    assert len(handler._idle) == 2  # both threads are kept for the next requests


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_a_streaming_response_is_sent_whole_and_closed_in_its_own_thread(handler):
    status, body, _ = _run(_call(handler, "/stream"))

    assert (status, body) == (200, b"0,1,2,")
    started = events[0][1]
    # Iterated (with the database) and closed in the thread that ran the view.
    assert ("closed", started) in events
    assert events[-1] == ("finished", started)


@pytest.mark.django_db(transaction=True)
def test_a_client_that_goes_away_ends_the_stream(handler):
    status, _, messages = _run(_call(handler, "/endless", disconnect_after=3))

    assert status == 200
    assert messages < 1000  # stopped long before the end of the stream
    assert [name for name, _ in events[-2:]] == ["closed", "finished"]


@pytest.mark.django_db(transaction=True)
def test_request_bodies_still_arrive_and_are_limited(handler, settings):
    assert _run(_call(handler, "/echo", method="POST", body=b"hello"))[:2] == (200, b"hello")

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    status, _, _ = _run(_call(handler, "/echo", method="POST", body=b"x" * 100))
    assert status == 400  # RequestDataTooBig, as Django's own handler answers it
    assert [name for name, _ in events[-2:]] == ["started", "finished"]


def test_websocket_scopes_are_refused():
    handler = PooledThreadASGIHandler()
    with pytest.raises(ValueError, match="only handle ASGI/HTTP"):
        _run(handler({"type": "websocket"}, None, None))


@pytest.mark.django_db(transaction=True)
def test_the_loop_hook_runs_on_the_serving_loop_before_each_request(settings):
    settings.ROOT_URLCONF = __name__
    loops: list[asyncio.AbstractEventLoop] = []
    handler = PooledThreadASGIHandler(on_loop=lambda: loops.append(asyncio.get_running_loop()))

    async def two() -> asyncio.AbstractEventLoop:
        await _call(handler, "/where")
        await _call(handler, "/where")
        return asyncio.get_running_loop()

    serving = _run(two())

    assert loops == [serving, serving]

"""Django's HTTP handler with one thread hop per request, on reused threads.

Django's `ASGIHandler` opens a `ThreadSensitiveContext` per request, which starts (and later stops)
a new OS thread for each one, and crosses between the event loop and that thread three times:
the `request_started` signal, the middleware chain and view, and `response.close()`. Under load
the thread start alone cost more of the web process than the order view (docs/PERFORMANCE.md,
REST API). Here the signal, the sync middleware chain (loaded as under WSGI) and the view run in
one call on a thread borrowed from an idle pool, and a plain response is closed there too
(`request_finished`: the request's database connections go back) before it is sent.

Everything Django's handler guarantees still holds: each request keeps one thread from start to
close (the thread-sensitive context is the borrowed thread, so a streaming response's iterator
and its close run there, where its database connections live), body size limits and bad requests
are answered as before, and a streaming response stops when the client goes away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

FastServe = Callable[[Any, Any, Any, Callable[..., Awaitable[Any]]], Awaitable[None]]

# Idle threads kept for reuse; more run at once when more requests are in flight (a request
# waiting on the matching worker holds its thread), and those beyond this many end when done.
MAX_IDLE_THREADS = 64
# Threads for the `fast` calls' database trips, fewer than the process's database pool (20).
FAST_THREADS = 16


class PooledThreadASGIHandler(ASGIHandler):
    """HTTP only; WebSocket goes to Channels (config/asgi.py)."""

    def __init__(
        self,
        *,
        on_loop: Callable[[], None] | None = None,
        fast: tuple[Callable[[dict[str, Any]], Any], FastServe] | None = None,
    ) -> None:
        """`on_loop` runs on the serving loop before each request (idempotent: e.g. start a
        process-wide listener the first time). `fast`: (`select`, `serve`): a request for which
        `select(scope)` returns something is answered by `serve(that, receive, send, run)`
        instead of Django, `run(function, *args)` running a function on the request's thread."""
        base.BaseHandler.__init__(self)
        self._on_loop = on_loop
        self._fast = fast
        # The chain runs inside the borrowed thread, so it is loaded synchronously, as for WSGI.
        self.load_middleware(is_async=False)
        self._idle: list[ThreadPoolExecutor] = []
        self._fast_threads = ThreadPoolExecutor(FAST_THREADS, thread_name_prefix="http-fast")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        if self._on_loop is not None:
            self._on_loop()
        fast = self._fast[0](scope) if self._fast is not None else None
        if fast is not None and self._fast is not None:
            # Each of the call's trips is a request of its own to Django's connection handling
            # (exchange/api/fast_orders.py `_in_request`), so any of a few shared threads will do:
            # no thread is created per call, and none is held while the call waits on the loop.
            loop = asyncio.get_running_loop()
            threads = self._fast_threads
            await self._fast[1](
                fast, receive, send, lambda function, *args: loop.run_in_executor(threads, function, *args)
            )
            return
        # Only the event loop's thread touches the idle list: no lock needed.
        executor = self._idle.pop() if self._idle else ThreadPoolExecutor(1, thread_name_prefix="http")
        finished = False
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
            finished = True
        finally:
            # A cancelled request may leave its thread busy: that one is not handed to the next.
            if finished and len(self._idle) < MAX_IDLE_THREADS:
                self._idle.append(executor)
            else:
                executor.shutdown(wait=False)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            response = await sync_to_async(self._respond, thread_sensitive=True)(scope, body_file)
            if response.streaming:
                await self._stream(response, receive, send)
            else:
                await self.send_response(response, send)
        finally:
            body_file.close()

    def _respond(self, scope: dict[str, Any], body_file: Any) -> HttpResponseBase:
        """In the request's thread: start, the middleware chain and view, and (unless streaming) close."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size  # the server chunks the socket writes
        if not response.streaming:
            # The body is already bytes: close now (request_finished gives the request's database
            # connections back) rather than crossing to this thread again after sending.
            response.close()
        return response

    async def _stream(self, response: HttpResponseBase, receive: Any, send: Any) -> None:
        """Send a streaming response, stopping if the client disconnects; close it in its thread."""
        sending = asyncio.create_task(self.send_response(response, send))
        listening = asyncio.create_task(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait([sending, listening], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (listening, sending):
                task.cancel()
            outcomes = await asyncio.gather(listening, sending, return_exceptions=True)
            await sync_to_async(response.close, thread_sensitive=True)()
        for outcome in outcomes:
            # As Django's handler: a disconnect ends the response quietly, anything else is raised.
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, (asyncio.CancelledError, RequestAborted)
            ):
                raise outcome

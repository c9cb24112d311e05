"""Fewer thread switches per request under ASGI.

From an async server, Django runs every async-capable middleware asynchronously as long as what
lies below it is async (the innermost handler is), and such a middleware (`MiddlewareMixin`) then
runs each `process_request`/`process_response` through `sync_to_async`: a thread switch apiece.
WhiteNoise, sync-only, also switched back to the event loop for everything below it. About
sixteen switches per API call cost ~0.8 ms of CPU (docs/PERFORMANCE.md, REST API). This sync-only
no-op, last in MIDDLEWARE, makes everything above it run synchronously in the request's worker
thread: three switches in all (into the chain, here, and to the sync view). Every view is
synchronous, so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase


class SyncMiddlewareChain:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

"""Process-local fan-out of public streams (docs/PERFORMANCE.md, "WebSocket fan-out").

A public stream's channel-layer group has one member per web process, this module's hub, instead
of one per socket: the hub receives and decodes each group message once and hands the
publisher's already-encoded frames (streams.public_frame) to every local socket subscribed to
the stream. Per socket and frame that leaves the consumer's ordering checks and the socket write;
the per-socket channel-layer queue, decode and Channels dispatch are gone.

Each socket writes through a `FrameWriter`, which keeps one socket's frames in order without a
task per frame, and never lets one slow client hold up the hub's loop over the others.

Private streams stay on the per-user groups the consumers join themselves: each of their events
reaches a handful of sockets.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, Protocol

from exchange import streams

logger = logging.getLogger(__name__)

# Frames a socket may have waiting behind a write that could not finish at once (its client reads
# more slowly than events come): a client this far behind has lost its place, and is closed.
WRITER_BACKLOG = 1000
# Close code for a socket whose backlog overflowed: frames were dropped, so the client must resync.
CLOSE_TOO_SLOW = 4009

Frame = list[Any]  # streams.public_frame: [stream, kind, first id, last id, text]


class Subscriber(Protocol):
    def hub_frames(self, frames: list[Frame]) -> None:
        """Take a group message's frames, in order; called from the hub's reader, must not block."""


class FrameWriter:
    """One socket's outgoing frames, in order.

    A write starts sending at once, in the caller's task: uvicorn's send finishes without
    suspending unless the transport's buffer is full, so the usual frame costs no task and no
    loop round. Only a send that does suspend moves to a task of its own, and frames written
    meanwhile queue behind it (at most WRITER_BACKLOG); this is what Python 3.12's eager tasks do.
    """

    def __init__(self, send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self._send = send
        self._backlog: deque[dict[str, Any]] = deque()
        self._task: asyncio.Task[None] | None = None
        self.is_closed = False

    def write(self, text: str) -> None:
        self._put({"type": "websocket.send", "text": text})

    def close(self, code: int) -> None:
        """Send a close frame after what is queued; later writes are dropped."""
        self._put({"type": "websocket.close", "code": code})
        self.is_closed = True

    def cancel(self) -> None:
        """The socket is gone: drop what is queued."""
        self.is_closed = True
        self._backlog.clear()
        if self._task is not None:
            self._task.cancel()

    def _put(self, message: dict[str, Any]) -> None:
        if self.is_closed:
            return
        if self._task is not None:
            if len(self._backlog) >= WRITER_BACKLOG:
                logger.warning("socket %d frames behind; closing", len(self._backlog))
                self._backlog.clear()
                message = {"type": "websocket.close", "code": CLOSE_TOO_SLOW}
                self.is_closed = True
            self._backlog.append(message)
            return
        coroutine = self._send(message)
        assert isinstance(coroutine, Coroutine)
        try:
            waiting_on = coroutine.send(None)
        except StopIteration:
            return
        except Exception:
            self._failed()
            return
        self._task = asyncio.ensure_future(self._finish(coroutine, waiting_on))

    async def _finish(self, coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        try:
            await _resume(coroutine, waiting_on)
            while self._backlog:
                await self._send(self._backlog.popleft())
        except Exception:
            self._failed()
        finally:
            self._task = None

    def _failed(self) -> None:
        # The client went away mid-send: its consumer is told by its own receive, and cleans up.
        logger.debug("socket send failed", exc_info=True)
        self.is_closed = True
        self._backlog.clear()


async def _resume(coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    """Run a started coroutine to its end in the current task: what it yielded (a future, or None
    for a bare yield) is awaited here, then it is resumed, or the error thrown into it."""
    while True:
        try:
            if waiting_on is None:
                await asyncio.sleep(0)
            else:
                await _AwaitYielded(waiting_on)
        except BaseException as exc:  # cancellation included: the coroutine sees what it would have
            try:
                waiting_on = coroutine.throw(exc)
            except StopIteration:
                return
            continue
        try:
            waiting_on = coroutine.send(None)
        except StopIteration:
            return


class _AwaitYielded:
    """Awaits a future a coroutine yielded, leaving its result for the coroutine to read itself."""

    def __init__(self, future: Any) -> None:
        self._future = future

    def __await__(self) -> Generator[Any, None, None]:
        if not self._future.done():
            yield self._future


class StreamHub:
    """The public-stream subscriptions of one process (one event loop, one channel layer)."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._channel: str | None = None
        self._reader: asyncio.Task[None] | None = None
        # Serialises group joins and leaves with the reader's start and stop.
        self._lock = asyncio.Lock()

    async def join(self, stream: str, subscriber: Subscriber) -> None:
        """Deliver `stream`'s frames to `subscriber` from now on. Once this returns, whatever the
        publisher sends to the stream reaches it (the hub's group membership is in place)."""
        async with self._lock:
            members = self._subscribers.get(stream)
            if members is not None:
                members.add(subscriber)
                return
            if self._channel is None:
                self._channel = await self.layer.new_channel()
                self._reader = asyncio.ensure_future(self._read(self._channel))
            self._subscribers[stream] = {subscriber}
            await self.layer.group_add(streams.public_group(stream), self._channel)

    async def leave(self, stream: str, subscriber: Subscriber) -> None:
        """Stop delivering `stream` to `subscriber`; the last one out leaves the group."""
        async with self._lock:
            members = self._subscribers.get(stream)
            if members is None or subscriber not in members:
                return
            members.discard(subscriber)
            if members:
                return
            del self._subscribers[stream]
            assert self._channel is not None
            await self.layer.group_discard(streams.public_group(stream), self._channel)
            if not self._subscribers and self._reader is not None:
                # Nothing left to read: the reader's cancelled receive releases the channel.
                self._reader.cancel()
                await asyncio.gather(self._reader, return_exceptions=True)
                self._reader, self._channel = None, None

    async def _read(self, channel: str) -> None:
        while True:
            message = await self.layer.receive(channel)
            try:
                self._deliver(message)
            except Exception:
                logger.exception("stream hub: message not delivered")

    def _deliver(self, message: dict[str, Any]) -> None:
        if message.get("type") != streams.EVENTS_MESSAGE_TYPE or message.get("user") is not None:
            return
        frames: list[Frame] = message["frames"]
        # One group per public stream: a message's frames are all the first frame's stream.
        members = self._subscribers.get(frames[0][0]) if frames else None
        for subscriber in tuple(members or ()):
            try:
                subscriber.hub_frames(frames)
            except Exception:
                logger.exception("stream hub: frames not delivered to a socket")


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, StreamHub] = weakref.WeakKeyDictionary()


def stream_hub(layer: Any) -> StreamHub:
    """This event loop's hub on `layer` (a web process has one loop; tests may swap the layer)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.layer is not layer:
        hub = _hubs[loop] = StreamHub(layer)
    return hub

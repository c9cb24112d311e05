"""Long-running: publish outbox events to WebSocket subscribers (exchange/services/outbox.py)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from channels.layers import get_channel_layer
from django.core.management.base import BaseCommand, CommandParser

from exchange.services.outbox import BATCH_SIZE, POLL_SECONDS, OutboxPublisher


class Command(BaseCommand):
    help = "Publish committed outbox events to the channel layer, in order, until SIGTERM or Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
        parser.add_argument("--poll-seconds", type=float, default=POLL_SECONDS)

    def handle(self, *args: Any, **options: Any) -> None:
        asyncio.run(self._run(batch_size=options["batch_size"], poll_seconds=options["poll_seconds"]))

    async def _run(self, *, batch_size: int, poll_seconds: float) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        publisher = OutboxPublisher(
            layer=get_channel_layer(), batch_size=batch_size, poll_seconds=poll_seconds
        )
        await publisher.run(stop)

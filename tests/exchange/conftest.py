"""Channel layers for the stream tests: the in-memory one, and the Redis pub/sub layer a deployed
node runs (config/settings), each with the consumers' market cache emptied (every database test
seeds its markets afresh)."""

from __future__ import annotations

from typing import Any

import pytest
from channels.layers import get_channel_layer

from exchange import consumers


@pytest.fixture
def layer(settings, monkeypatch) -> Any:  # type: ignore[no-untyped-def]
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    monkeypatch.setattr(consumers, "_markets", (0.0, {}))
    return get_channel_layer()


@pytest.fixture
def redis_layer(settings, monkeypatch) -> Any:  # type: ignore[no-untyped-def]
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": settings.REDIS_URL, "socket_timeout": 30}]},
        }
    }
    monkeypatch.setattr(consumers, "_markets", (0.0, {}))
    return get_channel_layer()

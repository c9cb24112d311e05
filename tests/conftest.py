"""Fixtures shared by the whole suite: real PostgreSQL and Redis, a fixed cast of users.

The cast (CONVENTIONS.md): alice, a verified trader; bob, unverified; carol, a compliance officer;
mallory, an attacker with her own account and key.
"""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fixtures.channel_layers",
    "tests.fixtures.live",
    "tests.fixtures.market_data",
    "tests.fixtures.users",
]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"

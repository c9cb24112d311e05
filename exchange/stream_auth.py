"""Who may hold a socket's private streams (exchange/consumers.py), and for how long.

A private SUBSCRIBE is authenticated by a signature (`grant_for_signature`) or, for the web UI's own
socket, by the login session (`grant_for_session`). Both are sync: the consumer runs them in a
thread, and they query PostgreSQL and Redis.

Replay. The signed text is `instruction=subscribe&timestamp=<ts>&window=<w>` (§8.2): it names no
stream and no connection, so a captured SUBSCRIBE (a proxy log, a shared debugging paste) would
open the victim's private streams on any socket until the window closes. Each accepted signed text
is therefore claimed in Redis with SET NX until it expires, and a second claim is refused. The
same socket may present it again: ccxt signs each watch afresh, but watches started in the same
millisecond carry the same timestamp, and Ed25519 signatures are deterministic, so `watch_orders`
and `watch_balance` started together send identical signatures on one connection. That reuse
gives the socket nothing it does not hold already. Without Redis nothing can be claimed, and the
subscribe is refused (fail closed).

Ending access. Revoking a key or freezing an account tells the sockets at once, through the groups
of exchange/streams.py; and the consumer re-checks every credential of a socket before delivering
private events once `RECHECK_SECONDS` have passed since the last check (`credentials_refusal`): a
logout, a lost message, or a revocation committed between a subscribe's check and its group join
ends delivery within that bound, at one query per socket per interval, never per event.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Container
from dataclasses import dataclass
from importlib import import_module

import redis
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.utils.crypto import constant_time_compare

from accounts import signing
from accounts.models import ApiKey, User
from compliance.services.screening import user_is_frozen
from exchange import streams

INVALID_SIGNATURE = 4001
FORBIDDEN_STREAM = 4003
# A socket's credentials are re-read at most this often while its private events flow.
RECHECK_SECONDS = 10.0
# Extra life of a claimed signature beyond its own expiry, for clock differences between web hosts.
CLAIM_MARGIN_MS = 1_000


class StreamError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


FROZEN = StreamError(FORBIDDEN_STREAM, "This account is frozen")
# What a socket is told when the publisher ends its private streams (streams.ACCESS_END_*).
ACCESS_END_ERRORS = {
    streams.ACCESS_END_KEY_REVOKED: StreamError(INVALID_SIGNATURE, "API key revoked"),
    streams.ACCESS_END_ACCOUNT_FROZEN: FROZEN,
}


@dataclass(frozen=True)
class Grant:
    """An accepted private SUBSCRIBE: the account; if it was signed, the key, and the claimed
    signed text with the time (epoch ms) its claim expires."""

    user_id: int
    api_key_id: int | None = None
    claim: str | None = None
    claim_expires_ms: int = 0


@functools.cache
def _redis(url: str) -> redis.Redis:
    # Short timeouts: a subscribe waits on this, and an unreachable Redis must refuse it quickly.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def signature_claim_key(*, api_key_id: int, timestamp: str, window: str) -> str:
    """The Redis key of one signed text: the key's id, not the base64 text, which has spellings."""
    return f"satchel:{streams.deployment_scope()}:ws-signature:{api_key_id}:{timestamp}:{window}"


def _claim(key: str, *, ttl_ms: int) -> bool:
    """Claim `key` until it expires; False if it is claimed already. Raises StreamError without Redis."""
    try:
        return bool(_redis(settings.REDIS_URL).set(key, 1, nx=True, px=max(ttl_ms, 1)))
    except redis.RedisError as exc:
        raise StreamError(INVALID_SIGNATURE, "Signatures cannot be checked now; try again") from exc


def grant_for_signature(signature: object, *, claimed: Container[str]) -> Grant:
    """The grant of a SUBSCRIBE signature `[api key, signature, timestamp, window]`. `claimed` are
    the signed texts this socket has used already (see the module doc).

    The signature is checked before any query, so unsigned noise never reaches the database, and
    the claim is made last, so only an accepted signature is remembered.
    """
    if not (
        isinstance(signature, list) and len(signature) == 4 and all(isinstance(p, str) for p in signature)
    ):
        raise StreamError(INVALID_SIGNATURE, "Private streams need a signature")
    api_key, signature_b64, timestamp, window = signature
    now_ms = time.time_ns() // 1_000_000
    try:
        window_ms = signing.check_timestamp(
            timestamp=timestamp,
            window=window,
            now_ms=now_ms,
            max_window_ms=settings.API_SIGNATURE_MAX_WINDOW_MS,
            default_window_ms=settings.API_SIGNATURE_DEFAULT_WINDOW_MS,
        )
    except signing.SigningError as exc:
        raise StreamError(INVALID_SIGNATURE, str(exc)) from exc
    candidates = [signing.subscribe_signing_string(timestamp, window)]
    if not signing.verify(api_key_b64=api_key, signature_b64=signature_b64, candidates=candidates):
        raise StreamError(INVALID_SIGNATURE, "Invalid signature")
    key = ApiKey.objects.select_related("user").filter(public_key=api_key, revoked_at=None).first()
    if key is None or not key.user.is_active:
        raise StreamError(INVALID_SIGNATURE, "Invalid API key")
    if user_is_frozen(key.user_id):
        raise FROZEN
    claim = signature_claim_key(api_key_id=key.pk, timestamp=timestamp, window=window)
    # check_timestamp accepts the text until timestamp + window: the claim must outlive that.
    ttl_ms = int(timestamp) + window_ms - now_ms + CLAIM_MARGIN_MS
    if claim not in claimed and not _claim(claim, ttl_ms=ttl_ms):
        raise StreamError(INVALID_SIGNATURE, "Signature already used; sign each subscribe afresh")
    return Grant(
        user_id=int(key.user_id), api_key_id=int(key.pk), claim=claim, claim_expires_ms=now_ms + ttl_ms
    )


def account_for_session(session_key: str) -> int | None:
    """The active user logged in under `session_key`, read afresh (a logout ends it), with the
    password-change hash checked as Django's auth middleware checks it; None otherwise."""
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user_id = session.get(SESSION_KEY)
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not constant_time_compare(
        session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()
    ):
        return None
    return int(user.pk)


def grant_for_session(session_key: str) -> Grant:
    """The grant of the web UI's socket, by its login session."""
    user_id = account_for_session(session_key)
    if user_id is None:
        raise StreamError(INVALID_SIGNATURE, "Private streams need a signature or a logged-in session")
    if user_is_frozen(user_id):
        raise FROZEN
    return Grant(user_id=user_id)


def credentials_refusal(
    *, user_id: int, api_key_ids: frozenset[int], session_key: str | None
) -> StreamError | None:
    """Why a socket may no longer hold the private streams its credentials opened (a key revoked,
    the session ended, the user deactivated or frozen), or None while every one still holds."""
    if api_key_ids:
        active = ApiKey.objects.filter(
            pk__in=api_key_ids, user_id=user_id, revoked_at=None, user__is_active=True
        ).count()
        if active != len(api_key_ids):
            return StreamError(INVALID_SIGNATURE, "API key revoked")
    if session_key is not None and account_for_session(session_key) != user_id:
        return StreamError(INVALID_SIGNATURE, "Session ended; log in again")
    if user_is_frozen(user_id):
        return FROZEN
    return None

"""API keys: ED25519 public keys that authenticate Backpack-style signed requests.

The secret half of a generated pair is returned once and never stored: Satchel keeps only the
public key, which is both the `X-API-Key` header value and the verifier.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ApiKey, ApiKeyOrigin, User
from accounts.signing import SigningError, generate_keypair, normalize_public_key
from compliance.services.audit import audit_record
from core.errors import InvalidRequest, NotFound

# Bounds the keys a stolen session can mint and the rows the signature check may have to consider.
MAX_ACTIVE_API_KEYS = 20
LABEL_MAX_LENGTH = ApiKey._meta.get_field("label").max_length or 64


def api_key_create(*, user: User, label: str = "") -> tuple[ApiKey, str]:
    """Generate an ED25519 key pair for `user`; return the stored key and the base64 secret (seed).

    The secret is not stored anywhere: the caller shows it once. Raises InvalidRequest when the
    label is too long or the user already has MAX_ACTIVE_API_KEYS active keys.
    """
    public_key, secret = generate_keypair()
    api_key = _api_key_insert(user=user, public_key=public_key, label=label, origin=ApiKeyOrigin.GENERATED)
    return api_key, secret


def api_key_register(*, user: User, public_key: str, label: str = "") -> ApiKey:
    """Register a public key the user generated themselves (base64 of 32 bytes, a valid Ed25519 point).

    Raises InvalidRequest when the key is malformed, not a usable point, already registered (by
    anyone, revoked or not), when the label is too long, or when the user is at MAX_ACTIVE_API_KEYS.
    """
    try:
        canonical = normalize_public_key(public_key.strip())
    except SigningError as exc:
        raise InvalidRequest(f"Invalid public key: {exc}") from exc
    return _api_key_insert(user=user, public_key=canonical, label=label, origin=ApiKeyOrigin.REGISTERED)


@transaction.atomic(durable=True)
def api_key_revoke(*, user: User, api_key_id: int) -> ApiKey:
    """Revoke one of `user`'s keys; revoking an already revoked key returns it unchanged.

    Raises NotFound when the key does not exist or belongs to another user (the two look the same,
    so key ids of other users cannot be probed).
    """
    # Compare-and-set: two concurrent revocations (web page and admin action) both succeed, and
    # revoked_at keeps the first time instead of being moved forward by the second.
    revoked = ApiKey.objects.filter(pk=api_key_id, user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    api_key = ApiKey.objects.filter(pk=api_key_id, user=user).first()
    if api_key is None:
        raise NotFound("API key not found")
    if revoked:
        audit_record(
            actor=user,
            action="api_key.revoke",
            target=api_key,
            before={"revoked_at": None},
            after={"user_id": user.pk, "revoked_at": api_key.revoked_at},
        )
        from exchange.streams import api_key_revoked_on_commit  # exchange imports accounts

        # Sockets subscribed with the key lose its private streams once the revocation commits.
        api_key_revoked_on_commit(api_key_id=api_key.pk)
    return api_key


def _api_key_insert(*, user: User, public_key: str, label: str, origin: ApiKeyOrigin) -> ApiKey:
    label = label.strip()
    if len(label) > LABEL_MAX_LENGTH:
        raise InvalidRequest(f"Label must be at most {LABEL_MAX_LENGTH} characters")
    if ApiKey.objects.filter(public_key=public_key).exists():
        raise InvalidRequest("This public key is already registered; generate a new key pair")
    try:
        # A savepoint, not a durable block: create_account composes this with user creation and
        # deposits in one transaction, and the IntegrityError below must not poison the caller's.
        with transaction.atomic():
            # The user row lock serialises key creation per user, so two concurrent requests at
            # MAX_ACTIVE_API_KEYS - 1 cannot both pass the count. NO KEY UPDATE: the ApiKey insert
            # takes a KEY SHARE lock on the same row for its foreign key and must not conflict.
            User.objects.select_for_update(no_key=True).filter(pk=user.pk).values_list("pk").get()
            active = ApiKey.objects.filter(user=user, revoked_at__isnull=True).count()
            if active >= MAX_ACTIVE_API_KEYS:
                raise InvalidRequest(
                    f"You already have {MAX_ACTIVE_API_KEYS} active API keys; revoke one before adding another"
                )
            api_key = ApiKey.objects.create(user=user, public_key=public_key, label=label, origin=origin)
            audit_record(
                actor=user,
                action="api_key.create",
                target=api_key,
                after={"user_id": user.pk, "public_key": public_key, "label": label, "origin": origin},
            )
            return api_key
    except IntegrityError as exc:
        # The unique public_key constraint: the same key registered concurrently.
        raise InvalidRequest("This public key is already registered; generate a new key pair") from exc

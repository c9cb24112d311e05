"""API keys: the services and the security page's key forms."""

from __future__ import annotations

import base64

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiKey, ApiKeyOrigin
from accounts.services.api_keys import (
    MAX_ACTIVE_API_KEYS,
    api_key_create,
    api_key_register,
    api_key_revoke,
)
from accounts.signing import generate_keypair, public_key_from_secret
from core.errors import InvalidRequest, NotFound

OFF_CURVE_KEY = base64.b64encode((2).to_bytes(32, "little")).decode()  # y = 2 has no x on the curve
SMALL_ORDER_KEY = base64.b64encode((1).to_bytes(32, "little")).decode()  # the identity point
DUPLICATE_MESSAGE = "This public key is already registered; generate a new key pair"


def _key_rows() -> list[tuple[object, ...]]:
    return list(
        ApiKey.objects.order_by("id").values_list("id", "user_id", "public_key", "label", "revoked_at")
    )


# --- services ---------------------------------------------------------------------------------------


def test_create_returns_a_secret_that_derives_the_stored_public_key(alice):
    api_key, secret = api_key_create(user=alice, label="  trading bot  ")

    stored = ApiKey.objects.get()
    assert stored == api_key
    assert stored.user == alice
    assert stored.label == "trading bot"
    assert stored.origin == ApiKeyOrigin.GENERATED
    assert stored.revoked_at is None
    assert stored.last_used_at is None
    assert len(stored.public_key) == 44
    assert len(base64.b64decode(stored.public_key, validate=True)) == 32
    assert len(base64.b64decode(secret, validate=True)) == 32
    assert public_key_from_secret(secret) == stored.public_key
    # Nothing on the row holds the secret.
    assert secret not in {str(value) for value in ApiKey.objects.values().get().values()}


def test_create_rejects_a_label_that_is_too_long(alice):
    with pytest.raises(InvalidRequest) as raised:
        api_key_create(user=alice, label="x" * 65)

    assert raised.value.code == "INVALID_CLIENT_REQUEST"
    assert raised.value.message == "Label must be at most 64 characters"
    assert _key_rows() == []


def test_active_keys_are_capped_and_revoking_frees_a_slot(alice, bob):
    keys = [api_key_create(user=alice)[0] for _ in range(MAX_ACTIVE_API_KEYS)]
    before = _key_rows()

    with pytest.raises(InvalidRequest) as raised:
        api_key_create(user=alice)
    assert raised.value.message == ("You already have 20 active API keys; revoke one before adding another")
    public_key, _ = generate_keypair()
    with pytest.raises(InvalidRequest):
        api_key_register(user=alice, public_key=public_key)
    assert _key_rows() == before

    # The cap is per user.
    api_key_create(user=bob)
    api_key_revoke(user=alice, api_key_id=keys[0].pk)
    api_key_register(user=alice, public_key=public_key)
    assert ApiKey.objects.filter(user=alice, revoked_at__isnull=True).count() == MAX_ACTIVE_API_KEYS


def test_register_stores_the_users_public_key(alice):
    public_key, secret = generate_keypair()

    api_key = api_key_register(user=alice, public_key=f"  {public_key}\n", label="laptop")

    assert ApiKey.objects.get() == api_key
    assert api_key.user == alice
    assert api_key.public_key == public_key
    assert api_key.label == "laptop"
    assert api_key.origin == ApiKeyOrigin.REGISTERED
    assert public_key_from_secret(secret) == api_key.public_key


@pytest.mark.parametrize(
    ("public_key", "message"),
    [
        ("", "Invalid public key: API key must be base64 of 32 bytes"),
        ("not a key", "Invalid public key: API key must be base64 of 32 bytes"),
        (base64.b64encode(b"\x01" * 31).decode(), "Invalid public key: API key must be base64 of 32 bytes"),
        ("!" * 43 + "=", "Invalid public key: API key is not valid base64"),
        (OFF_CURVE_KEY, "Invalid public key: API key is not a valid Ed25519 point"),
        (SMALL_ORDER_KEY, "Invalid public key: API key is a small-order (weak) Ed25519 point"),
    ],
)
def test_register_refuses_invalid_keys(alice, public_key, message):
    with pytest.raises(InvalidRequest) as raised:
        api_key_register(user=alice, public_key=public_key)

    assert raised.value.code == "INVALID_CLIENT_REQUEST"
    assert raised.value.message == message
    assert _key_rows() == []


def test_register_refuses_a_key_already_registered_by_anyone(alice, mallory):
    alices_key, _ = api_key_create(user=alice)
    before = _key_rows()

    with pytest.raises(InvalidRequest) as raised:
        api_key_register(user=mallory, public_key=alices_key.public_key)
    assert raised.value.message == DUPLICATE_MESSAGE

    with pytest.raises(InvalidRequest) as raised:
        api_key_register(user=alice, public_key=alices_key.public_key)
    assert raised.value.message == DUPLICATE_MESSAGE
    assert _key_rows() == before


def test_register_refuses_a_revoked_key_again(alice):
    api_key, _ = api_key_create(user=alice)
    api_key_revoke(user=alice, api_key_id=api_key.pk)
    before = _key_rows()

    with pytest.raises(InvalidRequest) as raised:
        api_key_register(user=alice, public_key=api_key.public_key)

    assert raised.value.message == DUPLICATE_MESSAGE
    assert _key_rows() == before


def test_revoke_sets_revoked_at_once(alice):
    api_key, _ = api_key_create(user=alice)

    revoked = api_key_revoke(user=alice, api_key_id=api_key.pk)
    first_revoked_at = ApiKey.objects.get().revoked_at
    again = api_key_revoke(user=alice, api_key_id=api_key.pk)

    assert first_revoked_at is not None
    assert first_revoked_at <= timezone.now()
    assert revoked.revoked_at == first_revoked_at
    assert revoked.is_active is False
    assert again.revoked_at == first_revoked_at
    assert ApiKey.objects.get().revoked_at == first_revoked_at


def test_revoke_refuses_another_users_key(alice, mallory):
    api_key, _ = api_key_create(user=alice)
    api_key_create(user=mallory)
    before = _key_rows()

    with pytest.raises(NotFound) as raised:
        api_key_revoke(user=mallory, api_key_id=api_key.pk)

    assert raised.value.code == "RESOURCE_NOT_FOUND"
    assert raised.value.message == "API key not found"
    assert _key_rows() == before


def test_revoke_refuses_an_unknown_key(alice):
    with pytest.raises(NotFound):
        api_key_revoke(user=alice, api_key_id=987654)


# --- pages ------------------------------------------------------------------------------------------


def test_create_page_shows_the_secret_once(client, alice):
    client.force_login(alice)

    response = client.post(reverse("accounts:api_key_create"), {"label": "bot"})

    assert response.status_code == 200
    api_key = ApiKey.objects.get()
    secret = response.context["secret"]
    assert response.context["api_key"] == api_key
    assert public_key_from_secret(secret) == api_key.public_key
    assert api_key.label == "bot"
    content = response.content.decode()
    assert secret in content
    assert api_key.public_key in content
    assert "It is shown only once" in content
    assert "no-store" in response["Cache-Control"]

    page = client.get(reverse("accounts:security"))
    assert page.status_code == 200
    assert api_key.public_key in page.content.decode()
    assert secret not in page.content.decode()


def test_create_page_at_the_cap_shows_the_error_and_creates_nothing(client, alice):
    for _ in range(MAX_ACTIVE_API_KEYS):
        api_key_create(user=alice)
    before = _key_rows()
    client.force_login(alice)

    response = client.post(reverse("accounts:api_key_create"), {"label": "one more"})

    assert response.status_code == 200
    assert response.context["create_form"].non_field_errors() == [
        "You already have 20 active API keys; revoke one before adding another"
    ]
    assert _key_rows() == before


def test_security_page_lists_only_the_users_keys(client, alice, mallory):
    alices_key, _ = api_key_create(user=alice, label="alice bot")
    mallorys_key, _ = api_key_create(user=mallory, label="mallory bot")
    client.force_login(alice)

    response = client.get(reverse("accounts:security"))

    assert list(response.context["api_keys"]) == [alices_key]
    content = response.content.decode()
    assert alices_key.public_key in content
    assert mallorys_key.public_key not in content


def test_register_page_registers_a_valid_key(client, alice):
    public_key, _ = generate_keypair()
    client.force_login(alice)

    response = client.post(
        reverse("accounts:api_key_register"), {"public_key": public_key, "label": "my laptop"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:security")
    api_key = ApiKey.objects.get()
    assert (api_key.user, api_key.public_key, api_key.label, api_key.origin) == (
        alice,
        public_key,
        "my laptop",
        ApiKeyOrigin.REGISTERED,
    )


def test_register_page_refuses_an_invalid_key_next_to_the_field(client, alice):
    client.force_login(alice)

    response = client.post(reverse("accounts:api_key_register"), {"public_key": OFF_CURVE_KEY, "label": ""})

    assert response.status_code == 200
    assert response.context["register_form"].errors == {
        "public_key": ["Invalid public key: API key is not a valid Ed25519 point"]
    }
    assert "Invalid public key: API key is not a valid Ed25519 point" in response.content.decode()
    assert _key_rows() == []


def test_revoke_page_revokes_the_users_key(client, alice):
    api_key, _ = api_key_create(user=alice)
    client.force_login(alice)

    response = client.post(reverse("accounts:api_key_revoke", args=[api_key.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:security")
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None


def test_revoke_page_refuses_another_users_key(client, alice, mallory):
    api_key, _ = api_key_create(user=alice)
    before = _key_rows()
    client.force_login(mallory)

    response = client.post(reverse("accounts:api_key_revoke", args=[api_key.pk]))

    assert response.status_code == 404
    assert _key_rows() == before


def test_revoke_page_needs_post(client, alice):
    api_key, _ = api_key_create(user=alice)
    before = _key_rows()
    client.force_login(alice)

    response = client.get(reverse("accounts:api_key_revoke", args=[api_key.pk]))

    assert response.status_code == 405
    assert _key_rows() == before


def test_key_pages_need_login(client, alice):
    api_key, _ = api_key_create(user=alice)
    before = _key_rows()
    login = reverse("accounts:login")

    for url in (
        reverse("accounts:api_key_create"),
        reverse("accounts:api_key_register"),
        reverse("accounts:api_key_revoke", args=[api_key.pk]),
    ):
        response = client.post(url, {"label": "x", "public_key": generate_keypair()[0]})
        assert response.status_code == 302
        assert response["Location"].startswith(f"{login}?next=")
    assert _key_rows() == before

"""Two-factor authentication: TOTP setup, confirmation, verification, removal and the login step."""

from __future__ import annotations

from base64 import b32encode
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services.two_factor import (
    totp_device_config_url,
    totp_device_confirm,
    totp_device_delete,
    totp_device_pending,
    totp_device_secret_base32,
    totp_device_start,
    totp_verify,
    user_has_2fa,
)
from core.errors import InvalidRequest

# The start of a 30 s time step, so a test moving a few seconds stays within one step.
T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
STEP = timedelta(seconds=30)


def code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key):06d}"


def wrong_code(device: TOTPDevice) -> str:
    right = totp(device.bin_key)
    return f"{(right + 1) % 1_000_000:06d}"


def device_rows() -> list[tuple[object, ...]]:
    return list(TOTPDevice.objects.order_by("id").values_list("id", "user_id", "key", "confirmed", "last_t"))


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice_device(alice):
    return TOTPDevice.objects.create(user=alice, name="Authenticator app", confirmed=True)


def login_with_code(client, user, password, device) -> None:
    client.post(reverse("accounts:login"), {"email": user.email, "password": password})
    response = client.post(reverse("accounts:login_2fa"), {"token": code(device)})
    assert response.status_code == 302


# --- services ---------------------------------------------------------------------------------------


def test_start_creates_an_unconfirmed_device(alice):
    device = totp_device_start(user=alice)

    assert TOTPDevice.objects.get() == device
    assert device.user == alice
    assert device.confirmed is False
    assert device.name == "Authenticator app"
    assert len(device.bin_key) == 20
    assert totp_device_pending(user=alice) == device
    assert user_has_2fa(alice) is False


def test_start_is_refused_once_enabled(alice, alice_device):
    before = device_rows()

    with pytest.raises(InvalidRequest) as raised:
        totp_device_start(user=alice)

    assert raised.value.message == "Two-factor authentication is already enabled"
    assert device_rows() == before


def test_confirm_with_the_right_code_enables_2fa_and_drops_other_setups(clock, alice, bob):
    abandoned = totp_device_start(user=alice)
    bobs = totp_device_start(user=bob)
    device = totp_device_start(user=alice)

    confirmed = totp_device_confirm(user=alice, token=code(device))

    assert confirmed == device
    assert user_has_2fa(alice) is True
    assert not TOTPDevice.objects.filter(pk=abandoned.pk).exists()
    assert list(TOTPDevice.objects.filter(user=alice).values_list("pk", "confirmed")) == [(device.pk, True)]
    # Another user's setup is not touched.
    assert TOTPDevice.objects.get(pk=bobs.pk).confirmed is False


def test_confirm_accepts_a_code_typed_with_a_space(clock, alice):
    device = totp_device_start(user=alice)
    token = code(device)

    totp_device_confirm(user=alice, token=f" {token[:3]} {token[3:]} ")

    assert user_has_2fa(alice) is True


def test_confirm_with_a_wrong_code_is_refused_and_counted(clock, alice):
    device = totp_device_start(user=alice)
    before = device_rows()

    with pytest.raises(InvalidRequest) as raised:
        totp_device_confirm(user=alice, token=wrong_code(device))

    assert raised.value.code == "INVALID_TWO_FACTOR_CODE"
    assert raised.value.message == "Invalid two-factor code"
    assert device_rows() == before
    assert user_has_2fa(alice) is False
    # The failure was committed even though the service raised: it throttles the next attempt.
    assert TOTPDevice.objects.get().throttling_failure_count == 1


@pytest.mark.parametrize(
    "token", ["", "12345", "1234567", "12345a", "1_23456", "+12345", "\uff11\uff12\uff13\uff14\uff15\uff16"]
)
def test_confirm_refuses_malformed_codes_without_counting_them(clock, alice, token):
    totp_device_start(user=alice)
    before = device_rows()

    with pytest.raises(InvalidRequest) as raised:
        totp_device_confirm(user=alice, token=token)

    assert raised.value.code == "INVALID_TWO_FACTOR_CODE"
    assert device_rows() == before
    assert TOTPDevice.objects.get().throttling_failure_count == 0


def test_confirm_without_setup_is_refused(alice):
    with pytest.raises(InvalidRequest) as raised:
        totp_device_confirm(user=alice, token="123456")

    assert raised.value.message == "Start two-factor setup first"
    assert device_rows() == []


def test_wrong_codes_throttle_the_next_attempt(clock, alice, alice_device):
    assert totp_verify(user=alice, token=wrong_code(alice_device)) is False

    with pytest.raises(InvalidRequest) as raised:
        totp_device_confirm(user=alice, token=code(alice_device))
    assert raised.value.message == "Two-factor authentication is already enabled"
    # Within the 1 s lock even the right code is refused.
    assert totp_verify(user=alice, token=code(alice_device)) is False

    clock.shift(2)
    assert totp_verify(user=alice, token=code(alice_device)) is True
    assert TOTPDevice.objects.get().throttling_failure_count == 0


def test_throttled_confirmation_says_how_long_to_wait(clock, alice):
    device = totp_device_start(user=alice)
    with pytest.raises(InvalidRequest):
        totp_device_confirm(user=alice, token=wrong_code(device))

    with pytest.raises(InvalidRequest) as raised:
        totp_device_confirm(user=alice, token=code(device))

    assert raised.value.code == "INVALID_TWO_FACTOR_CODE"
    assert raised.value.message == "Too many wrong two-factor codes: wait 1 s and try again"
    assert TOTPDevice.objects.get().confirmed is False


def test_verify_accepts_a_code_once(clock, alice, alice_device):
    token = code(alice_device)

    assert totp_verify(user=alice, token=token) is True
    assert totp_verify(user=alice, token=token) is False

    clock.shift(STEP)
    assert totp_verify(user=alice, token=code(alice_device)) is True


def test_verify_refuses_unconfirmed_devices_and_other_users(clock, alice, bob, alice_device):
    pending = totp_device_start(user=bob)

    assert totp_verify(user=bob, token=code(pending)) is False
    assert totp_verify(user=bob, token=code(alice_device)) is False
    assert TOTPDevice.objects.get(pk=alice_device.pk).last_t == -1


def test_delete_needs_a_current_code(clock, alice, alice_device):
    before = device_rows()

    with pytest.raises(InvalidRequest) as raised:
        totp_device_delete(user=alice, token=wrong_code(alice_device))
    assert raised.value.code == "INVALID_TWO_FACTOR_CODE"
    assert device_rows() == before
    assert user_has_2fa(alice) is True

    clock.shift(2)
    totp_device_delete(user=alice, token=code(alice_device))
    assert device_rows() == []
    assert user_has_2fa(alice) is False


def test_delete_when_not_enabled_is_refused(alice):
    totp_device_start(user=alice)
    before = device_rows()

    with pytest.raises(InvalidRequest) as raised:
        totp_device_delete(user=alice, token="123456")

    assert raised.value.message == "Two-factor authentication is not enabled"
    assert device_rows() == before


def test_setup_secret_and_url(alice):
    device = totp_device_start(user=alice)
    secret = b32encode(device.bin_key).decode()

    assert totp_device_secret_base32(device).replace(" ", "") == secret
    assert totp_device_secret_base32(device).split(" ")[0] == secret[:4]
    assert totp_device_config_url(device) == (
        f"otpauth://totp/Satchel%3Aalice%40example.com?secret={secret}"
        "&issuer=Satchel&algorithm=SHA1&digits=6&period=30"
    )


# --- pages ------------------------------------------------------------------------------------------


def test_setup_pages_enable_2fa(client, clock, alice):
    client.force_login(alice)

    started = client.post(reverse("accounts:totp_setup"))
    assert started.status_code == 302
    assert started["Location"] == reverse("accounts:totp_setup")
    device = TOTPDevice.objects.get()

    page = client.get(reverse("accounts:totp_setup"))
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    content = page.content.decode()
    assert '<svg class="qr" role="img"' in content
    assert "<path" in content
    assert totp_device_secret_base32(device) in content
    assert page.context["config_url"] == totp_device_config_url(device)

    refused = client.post(reverse("accounts:totp_confirm"), {"token": wrong_code(device)})
    assert refused.status_code == 200
    assert refused.context["form"].errors == {"token": ["Invalid two-factor code"]}
    assert TOTPDevice.objects.get().confirmed is False

    clock.shift(2)
    confirmed = client.post(reverse("accounts:totp_confirm"), {"token": code(device)})
    assert confirmed.status_code == 302
    assert confirmed["Location"] == reverse("accounts:security")
    assert user_has_2fa(alice) is True
    # The session that confirmed the device counts as verified.
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    security = client.get(reverse("accounts:security"))
    assert security.status_code == 200
    assert security.context["has_2fa"] is True


def test_setup_page_without_a_pending_device_goes_back(client, alice):
    client.force_login(alice)

    response = client.get(reverse("accounts:totp_setup"))

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:security")


def test_login_with_2fa_needs_the_code(client, clock, alice, alice_device):
    response = client.post(
        reverse("accounts:login"), {"email": "alice@example.com", "password": "alice-password-1"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login_2fa")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("accounts:security")).status_code == 302

    refused = client.post(reverse("accounts:login_2fa"), {"token": wrong_code(alice_device)})
    assert refused.status_code == 200
    assert refused.context["form"].errors == {"token": ["Invalid two-factor code"]}
    assert "_auth_user_id" not in client.session

    clock.shift(2)
    accepted = client.post(reverse("accounts:login_2fa"), {"token": code(alice_device)})
    assert accepted.status_code == 302
    assert accepted["Location"] == reverse("accounts:home")
    assert client.session["_auth_user_id"] == str(alice.pk)
    assert client.session[DEVICE_ID_SESSION_KEY] == alice_device.persistent_id
    assert client.get(reverse("accounts:security")).status_code == 200


def test_login_code_step_expires(client, clock, alice, alice_device):
    client.post(reverse("accounts:login"), {"email": "alice@example.com", "password": "alice-password-1"})

    clock.shift(timedelta(minutes=5, seconds=1))
    response = client.post(reverse("accounts:login_2fa"), {"token": code(alice_device)})

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert "_auth_user_id" not in client.session
    assert TOTPDevice.objects.get().last_t == -1


def test_code_step_without_a_password_goes_to_login(client, alice, alice_device):
    response = client.post(reverse("accounts:login_2fa"), {"token": "123456"})

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert "_auth_user_id" not in client.session


def test_unverified_session_of_a_2fa_user_is_sent_to_login(client, alice, alice_device):
    # A session opened before 2FA was enabled (force_login skips the code step).
    client.force_login(alice)

    response = client.get(reverse("accounts:security"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next=/account/security/"
    assert "_auth_user_id" not in client.session


def test_disable_page_needs_a_current_code(client, clock, alice, alice_device):
    login_with_code(client, alice, "alice-password-1", alice_device)
    before = device_rows()

    clock.shift(STEP)
    refused = client.post(reverse("accounts:totp_disable"), {"token": wrong_code(alice_device)})
    assert refused.status_code == 200
    assert refused.context["disable_form"].errors == {"token": ["Invalid two-factor code"]}
    assert [row[:4] for row in device_rows()] == [row[:4] for row in before]

    clock.shift(2)
    disabled = client.post(reverse("accounts:totp_disable"), {"token": code(alice_device)})
    assert disabled.status_code == 302
    assert disabled["Location"] == reverse("accounts:security")
    assert device_rows() == []
    assert client.get(reverse("accounts:security")).context["has_2fa"] is False


def test_setup_is_refused_when_already_enabled(client, clock, alice, alice_device):
    login_with_code(client, alice, "alice-password-1", alice_device)
    before = device_rows()

    response = client.post(reverse("accounts:totp_setup"), follow=True)

    assert response.redirect_chain == [(reverse("accounts:security"), 302)]
    assert [str(m) for m in response.context["messages"]] == ["Two-factor authentication is already enabled"]
    assert device_rows() == before


def test_login_code_step_is_void_after_a_password_change(client, clock, alice, alice_device):
    client.post(reverse("accounts:login"), {"email": "alice@example.com", "password": "alice-password-1"})
    alice.set_password("a-new-password-77")
    alice.save(update_fields=["password"])

    response = client.post(reverse("accounts:login_2fa"), {"token": code(alice_device)})

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert "_auth_user_id" not in client.session
    assert TOTPDevice.objects.get().last_t == -1

"""Two-factor authentication with TOTP authenticator apps (django-otp's TOTPDevice).

A user has at most one confirmed device. Setup creates an unconfirmed device whose secret the page
shows; the first valid code confirms it. Verification failures are counted by django-otp's
throttling (1, 2, 4, 8... seconds between attempts), so every failure is committed before the
refusal is raised: raising inside the transaction would roll the count back and allow guessing.
"""

from __future__ import annotations

import re
from base64 import b32encode
from math import ceil
from urllib.parse import quote, urlencode

from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from core.errors import InvalidRequest

INVALID_TWO_FACTOR_CODE = "INVALID_TWO_FACTOR_CODE"
ISSUER = "Satchel"
DEVICE_NAME = "Authenticator app"
_DIGITS_RE = re.compile(r"[0-9]+")


def totp_device_start(*, user: User) -> TOTPDevice:
    """Create an unconfirmed TOTP device with a fresh random secret for the setup page.

    Raises InvalidRequest when two-factor authentication is already enabled: adding a second
    authenticator would otherwise need no code, so a hijacked session could enrol its own.
    """
    with transaction.atomic(durable=True):
        _user_lock(user)
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise InvalidRequest("Two-factor authentication is already enabled")
        return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def totp_device_pending(*, user: User) -> TOTPDevice | None:
    """The device the latest setup created and no code has confirmed yet, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()


def totp_device_confirm(*, user: User, token: str) -> TOTPDevice:
    """Confirm the latest unconfirmed device with a code from the app; delete other unconfirmed ones.

    Raises InvalidRequest (code INVALID_TWO_FACTOR_CODE) "Invalid two-factor code" for a wrong
    code, or a wait message while throttled; InvalidRequest when setup was not started or two-factor
    authentication is already enabled.
    """
    with transaction.atomic(durable=True):
        # The user lock serialises setup, confirmation and removal, so two confirmations racing in
        # two tabs cannot leave two confirmed devices.
        _user_lock(user)
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise InvalidRequest("Two-factor authentication is already enabled")
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
        if device is None:
            raise InvalidRequest("Start two-factor setup first")
        refusal = _device_verify(device, token)
        if refusal is None:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    if refusal is not None:
        raise refusal
    return device


def totp_device_verify(*, user: User, token: str) -> TOTPDevice:
    """Check a code against the user's confirmed device and return the device that accepted it.

    A code is accepted once (django-otp keeps the last used time step). Raises InvalidRequest (code
    INVALID_TWO_FACTOR_CODE) for a wrong or reused code, a user without a confirmed device, or a
    wait message while throttled.
    """
    refusal: InvalidRequest | None = _invalid_code()
    # Not durable: other services (withdrawals, key management) may check a code inside their own
    # transaction. The row lock stops one code from being accepted by two concurrent requests.
    with transaction.atomic():
        for device in TOTPDevice.objects.filter(user=user, confirmed=True).select_for_update():
            refusal = _device_verify(device, token)
            if refusal is None:
                return device
    raise refusal


def totp_verify(*, user: User, token: str) -> bool:
    """True if `token` is a current, unused code from the user's confirmed device.

    Never raises. A caller that raises on False inside its own transaction rolls back the failure
    count that throttles guessing: call it before opening one.
    """
    try:
        totp_device_verify(user=user, token=token)
    except InvalidRequest:
        return False
    return True


def totp_device_delete(*, user: User, token: str) -> None:
    """Turn two-factor authentication off: delete every TOTP device of the user.

    Needs a current code, so a hijacked session cannot remove the second factor. Raises
    InvalidRequest (code INVALID_TWO_FACTOR_CODE) for a wrong code or while throttled, and
    InvalidRequest when two-factor authentication is not enabled.
    """
    refusal: InvalidRequest | None = _invalid_code()
    with transaction.atomic(durable=True):
        _user_lock(user)
        devices = list(TOTPDevice.objects.filter(user=user, confirmed=True).select_for_update())
        if not devices:
            raise InvalidRequest("Two-factor authentication is not enabled")
        for device in devices:
            refusal = _device_verify(device, token)
            if refusal is None:
                TOTPDevice.objects.filter(user=user).delete()
                break
    if refusal is not None:
        raise refusal


def user_has_2fa(user: User) -> bool:
    """True if the user has a confirmed TOTP device (login then asks for a code)."""
    if not user.is_authenticated:
        return False
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def totp_device_secret_base32(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it when typed in: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def totp_device_config_url(device: TOTPDevice) -> str:
    """The otpauth:// URL (Google Authenticator key URI format) with Satchel as the issuer."""
    # Built here rather than with TOTPDevice.config_url so the issuer does not depend on an
    # OTP_TOTP_ISSUER setting: without it apps list the account under a bare email address.
    params = {
        "secret": b32encode(device.bin_key).decode("ascii").rstrip("="),
        "issuer": ISSUER,
        "algorithm": "SHA1",
        "digits": device.digits,
        "period": device.step,
    }
    label = quote(f"{ISSUER}:{device.user.get_username()}")
    return f"otpauth://totp/{label}?{urlencode(params, quote_via=quote)}"


def _user_lock(user: User) -> None:
    # NO KEY UPDATE: device inserts reference the user row and take KEY SHARE on it.
    User.objects.select_for_update(no_key=True).filter(pk=user.pk).values_list("pk").get()


def _invalid_code() -> InvalidRequest:
    return InvalidRequest("Invalid two-factor code", code=INVALID_TWO_FACTOR_CODE)


def _device_verify(device: TOTPDevice, token: str) -> InvalidRequest | None:
    """None if the device accepts the code, else the refusal to raise after the transaction."""
    allowed, details = device.verify_is_allowed()
    if not allowed:
        locked_until = (details or {}).get("locked_until")
        wait = ceil((locked_until - timezone.now()).total_seconds()) if locked_until else 1
        return InvalidRequest(
            f"Too many wrong two-factor codes: wait {max(wait, 1)} s and try again",
            code=INVALID_TWO_FACTOR_CODE,
        )
    # Apps show codes as "123 456"; int() inside verify_token would also take "+123456" or
    # "1_23456", so anything but plain digits of the device's length is refused up front.
    code = "".join(str(token).split())
    if len(code) != device.digits or not _DIGITS_RE.fullmatch(code):
        return _invalid_code()
    return None if device.verify_token(code) else _invalid_code()

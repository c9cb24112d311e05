"""Sign-up, login and logout pages, the home page, and the admin for users and API keys."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.models import ApiKey, KycLevel, User
from accounts.services.api_keys import api_key_create
from accounts.services.users import user_create
from core.errors import InvalidRequest
from tests.fixtures.staff import staff_login

SIGNUP_PASSWORD = "correct-horse-battery-9"


def user_rows() -> list[tuple[object, ...]]:
    return list(User.objects.order_by("id").values_list("id", "email", "password", "kyc_level", "is_staff"))


@pytest.fixture
def officer(db):
    """A staff member with read access to the back office, like the demo compliance officer."""
    user = user_create(email="carol@example.com", password="carol-password-1", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "view_apikey"]))
    return user


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root@example.com", "root-password-1")


# --- user_create ------------------------------------------------------------------------------------


def test_user_create_stores_a_lower_case_email_and_a_hashed_password(db):
    user = user_create(email="  Dave@Example.COM ", password=SIGNUP_PASSWORD, kyc_level=KycLevel.BASIC)

    stored = User.objects.get()
    assert stored == user
    assert stored.email == "dave@example.com"
    assert stored.kyc_level == KycLevel.BASIC
    assert stored.is_staff is False
    assert stored.is_active is True
    assert stored.password != SIGNUP_PASSWORD
    assert stored.check_password(SIGNUP_PASSWORD) is True


def test_user_create_refuses_a_taken_email_in_any_case(alice):
    before = user_rows()

    with pytest.raises(InvalidRequest) as raised:
        user_create(email="ALICE@example.com", password=SIGNUP_PASSWORD)

    assert raised.value.code == "INVALID_CLIENT_REQUEST"
    assert raised.value.message == "An account with this email already exists"
    assert user_rows() == before


def test_user_create_joins_the_password_validator_messages(db):
    with pytest.raises(InvalidRequest) as raised:
        user_create(email="dave@example.com", password="12345")

    assert raised.value.message == (
        "This password is too short. It must contain at least 10 characters. "
        "This password is too common. This password is entirely numeric."
    )
    assert user_rows() == []


def test_user_create_refuses_a_malformed_email(db):
    with pytest.raises(InvalidRequest) as raised:
        user_create(email="not-an-email", password=SIGNUP_PASSWORD)

    assert raised.value.message == "Enter a valid email address"
    assert user_rows() == []


# --- sign-up ----------------------------------------------------------------------------------------


def test_signup_creates_the_user_and_logs_in(client, db):
    response = client.post(
        reverse("accounts:signup"),
        {"email": "Dave@example.com", "password": SIGNUP_PASSWORD, "password_confirm": SIGNUP_PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:home")
    user = User.objects.get()
    assert (user.email, user.kyc_level, user.is_staff) == ("dave@example.com", KycLevel.NONE, False)
    assert user.check_password(SIGNUP_PASSWORD) is True
    assert client.session["_auth_user_id"] == str(user.pk)
    home = client.get(reverse("accounts:home"))
    assert "Signed in as <strong>dave@example.com</strong>" in home.content.decode()


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        (
            {"email": "ALICE@example.com", "password": SIGNUP_PASSWORD, "password_confirm": SIGNUP_PASSWORD},
            {"email": ["An account with this email already exists"]},
        ),
        (
            {"email": "dave@example.com", "password": "password", "password_confirm": "password"},
            {
                "password": [
                    "This password is too short. It must contain at least 10 characters. "
                    "This password is too common."
                ]
            },
        ),
        (
            {
                "email": "dave@example.com",
                "password": "dave@example.com",
                "password_confirm": "dave@example.com",
            },
            {"password": ["The password is too similar to the email."]},
        ),
        (
            {
                "email": "dave@example.com",
                "password": SIGNUP_PASSWORD,
                "password_confirm": SIGNUP_PASSWORD + "x",
            },
            {"password_confirm": ["The two passwords do not match"]},
        ),
        (
            {"email": "not-an-email", "password": SIGNUP_PASSWORD, "password_confirm": SIGNUP_PASSWORD},
            {"email": ["Enter a valid email address."]},
        ),
        (
            {"email": "", "password": "", "password_confirm": ""},
            {
                "email": ["This field is required."],
                "password": ["This field is required."],
                "password_confirm": ["This field is required."],
            },
        ),
    ],
)
def test_signup_errors_are_shown_by_the_field_and_create_nothing(client, alice, data, errors):
    before = user_rows()

    response = client.post(reverse("accounts:signup"), data)

    assert response.status_code == 200
    assert response.context["form"].errors == errors
    content = response.content.decode()
    for field, messages in errors.items():
        assert f'id="id_{field}_error"' in content
        for message in messages:
            assert message.replace("'", "&#x27;") in content
    assert user_rows() == before
    assert "_auth_user_id" not in client.session


def test_signup_page_renders_for_visitors_and_redirects_members(client, alice):
    page = client.get(reverse("accounts:signup"))
    assert page.status_code == 200
    assert 'name="password_confirm"' in page.content.decode()

    client.force_login(alice)
    assert client.get(reverse("accounts:signup"))["Location"] == reverse("accounts:home")


# --- login and logout -------------------------------------------------------------------------------


def test_login_logs_in_with_any_case_email(client, alice):
    response = client.post(
        reverse("accounts:login"), {"email": "Alice@Example.com", "password": "alice-password-1"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:home")
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_login_follows_a_local_next_and_ignores_another_host(client, alice):
    credentials = {"email": "alice@example.com", "password": "alice-password-1"}

    local = client.post(f"{reverse('accounts:login')}?next=/account/security/", credentials)
    assert local["Location"] == "/account/security/"

    client.logout()
    foreign = client.post(reverse("accounts:login"), {**credentials, "next": "https://evil.example/"})
    assert foreign["Location"] == reverse("accounts:home")


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("alice@example.com", "wrong-password-1"),
        ("nobody@example.com", "alice-password-1"),
    ],
)
def test_login_refuses_wrong_credentials_with_one_message(client, alice, email, password):
    response = client.post(reverse("accounts:login"), {"email": email, "password": password})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["Email or password is incorrect"]
    assert "Email or password is incorrect" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_refuses_an_inactive_user(client, alice):
    User.objects.filter(pk=alice.pk).update(is_active=False)

    response = client.post(reverse("accounts:login"), {"email": alice.email, "password": "alice-password-1"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["Email or password is incorrect"]
    assert "_auth_user_id" not in client.session


def test_logout_needs_post(client, alice):
    client.force_login(alice)

    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.session["_auth_user_id"] == str(alice.pk)

    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert "_auth_user_id" not in client.session


# --- home and layout --------------------------------------------------------------------------------


def test_home_for_visitors_links_to_signup_and_login(client, db):
    response = client.get(reverse("accounts:home"))

    assert response.status_code == 200
    content = response.content.decode()
    assert f'href="{reverse("accounts:signup")}"' in content
    assert f'href="{reverse("accounts:login")}"' in content
    assert 'class="brand"' in content
    assert "/static/css/satchel.css" in content
    assert "Log out" not in content


def test_home_for_members_shows_the_dashboard(client, alice):
    api_key_create(user=alice)
    client.force_login(alice)

    response = client.get(reverse("accounts:home"))

    assert response.status_code == 200
    assert response.context["has_2fa"] is False
    assert response.context["active_api_keys"] == 1
    content = response.content.decode()
    assert "Signed in as <strong>alice@example.com</strong>" in content
    assert f'href="{reverse("accounts:security")}"' in content
    assert f'action="{reverse("accounts:logout")}"' in content


def test_security_page_needs_login(client, db):
    response = client.get(reverse("accounts:security"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next=/account/security/"


def test_stylesheet_is_served(client, db):
    response = client.get("/static/css/satchel.css")

    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b".num" in body


# --- admin ------------------------------------------------------------------------------------------


def test_admin_login_goes_through_the_login_with_two_factor(client, db):
    # The back office has no login form of its own: staff use /login/ (password, then the code).
    response = client.get("/admin/login/", follow=True)

    assert response.redirect_chain == [("/login/?next=%2Fadmin%2F", 302)]
    assert 'name="password"' in response.content.decode()


def test_staff_can_see_the_user_and_api_key_changelists(client, officer, alice, mallory):
    alices_key, _ = api_key_create(user=alice, label="alice bot")
    staff_login(client, officer)

    users = client.get(reverse("admin:accounts_user_changelist"))
    keys = client.get(reverse("admin:accounts_apikey_changelist"))

    assert users.status_code == 200
    assert {user.email for user in users.context["cl"].result_list} == {
        "alice@example.com",
        "mallory@example.com",
        "carol@example.com",
    }
    assert keys.status_code == 200
    assert list(keys.context["cl"].result_list) == [alices_key]
    assert alices_key.public_key in keys.content.decode()


def test_staff_admin_search_finds_keys_by_email(client, officer, alice, mallory):
    alices_key, _ = api_key_create(user=alice)
    api_key_create(user=mallory)
    staff_login(client, officer)

    response = client.get(reverse("admin:accounts_apikey_changelist"), {"q": "alice@"})

    assert list(response.context["cl"].result_list) == [alices_key]


def test_admin_cannot_add_or_delete_api_keys(client, superuser, alice):
    api_key, _ = api_key_create(user=alice)
    staff_login(client, superuser)

    assert client.get(reverse("admin:accounts_apikey_add")).status_code == 403
    assert (
        client.post(reverse("admin:accounts_apikey_delete", args=[api_key.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert list(ApiKey.objects.values_list("pk", "revoked_at")) == [(api_key.pk, None)]


def test_admin_action_revokes_the_selected_keys(client, superuser, alice, mallory):
    first, _ = api_key_create(user=alice)
    second, _ = api_key_create(user=mallory)
    untouched, _ = api_key_create(user=alice)
    staff_login(client, superuser)

    response = client.post(
        reverse("admin:accounts_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == ["Revoked 2 API key(s)."]
    for key in (first, second, untouched):
        key.refresh_from_db()
    assert first.revoked_at is not None
    assert second.revoked_at is not None
    assert untouched.revoked_at is None


def test_admin_add_user_goes_through_the_service(client, superuser):
    staff_login(client, superuser)

    response = client.post(
        reverse("admin:accounts_user_add"),
        {"email": "Erin@Example.com", "password1": SIGNUP_PASSWORD, "password2": SIGNUP_PASSWORD},
    )

    erin = User.objects.get(email="erin@example.com")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:accounts_user_change", args=[erin.pk])
    assert erin.check_password(SIGNUP_PASSWORD) is True
    assert (erin.kyc_level, erin.is_staff) == (KycLevel.NONE, False)


def test_admin_add_user_refuses_a_taken_email(client, superuser, alice):
    staff_login(client, superuser)
    before = user_rows()

    response = client.post(
        reverse("admin:accounts_user_add"),
        {"email": "ALICE@example.com", "password1": SIGNUP_PASSWORD, "password2": SIGNUP_PASSWORD},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "email": ["An account with this email already exists"]
    }
    assert user_rows() == before


def test_admin_user_change_form_keeps_the_kyc_level_read_only(client, superuser, bob):
    staff_login(client, superuser)
    url = reverse("admin:accounts_user_change", args=[bob.pk])

    page = client.get(url)
    assert page.status_code == 200
    assert 'name="kyc_level"' not in page.content.decode()

    response = client.post(
        url,
        {
            "email": "bob@example.com",
            "kyc_level": KycLevel.ENHANCED,
            "is_active": "on",
            "leverage_limit": "5",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )

    assert response.status_code == 302
    bob.refresh_from_db()
    assert (bob.kyc_level, bob.leverage_limit) == (KycLevel.NONE, 5)


def test_login_keeps_next_after_a_failed_attempt(client, alice):
    url = f"{reverse('accounts:login')}?next=/account/security/"

    failed = client.post(url, {"email": "alice@example.com", "password": "wrong-password-1"})
    assert '<input type="hidden" name="next" value="/account/security/">' in failed.content.decode()

    response = client.post(
        reverse("accounts:login"),
        {"email": "alice@example.com", "password": "alice-password-1", "next": "/account/security/"},
    )
    assert response["Location"] == "/account/security/"

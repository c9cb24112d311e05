from django.urls import path

from accounts import kyc_views, views

app_name = "accounts"
urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("login/", views.login_view, name="login"),
    path("login/2fa/", views.login_2fa, name="login_2fa"),
    path("logout/", views.logout_view, name="logout"),
    path("account/verification/", kyc_views.kyc_overview, name="kyc"),
    path("account/verification/personal/", kyc_views.kyc_personal, name="kyc_personal"),
    path("account/verification/documents/", kyc_views.kyc_documents, name="kyc_documents"),
    path("account/security/", views.security, name="security"),
    path("account/security/2fa/setup/", views.totp_setup, name="totp_setup"),
    path("account/security/2fa/confirm/", views.totp_confirm, name="totp_confirm"),
    path("account/security/2fa/disable/", views.totp_disable, name="totp_disable"),
    path("account/security/api-keys/create/", views.api_key_create_view, name="api_key_create"),
    path("account/security/api-keys/register/", views.api_key_register_view, name="api_key_register"),
    path(
        "account/security/api-keys/<int:api_key_id>/revoke/",
        views.api_key_revoke_view,
        name="api_key_revoke",
    ),
]

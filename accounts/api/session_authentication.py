"""Session authentication for the web UI's own calls to the private REST endpoints.

The trading page's JavaScript uses the same endpoints as API clients. A logged-in browser sends its
session cookie and the CSRF token (header `X-CSRFToken`); DRF's SessionAuthentication refuses an
unsafe method without a matching token, which is what stops another site from placing orders with
a visitor's cookie. Signed requests are tried first and work exactly as before: a request that
carries the X-API-Key headers is never judged by its cookie.
"""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request

from accounts.api.authentication import BackpackSignatureAuthentication


class BrowserSessionAuthentication(SessionAuthentication):
    """The logged-in web user, on private endpoints only (those whose view names an instruction).

    Public endpoints stay anonymous for everybody, so a cookie never changes what they answer.
    Login sets the session only after the second factor (accounts/views.py), so a session here is
    always a fully logged-in user.
    """

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        view = request.parser_context.get("view") if request.parser_context else None
        instruction_for = getattr(view, "instruction_for", None)
        if instruction_for is None or instruction_for(request.method or "GET") is None:
            return None
        if request.META.get("HTTP_X_API_KEY"):
            return None  # an API client's request: only its signature may authenticate it
        return super().authenticate(request)


# Private endpoints the web UI calls: the signature first, then the session (CSRF-checked).
SIGNED_OR_SESSION = (BackpackSignatureAuthentication, BrowserSessionAuthentication)

"""Admin pieces every app shares."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """Domain state written by services only: staff may look, never add, edit or delete here.

    Decisions (approvals, freezes, releases) are admin actions or views that call the services,
    which check their own permission and write the audit trail.
    """

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

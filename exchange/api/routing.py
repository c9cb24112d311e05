from __future__ import annotations

from django.urls import re_path
from django.urls.resolvers import URLPattern


def route(path: str, view: type, name: str) -> URLPattern:
    """A Backpack path, matched with or without a trailing slash."""
    return re_path(rf"^{path}/?$", view.as_view(), name=name)  # type: ignore[attr-defined]

"""Backpack's error body for every API failure: `{"code": ..., "message": ...}` with a 4xx status."""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError

logger = logging.getLogger(__name__)


def error_body(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _first_message(detail: Any) -> str:
    """DRF nests validation errors by field; Backpack has one message: the first, with its field."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            inner = _first_message(value)
            return inner if field == "non_field_errors" else f"{field}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message), status=exc.status)
    if isinstance(exc, Http404):
        return Response(error_body("RESOURCE_NOT_FOUND", "Not found"), status=404)
    if isinstance(exc, exceptions.ValidationError):
        return Response(error_body("INVALID_CLIENT_REQUEST", _first_message(exc.detail)), status=400)
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        return Response(error_body("UNAUTHORIZED", _first_message(exc.detail)), status=401)
    if isinstance(exc, exceptions.PermissionDenied):
        return Response(error_body("FORBIDDEN", _first_message(exc.detail)), status=403)
    if isinstance(exc, exceptions.Throttled):
        return Response(error_body("TOO_MANY_REQUESTS", "Too many requests"), status=429)
    if isinstance(exc, exceptions.APIException):
        response = drf_exception_handler(exc, context)
        status = response.status_code if response is not None else 400
        return Response(error_body("INVALID_CLIENT_REQUEST", _first_message(exc.detail)), status=status)
    logger.exception("unhandled API error", exc_info=exc)
    return Response(error_body("SERVER_ERROR", "Internal server error"), status=500)


def api_not_found(request: Any, *args: Any, **kwargs: Any) -> JsonResponse:
    return JsonResponse(error_body("RESOURCE_NOT_FOUND", f"Unknown endpoint {request.path}"), status=404)

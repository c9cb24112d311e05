"""Base class for Backpack-compatible API views."""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework.request import Request
from rest_framework.views import APIView

from core.errors import InvalidRequest, Unauthorized


class BackpackApi(APIView):
    """An API endpoint. `instructions` maps an HTTP method to the Backpack instruction its request
    signature must name; a method listed there requires a signed request."""

    instructions: ClassVar[dict[str, str]] = {}

    def instruction_for(self, method: str) -> str | None:
        return self.instructions.get(method.upper())

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.instruction_for(request.method or "GET") and request.user is None:
            raise Unauthorized("Missing X-API-Key, X-Signature or X-Timestamp header")

    def get_authenticate_header(self, request: Request) -> str:
        return "X-Signature"


def query_param(request: Request, name: str, *, required: bool = False) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        if required:
            raise InvalidRequest(f"Missing required parameter {name}")
        return None
    return value


def body_object(request: Request) -> dict[str, Any]:
    return body_object_of(request.data)


def body_object_of(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidRequest("Request body must be a JSON object")
    return data

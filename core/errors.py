"""One error hierarchy for domain failures; the API layer maps it to Backpack's error body."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal the caller can act on. `code` is Backpack's ApiErrorCode; `status` the HTTP status."""

    code = "INVALID_CLIENT_REQUEST"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class InvalidRequest(DomainError):
    code = "INVALID_CLIENT_REQUEST"


class Unauthorized(DomainError):
    code = "UNAUTHORIZED"
    status = 401


class InvalidSignature(DomainError):
    code = "INVALID_SIGNATURE"
    status = 401


class Forbidden(DomainError):
    code = "FORBIDDEN"
    status = 403


class NotFound(DomainError):
    code = "RESOURCE_NOT_FOUND"
    status = 404


class InvalidAsset(DomainError):
    code = "INVALID_ASSET"


class InvalidMarket(DomainError):
    code = "INVALID_MARKET"


class InvalidSymbol(DomainError):
    code = "INVALID_SYMBOL"


class InvalidQuantity(DomainError):
    code = "INVALID_QUANTITY"


class InsufficientFunds(DomainError):
    code = "INSUFFICIENT_FUNDS"


class LedgerImbalance(DomainError):
    """A posting whose lines do not sum to zero per asset: a programming error, never user input."""

    code = "SERVER_ERROR"
    status = 500

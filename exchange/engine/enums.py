"""Enumerations of the matching engine, spelled as Backpack spells them on the wire.

Values are the exact strings of the Backpack API (reference §4, §6.6), so the edges can render them
without a mapping table. Hot paths compare members by identity (`side is BID`); the module-level
aliases at the bottom exist for that, since an attribute lookup on an Enum class costs a dict probe
through the metaclass on every use (`Final`, so that compiled modules read them as C statics).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Side(StrEnum):
    BID = "Bid"
    ASK = "Ask"


class OrderType(StrEnum):
    LIMIT = "Limit"
    MARKET = "Market"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class SelfTradePrevention(StrEnum):
    """What happens when a taker would trade with a resting order of the same account.

    The taker's setting decides, as on Backpack. `ALLOW` lets the account trade with itself.
    """

    REJECT_TAKER = "RejectTaker"
    REJECT_MAKER = "RejectMaker"
    REJECT_BOTH = "RejectBoth"
    ALLOW = "Allow"


class OrderStatus(StrEnum):
    NEW = "New"
    PARTIALLY_FILLED = "PartiallyFilled"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    EXPIRED = "Expired"
    TRIGGER_PENDING = "TriggerPending"
    # Reserved for the funds check a worker makes when a trigger fires; the pure engine holds no
    # balances, so it never produces this status itself.
    TRIGGER_FAILED = "TriggerFailed"


class ExpiryReason(StrEnum):
    """Backpack's `expiryReason` values that the engine can produce."""

    FILL_OR_KILL = "FillOrKill"
    IMMEDIATE_OR_CANCEL = "ImmediateOrCancel"
    POST_ONLY_TAKER = "PostOnlyTaker"
    SELF_TRADE_PREVENTION = "SelfTradePrevention"
    INSUFFICIENT_FUNDS = "InsufficientFunds"


class RejectReason(StrEnum):
    """Why a command was refused before it touched the book (nothing changed)."""

    DUPLICATE_ORDER_ID = "DuplicateOrderId"
    INVALID_QUANTITY = "InvalidQuantity"
    INVALID_PRICE = "InvalidPrice"
    INVALID_ORDER = "InvalidOrder"


class CancelRejectReason(StrEnum):
    # Unknown id, an order that is no longer open, or an order of another account: the caller
    # cannot tell these apart, so another account's order ids are not disclosed.
    NOT_FOUND = "NotFound"


class TriggerKind(StrEnum):
    """Stop-loss or take-profit: with the side, it fixes the direction the last price must cross.

    | kind        | Bid fires when       | Ask fires when       |
    | ----------- | -------------------- | -------------------- |
    | StopLoss    | last price >= trigger | last price <= trigger |
    | TakeProfit  | last price <= trigger | last price >= trigger |
    """

    STOP_LOSS = "StopLoss"
    TAKE_PROFIT = "TakeProfit"


class CancelScope(StrEnum):
    """Which open orders a cancel-all removes; names follow Backpack's `orderType` filter."""

    ALL = "All"
    RESTING_LIMIT = "RestingLimitOrder"
    TRIGGER = "ConditionalOrder"


BID: Final = Side.BID
ASK: Final = Side.ASK
LIMIT: Final = OrderType.LIMIT
MARKET: Final = OrderType.MARKET
GTC: Final = TimeInForce.GTC
IOC: Final = TimeInForce.IOC
FOK: Final = TimeInForce.FOK
REJECT_TAKER: Final = SelfTradePrevention.REJECT_TAKER
REJECT_MAKER: Final = SelfTradePrevention.REJECT_MAKER
REJECT_BOTH: Final = SelfTradePrevention.REJECT_BOTH
ALLOW: Final = SelfTradePrevention.ALLOW
NEW: Final = OrderStatus.NEW
PARTIALLY_FILLED: Final = OrderStatus.PARTIALLY_FILLED
FILLED: Final = OrderStatus.FILLED
CANCELLED: Final = OrderStatus.CANCELLED
EXPIRED: Final = OrderStatus.EXPIRED
TRIGGER_PENDING: Final = OrderStatus.TRIGGER_PENDING

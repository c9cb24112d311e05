from exchange.models.assets import Asset, AssetToken
from exchange.models.custody import Deposit, DepositAddress, DepositStatus
from exchange.models.ledger import AccountKind, EntryKind, JournalEntry, JournalLine, LedgerAccount
from exchange.models.markets import Market, MarketType, OrderBookState

__all__ = [
    "AccountKind",
    "Asset",
    "AssetToken",
    "Deposit",
    "DepositAddress",
    "DepositStatus",
    "EntryKind",
    "JournalEntry",
    "JournalLine",
    "LedgerAccount",
    "Market",
    "MarketType",
    "OrderBookState",
]

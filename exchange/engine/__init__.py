"""Satchel's matching engine: one in-memory book per market, price-time priority, pure Python.

No Django, Celery, Redis or I/O (an import-linter contract checks it); integers inside, Decimal only
at the edges. Import the submodules directly:

- `spec`      MarketSpec: exact Decimal <-> ticks / lots / notional units (ticks x lots).
- `commands`  PlaceOrder, CancelOrder, CancelAll (frozen), their malformed twins, factories.
- `events`    OrderAccepted, Fill, LevelChanged, OrderCancelled, OrderExpired, CancelRejected,
              OrderRejected, TriggerPlaced, OrderTriggered (frozen), ApplyResult.
- `engine`    MatchingEngine: apply / run, depth, snapshot / restore, counters.
- `state`     Snapshot, RestingOrder, Depth.
- `enums`     Backpack's names: Side, OrderType, TimeInForce, SelfTradePrevention, OrderStatus,
              ExpiryReason, TriggerKind, CancelScope, RejectReason.
- `book`, `matching`, `triggers`, `_frozen`: internals.

Rules worth knowing before using it (details in each module):
- FOK is decided by a dry run that walks the book exactly as the match would, self-trade
  prevention included; a killed FOK changes nothing, not even makers RejectMaker would remove.
- Trigger orders fire when the last trade price reaches the trigger price from the direction given
  by side and kind (Bid stop-loss and Ask take-profit on a rise; Ask stop-loss and Bid take-profit
  on a fall), after the incoming order that made the trade, in crossing order.
- A command that changes the visible book increments `update_id` once (depth `U`/`u`); every
  command increments `sequence`; every fill gets the next `trade_id`.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

# The engine can run compiled by mypyc (several times faster; `./satchel build-engine`, which the
# bootstrap runs whenever these sources change). The same sources are the pure engine, used when
# no build matches them: the build is keyed by a digest of every module here and the interpreter,
# so an edited source or another Python never loads stale machine code. SATCHEL_ENGINE=pure forces
# the pure engine (the tests run both). Reading the sources here is the only I/O of the package.
BUILD_ROOT = Path(sys.prefix) / "satchel-engine"
# Compiled: everything on the hot path (the commands too: their malformed twins stay Python
# classes, see `commands`). Not compiled: `spec` and `state` (edges, Decimal and snapshots), and
# this file, which chooses.
COMPILED_MODULES = ("_frozen", "enums", "commands", "book", "events", "triggers", "matching", "engine")


def source_digest() -> str:
    digest = hashlib.sha256(sys.version.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def _choose() -> str:
    if os.environ.get("SATCHEL_ENGINE", "").lower() == "pure":
        return "pure"
    build = BUILD_ROOT / source_digest() / "exchange" / "engine"
    if not build.is_dir():
        return "pure"
    # Submodules are looked up along __path__ in order: the build's extension modules come first,
    # the modules it does not hold (see COMPILED_MODULES) come from the sources.
    __path__.insert(0, str(build))
    return "compiled"


# "compiled" or "pure": what `import exchange.engine.engine` loads in this process.
IMPLEMENTATION = _choose()

"""The compliance part of the withdrawal pipeline's checks (`exchange.services.withdrawals`).

Wire it into `withdrawal_checks(withdrawal)`, which runs outside any transaction:

    from compliance.services.withdrawal_gate import withdrawal_compliance_reasons
    return [*withdrawal_compliance_reasons(withdrawal)]

Reasons are short and neutral: they are stored on the withdrawal and shown to the customer, and
an explanation of what list or which alert caused the refusal would tip them off (AMLD Art. 39).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from compliance.services.screening import address_is_blocked, address_screen, user_is_frozen

if TYPE_CHECKING:
    from exchange.models import Withdrawal

ACCOUNT_FROZEN = "Account restricted by compliance"
ADDRESS_BLOCKED = "Destination address refused by compliance screening"


def withdrawal_compliance_reasons(withdrawal: Withdrawal) -> list[str]:
    """Reasons to refuse `withdrawal` on compliance grounds; empty means none.

    A frozen account (ComplianceFlag) refuses every withdrawal. A destination that is a listed
    wallet of an active entry (normalised per chain: EVM case-insensitively) always refuses it,
    whatever officers decided on earlier alerts: paying a designated person's wallet is making
    funds available to them (Regulation (EU) 269/2014 Art. 2(2)), whoever the customer is. It
    also opens an address alert on the customer (or finds the one open), unless an officer
    already decided on the same hit. Both checks always run.
    """
    reasons = []
    if user_is_frozen(withdrawal.user_id):
        reasons.append(ACCOUNT_FROZEN)
    if address_is_blocked(address=withdrawal.to_address, blockchain=withdrawal.blockchain):
        address_screen(
            address=withdrawal.to_address,
            blockchain=withdrawal.blockchain,
            user=withdrawal.user,
            context=f"withdrawal:{withdrawal.pk}",
        )
        reasons.append(ADDRESS_BLOCKED)
    return reasons

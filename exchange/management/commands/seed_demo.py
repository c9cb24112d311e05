"""Seed the demo: assets, markets, a funded demo trader and a demo compliance officer.

Idempotent: every start runs it; existing rows are left as they are and deposits carry fixed
transaction hashes, so they are credited once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import KycLevel, User
from accounts.services.kyc_demo import DEMO_APPLICANT, kyc_demo_seed
from accounts.services.users import user_create
from compliance.roles import COMPLIANCE_OFFICER, staff_roles_sync
from exchange.models import Asset
from exchange.services.demo import demo_seed_markets
from exchange.services.deposits import deposit_credit
from exchange.services.fees import fee_tiers_seed_defaults

DEMO_TRADER = ("trader@satchel.demo", "trade-with-care-42")
DEMO_OFFICER = ("officer@satchel.demo", "review-all-day-42")
DEMO_FUNDS = {"USDC": Decimal("100000"), "BTC": Decimal("2"), "ETH": Decimal("25"), "SOL": Decimal("500")}


class Command(BaseCommand):
    help = "Create the demo markets and users (idempotent) and print the demo logins."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic(durable=True):
            demo_seed_markets()
            fee_tiers_seed_defaults()
            trader = self._user(DEMO_TRADER, kyc_level=KycLevel.FULL)
            for symbol, amount in DEMO_FUNDS.items():
                asset = Asset.objects.get(symbol=symbol)
                blockchain = asset.tokens.order_by("id").first()
                deposit_credit(
                    user_id=trader.pk,
                    asset=asset,
                    quantity=amount,
                    source=blockchain.blockchain.lower() if blockchain else "administrator",
                    transaction_hash=f"demo-genesis-{symbol}",
                    memo="demo funds",
                )
            officer = self._user(DEMO_OFFICER, kyc_level=KycLevel.FULL, is_staff=True)
            # A test database flushed after migrate has no groups: make sure the roles exist.
            if not Group.objects.filter(name=COMPLIANCE_OFFICER).exists():
                staff_roles_sync(apps)
            officer.groups.add(Group.objects.get(name=COMPLIANCE_OFFICER))
        # After the transaction above: the KYC services own their (durable) transactions.
        kyc_demo_seed(trader=trader)
        self.stdout.write(
            "Demo logins:\n"
            f"  trader             {DEMO_TRADER[0]} / {DEMO_TRADER[1]}\n"
            f"  compliance officer {DEMO_OFFICER[0]} / {DEMO_OFFICER[1]}  (admin: /admin/, sets up 2FA at first login)\n"
            f"  KYC applicant      {DEMO_APPLICANT[0]} / {DEMO_APPLICANT[1]}  (a case waits for review)"
        )

    def _user(self, login: tuple[str, str], **extra: Any) -> User:
        existing = User.objects.filter(email=login[0]).first()
        return existing or user_create(email=login[0], password=login[1], **extra)

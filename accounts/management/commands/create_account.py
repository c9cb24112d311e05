"""`manage.py create_account`: the operator's (and test scripts') way to make a funded account."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import KycLevel
from accounts.services.api_keys import api_key_create
from accounts.services.users import user_create
from core.errors import DomainError
from core.money import parse_decimal
from exchange.models import Asset
from exchange.services.deposits import deposit_credit


def _deposit_arg(text: str) -> tuple[str, Decimal]:
    symbol, sep, amount = text.partition("=")
    if not sep or not symbol:
        raise CommandError(f"--deposit takes ASSET=AMOUNT, got {text!r}")
    try:
        return symbol.strip().upper(), parse_decimal(amount)
    except ValueError as exc:
        raise CommandError(f"--deposit {text!r}: {exc}") from exc


class Command(BaseCommand):
    help = "Create a user, optionally with KYC level, deposits and an API key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--kyc", choices=[level.value for level in KycLevel], default=KycLevel.NONE.value)
        parser.add_argument(
            "--deposit", action="append", default=[], type=_deposit_arg, metavar="ASSET=AMOUNT"
        )
        parser.add_argument(
            "--api-key", action="store_true", help="create an API key and print its secret once"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON line")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic(durable=True):
                user = user_create(
                    email=options["email"], password=options["password"], kyc_level=options["kyc"]
                )
                for symbol, amount in options["deposit"]:
                    asset = Asset.objects.filter(symbol=symbol).first()
                    if asset is None:
                        raise CommandError(f"unknown asset {symbol}")
                    deposit_credit(
                        user_id=user.pk,
                        asset=asset,
                        quantity=amount,
                        source="administrator",
                        memo="create_account",
                    )
                key = secret = None
                if options["api_key"]:
                    key, secret = api_key_create(user=user, label="create_account")
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        result: dict[str, Any] = {"user_id": user.pk, "email": user.email}
        if key is not None:
            result.update(api_key=key.public_key, api_secret=secret)
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(self.style.SUCCESS(f"created user {user.pk} <{user.email}>"))
        if key is not None:
            self.stdout.write(f"API key:    {key.public_key}\nAPI secret: {secret}  (shown once; not stored)")

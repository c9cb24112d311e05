from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchange.models import Market
from exchange.services.market_verify import market_verify


class Command(BaseCommand):
    help = "Replay each market's command log through a fresh engine; exit 1 if the database differs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("symbols", nargs="*", help="markets to check (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        markets = Market.objects.select_related("base", "quote").order_by("symbol")
        if options["symbols"]:
            markets = markets.filter(symbol__in=options["symbols"])
        failed = False
        for market in markets:
            report = market_verify(market)
            for problem in report.problems:
                self.stderr.write(f"{market.symbol}: {problem}")
            failed |= not report.ok
            self.stdout.write(
                f"{market.symbol}: {report.commands} commands, {report.fills} fills, "
                f"{'ok' if report.ok else 'MISMATCH'}"
            )
        if failed:
            raise CommandError("a market differs from the replay of its commands")

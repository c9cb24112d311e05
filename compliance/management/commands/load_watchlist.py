from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from compliance.models import ScreeningProfile
from compliance.services.watchlist import watchlist_load, watchlist_rescreen
from core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Load a FollowTheMoney/OpenSanctions entities file (JSON lines) as one list source: add, "
        "update and delist entries, then re-screen customers against what changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--source", help="List source name (default: the file name up to its first dot).")
        rescreen = parser.add_mutually_exclusive_group()
        rescreen.add_argument("--no-rescreen", action="store_true", help="Load only, screen nobody.")
        rescreen.add_argument(
            "--rescreen-all",
            action="store_true",
            help="Re-screen against every active entry of every list, not only new and changed ones "
            "(after a change of the matcher or its thresholds).",
        )
        parser.add_argument(
            "--allow-empty",
            action="store_true",
            help="Accept a file without screened entities (delists the whole source).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        source = options["source"] or path.name.split(".")[0]
        quiet = options["verbosity"] < 1
        with (
            path.open("rb") as handle,
            tqdm(
                total=path.stat().st_size,
                desc=f"loading {source}",
                unit="B",
                unit_scale=True,
                disable=quiet,
            ) as bar,
        ):

            def lines() -> Iterator[str]:
                for raw in handle:
                    bar.update(len(raw))
                    yield raw.decode("utf-8")

            try:
                report = watchlist_load(source=source, lines=lines(), allow_empty=options["allow_empty"])
            except (DomainError, UnicodeDecodeError) as exc:
                raise CommandError(f"{path}: {exc}; nothing was loaded") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{source}: {report.added} added, {report.updated} updated, {report.relisted} relisted, "
                f"{report.unchanged} unchanged, {report.delisted} delisted, {report.skipped} skipped "
                f"(other schemas), {report.duplicates} duplicate ids; sha256 {report.sha256}"
            )
        )
        if options["no_rescreen"] or not (report.changed_ids or options["rescreen_all"]):
            return
        entry_ids = None if options["rescreen_all"] else report.changed_ids
        with tqdm(
            total=ScreeningProfile.objects.count(),
            desc="re-screening customers",
            unit="customer",
            disable=quiet,
        ) as bar:
            rescreen = watchlist_rescreen(
                entry_ids=entry_ids, context=f"list:{source}"[:64], progress=bar.update
            )
        against = "every active entry" if entry_ids is None else f"{len(entry_ids)} new or changed entries"
        self.stdout.write(
            f"re-screened {rescreen.profiles} customers and {rescreen.addresses} counterparty addresses "
            f"against {against}: {rescreen.name_alerts} name alerts, {rescreen.address_alerts} address alerts"
        )

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone
from tqdm import tqdm

from accounts.services.kyc_review import kyc_periodic_review_open, kyc_reviews_due


class Command(BaseCommand):
    help = (
        "Open a periodic KYC review (re-screening the customer and re-scoring their risk) for every "
        "customer whose review date has passed; what the kyc_review_sweep beat task does, at once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        due = kyc_reviews_due(now=timezone.now()).select_related("user")
        opened = hits = 0
        for profile in tqdm(
            due, total=due.count(), desc="periodic reviews", disable=options["verbosity"] < 1
        ):
            outcome = kyc_periodic_review_open(profile=profile)
            opened += outcome.created
            hits += outcome.alerts
        self.stdout.write(f"opened {opened} review case(s); {hits} screening alert(s) open for them")

from typing import Any

from django.core.management.base import BaseCommand

from exchange.tasks import matching_queues


class Command(BaseCommand):
    help = "Print the Celery queues of the matching workers (one per market), comma-separated."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(",".join(matching_queues()))

"""Entry point for Celery's command line: `celery -A config.worker worker|beat`."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from config.celery import app

__all__ = ["app"]

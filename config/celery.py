"""The Celery app. Importing it sets nothing in the environment: `config.worker` is the CLI entry
point that picks the default settings module (`celery -A config.worker worker`)."""

from celery import Celery

app = Celery("satchel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

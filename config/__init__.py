# Load the Celery app with Django, so `shared_task`s sent from web processes use its broker.
from config.celery import app as celery_app

__all__ = ["celery_app"]

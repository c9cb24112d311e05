"""Every periodic task beat schedules can actually be sent.

Celery refuses to send a task whose soft time limit exceeds its hard one, and beat then logs the
error at every tick while the job silently never runs (the market sweep did exactly that).
"""

from __future__ import annotations

import pytest
from django.conf import settings

from config.celery import app


@pytest.mark.parametrize("entry", sorted(settings.CELERY_BEAT_SCHEDULE))
def test_beat_entry_names_a_registered_task_with_consistent_time_limits(entry: str) -> None:
    app.loader.import_default_modules()
    name = settings.CELERY_BEAT_SCHEDULE[entry]["task"]

    assert name in app.tasks, f"{entry}: no task named {name}"
    task = app.tasks[name]
    hard = task.time_limit if task.time_limit is not None else app.conf.task_time_limit
    soft = task.soft_time_limit if task.soft_time_limit is not None else app.conf.task_soft_time_limit
    assert hard is None or soft is None or soft <= hard, f"{entry}: soft limit {soft} > hard limit {hard}"

"""Local development and the demo started by `./satchel run`."""

import os

from .base import *  # noqa: F403

DEBUG = env_bool("DEBUG", True)  # noqa: F405
DEMO_DEPOSITS_ENABLED = env_bool("DEMO_DEPOSITS_ENABLED", True)  # noqa: F405
SECRET_KEY = SECRET_KEY or "local-development-only-not-secret"  # noqa: F405
if os.environ.get("PORT"):
    CSRF_TRUSTED_ORIGINS = [
        *CSRF_TRUSTED_ORIGINS,  # noqa: F405
        f"http://127.0.0.1:{os.environ['PORT']}",
        f"http://localhost:{os.environ['PORT']}",
    ]

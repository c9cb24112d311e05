"""The test suite: same servers and code path, faster password hashing."""

import os

from .base import *  # noqa: F403

SECRET_KEY = "test-only-not-secret"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]
DEMO_DEPOSITS_ENABLED = env_bool("DEMO_DEPOSITS_ENABLED", True)  # noqa: F405
# One test database per run, so concurrent runs against one server never drop each other's.
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": os.environ.get("SATCHEL_TEST_DATABASE") or f"test_satchel_{os.getpid()}"
}

"""Settings for the test suite: the production settings on a separate Redis
database and key prefix, with fast password hashing. Still real PostgreSQL
and real Redis."""

import os

os.environ.setdefault("PRM_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("PRM_CACHE_PREFIX", "prm-test")

from prm.settings import *  # noqa: F403

# An app that only the tests install: it declares itself inside its own
# folder, and tests/tenancy/test_declarations.py finds it everywhere.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.declared_app"]  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PRM_URL_PORT = ""

# Each pytest-xdist worker caches in a Redis database of its own: a test's
# cache.clear() (FLUSHDB) must not empty another worker's cache mid-test.
# (Not through the environment: workers inherit the controller's.)
if _worker := os.environ.get("PYTEST_XDIST_WORKER", "").removeprefix("gw"):
    _db = 15 - int(_worker) % 8
    CACHES["default"]["LOCATION"] = REDIS_URL.rsplit("/", 1)[0] + f"/{_db}"  # noqa: F405

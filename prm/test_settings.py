"""Settings for the test suite: the production settings on a separate Redis
database and key prefix, with fast password hashing. Still real PostgreSQL
and real Redis."""

import os

os.environ.setdefault("PRM_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("PRM_CACHE_PREFIX", "prm-test")

from prm.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PRM_URL_PORT = ""

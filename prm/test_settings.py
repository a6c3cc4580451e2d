"""Settings for the test suite: the production settings on a separate Redis
database and key prefix, with fast password hashing. Still real PostgreSQL
and real Redis."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

os.environ.setdefault("PRM_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("PRM_CACHE_PREFIX", "prm-test")

from prm.settings import *  # noqa: F403

# An app that only the tests install: it declares itself inside its own
# folder, and tests/tenancy/test_declarations.py finds it everywhere.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.declared_app"]  # noqa: F405

# Files the tests upload (MDF proofs) go to a folder of this test process,
# removed when it ends: never var/media. A test that wants its own folder
# points the proofs storage at tmp_path (tests/mdf/test_uploads.py).
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="prm-test-media-"))
atexit.register(shutil.rmtree, MEDIA_ROOT, ignore_errors=True)
STORAGES = {
    **STORAGES,  # noqa: F405
    "proofs": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT / "proofs", "base_url": None},
    },
}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
# In memory, unless a test's subprocess is to talk to a real mail server
# (tests/outage.py SmtpServer).
EMAIL_BACKEND = os.environ.get(
    "PRM_TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend"
)
PRM_URL_PORT = ""

# Each pytest-xdist worker (gw0, gw1, ...) has a PostgreSQL test database of
# its own (pytest-django appends the worker's name) and a Redis database of its
# own for the cache and the Celery broker, counting down from PRM_REDIS_URL's
# (15, 14, ... by default; Redis has 16): a test's cache.clear() (FLUSHDB) must
# not empty another worker's cache or queue mid-test. Not through the
# environment, which workers inherit from the controller; REDIS_URL keeps the
# base, so a process a test starts with it (a Celery worker) lands on the same.
if _worker := os.environ.get("PYTEST_XDIST_WORKER", "").removeprefix("gw"):
    _url = urlsplit(REDIS_URL)  # noqa: F405
    _db = (int(_url.path.strip("/") or 0) - int(_worker)) % 16
    _worker_url = _url._replace(path=f"/{_db}").geturl()
    CACHES["default"]["LOCATION"] = CELERY_BROKER_URL = _worker_url  # noqa: F405

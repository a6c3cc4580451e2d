"""Settings for the PRM platform.

Everything an operator may change is read from environment variables prefixed
``PRM_`` (see README, "Configuration"). Defaults are for local development; set
``PRM_DEBUG=0`` and the secrets for production, which then passes
``manage.py check --deploy`` without warnings.
"""

import os
from pathlib import Path

from csp.constants import NONE, SELF

from prm.dbrouter import replica_database

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(f"PRM_{name}", default)


def env_bool(name: str, default: bool) -> bool:
    value = env(name, "1" if default else "0").strip().lower()
    return value in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
_DEV_SECRET = "dev-only-insecure-secret-key-change-me-in-production-0123456789"
SECRET_KEY = env("SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise RuntimeError("PRM_SECRET_KEY must be set when PRM_DEBUG=0.")

# Tenants are resolved from the Host header by prm.tenancy.middleware, which
# answers 404 for any host that is neither the platform host nor a tenant's.
# Custom domains are added at run time, so the static list cannot name them.
ALLOWED_HOSTS = ["*"]

# The platform's base domain: the platform admin lives on it and every tenant
# gets ``<slug>.<base domain>``. ``localhost`` works in browsers without DNS.
PRM_BASE_DOMAIN = env("BASE_DOMAIN", "localhost").lower()
# Scheme and port used when building absolute links (invitations, mails).
PRM_URL_SCHEME = env("URL_SCHEME", "http" if DEBUG else "https")
PRM_URL_PORT = env("URL_PORT", "8000" if DEBUG else "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "guardian",
    "simple_history",
    "csp",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "prm.tenancy",
    "prm.api",
    "prm.webhooks",
    "partners",
    "dealreg",
    "incentives",
    "mdf",
    "onboarding",
    "reporting",
    "program",
]

MIDDLEWARE = [
    "prm.tenancy.middleware.HealthCheckMiddleware",
    "prm.tenancy.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    # A view that meets a PostgreSQL or Redis outage answers 503 (prm.tenancy.outage).
    "prm.tenancy.middleware.OutageMiddleware",
    "prm.tenancy.middleware.TenantMiddleware",
    # A NUL (%00) in the address: the 400 page (prm.tenancy.params).
    "prm.tenancy.params.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "prm.tenancy.middleware.MembershipMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "prm.tenancy.middleware.StaffMFAMiddleware",
    # Partners held back by an app's portal gate (agreements to accept).
    "prm.tenancy.middleware.PortalGateMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "prm.urls"
PLATFORM_URLCONF = "prm.urls_platform"
WSGI_APPLICATION = "prm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "prm.tenancy.context_processors.tenancy",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": env("DB_NAME", "prm"),
        "USER": env("DB_USER", "postgres"),
        "PASSWORD": env("DB_PASSWORD", ""),
        "HOST": env("DB_HOST", "127.0.0.1"),
        "PORT": env("DB_PORT", "5432"),
        "CONN_MAX_AGE": int(env("DB_CONN_MAX_AGE", "60")),
        "CONN_HEALTH_CHECKS": True,
        # Server-side prepared statements: only those the code asks for
        # (the deal registration conflict match), never automatically.
        # PRM_DB_PREPARED_STATEMENTS=0 turns them off, for a connection
        # pooler in transaction mode that does not keep them.
        "OPTIONS": {
            "prepare_threshold": (2**31 - 1 if env_bool("DB_PREPARED_STATEMENTS", True) else None),
            # Seconds to wait for a new connection: a server that does not
            # answer at all (host down, packets dropped) costs a request this
            # long before it answers 503, instead of hanging it.
            "connect_timeout": int(env("DB_CONNECT_TIMEOUT", "5")),
        },
        # PRM_DB_SERVER_SIDE_CURSORS=0, for a connection pooler in
        # transaction mode: a named cursor outside a transaction (a streamed
        # export's .iterator()) does not survive between its fetches there.
        "DISABLE_SERVER_SIDE_CURSORS": not env_bool("DB_SERVER_SIDE_CURSORS", True),
        "TEST": {"NAME": env("DB_TEST_NAME", "test_prm")},
    }
}
# A read replica for the reporting dashboards, when PRM_DB_REPLICA_HOST is
# set (prm/dbrouter.py): reads of the reporting app's models go there.
_replica = replica_database(
    DATABASES["default"],
    host=env("DB_REPLICA_HOST"),
    port=env("DB_REPLICA_PORT"),
    name=env("DB_REPLICA_NAME"),
    user=env("DB_REPLICA_USER"),
    password=env("DB_REPLICA_PASSWORD"),
)
if _replica is not None:
    DATABASES["replica"] = _replica
    DATABASE_ROUTERS = ["prm.dbrouter.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_PREFIX", "prm"),
        # Seconds to wait for Redis to accept a connection and to answer a
        # command: a Redis that hangs costs a request this long, then the
        # request answers as if Redis were down (prm.tenancy.outage).
        "OPTIONS": {
            "socket_connect_timeout": float(env("CACHE_SOCKET_TIMEOUT", "2")),
            "socket_timeout": float(env("CACHE_SOCKET_TIMEOUT", "2")),
        },
    }
}

AUTH_USER_MODEL = "tenancy.User"
AUTHENTICATION_BACKENDS = [
    "prm.tenancy.auth.TenantAuthenticationBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# django-allauth: email is the login, no usernames, no open sign-up (people
# join through invitations; partner applications come with onboarding).
ACCOUNT_ADAPTER = "prm.tenancy.auth.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_PRESERVE_USERNAME_CASING = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = PRM_URL_SCHEME
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reauthenticate": "10/m/user",
    "mfa_authenticate": "10/m/user,5/m/ip",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# allauth.usersessions: each sign-in is recorded (IP, browser, when), so
# "My account" can list a person's sessions and sign out the others. Not
# tracking activity: that would write to the database on every request
# (its middleware is only needed for that, so it is not installed).
USERSESSIONS_TRACK_ACTIVITY = False
# The code form's lockout message says when to try again (prm.tenancy.ratelimits).
MFA_FORMS = {"authenticate": "prm.tenancy.forms.MFAAuthenticateForm"}
MFA_TOTP_ISSUER = env("MFA_ISSUER", "PRM")

# django-guardian: object permissions for channel managers' partners.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = True

SIMPLE_HISTORY_REVERT_DISABLED = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
# One date and one date-time format for Django's own displays too (prm/formats/en).
FORMAT_MODULE_PATH = ["prm.formats"]
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# In development and tests static files come straight from the source tree.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
# Uploaded files (MDF proof of performance) live outside the static root
# and are served only through views that check who may see them.
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "proofs": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT / "proofs", "base_url": None},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# PRM_PROOF_STORAGE=s3 keeps the proofs in an S3-compatible bucket instead
# (django-storages, with boto3): private objects, names never overwritten;
# still served only through the proof view, which streams them.
if env("PROOF_STORAGE", "local").strip().lower() == "s3":
    STORAGES["proofs"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("PROOF_S3_BUCKET"),
            "endpoint_url": env("PROOF_S3_ENDPOINT_URL") or None,
            "region_name": env("PROOF_S3_REGION") or None,
            "access_key": env("PROOF_S3_ACCESS_KEY_ID") or None,
            "secret_key": env("PROOF_S3_SECRET_ACCESS_KEY") or None,
            "location": env("PROOF_S3_PREFIX", "proofs"),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
# Proof of performance uploads (mdf.uploads): caps per file and per claim.
MDF_UPLOAD_MAX_FILE_BYTES = int(env("MDF_UPLOAD_MAX_FILE_BYTES", str(10 * 1024 * 1024)))
MDF_UPLOAD_MAX_CLAIM_BYTES = int(env("MDF_UPLOAD_MAX_CLAIM_BYTES", str(100 * 1024 * 1024)))
MDF_UPLOAD_MAX_FILES = int(env("MDF_UPLOAD_MAX_FILES", "100"))
# Django refuses a request with more files than this before any view runs
# (a bare 400 page): above the claim's cap, so that one file too many gets
# the claim form's message naming it.
DATA_UPLOAD_MAX_NUMBER_FILES = 2 * MDF_UPLOAD_MAX_FILES

# Content-Security-Policy: no inline scripts anywhere, no third-party origins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # The Django admin still writes a few style="" attributes.
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "PRM <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# A mail server that accepts the connection and then hangs must not hold a
# worker: the send fails after this many seconds and the outbox retries it.
EMAIL_TIMEOUT = int(env("EMAIL_TIMEOUT", "10"))

CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "UTC"
# A broker that does not answer fails a publish within seconds (the work is
# in the outbox, or in a sweep's reach), instead of holding a request.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2}
# The transactional outbox (prm.tenancy.outbox): how long a handed-over task
# may take before it is handed over again, and the wait after a failure;
# both double with each attempt, up to an hour.
OUTBOX_LEASE_SECONDS = int(env("OUTBOX_LEASE_SECONDS", "120"))
OUTBOX_RETRY_SECONDS = int(env("OUTBOX_RETRY_SECONDS", "30"))
# Outbound webhooks (prm.webhooks): in production only https:// URLs that
# resolve to public addresses; on, plain http:// and private, loopback and
# link-local addresses are allowed too (development: a receiver on this
# machine). The timeouts of one request, in seconds: to connect, and in all.
WEBHOOKS_ALLOW_PRIVATE_URLS = env_bool("WEBHOOKS_ALLOW_PRIVATE_URLS", DEBUG)
WEBHOOKS_CONNECT_TIMEOUT = float(env("WEBHOOKS_CONNECT_TIMEOUT", "3"))
WEBHOOKS_TIMEOUT = float(env("WEBHOOKS_TIMEOUT", "10"))
# The beat schedule is assembled from the apps' declarations
# (``PRMApp.beat``) when the apps are ready: see prm.tenancy.apps.
CELERY_BEAT_SCHEDULE: dict = {}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = int(env("HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# One line per request (prm.request) and per Celery task (prm.task); every
# line carries the request or task id, tenant and user (see prm/log.py).
# JSON in production, readable text in development.
LOG_FORMAT = env("LOG_FORMAT", "text" if DEBUG else "json").strip().lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "prm.log.ContextFilter"}},
    "formatters": {
        "json": {"()": "prm.log.JsonFormatter"},
        "text": {"()": "prm.log.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # prm.request and prm.task replace Django's, runserver's and Celery's
        # own per-request and per-task lines (errors still come through).
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
    },
}


# --- The REST API (prm/api) -----------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "prm.api.authentication.ApiKeyAuthentication",
        "prm.api.authentication.TenantSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["prm.api.permissions.DeclaredPermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "prm.api.problems.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
    "ORDERING_PARAM": "ordering",
}
# Requests per key (or per signed-in member) in each window of seconds.
API_RATE_LIMIT = int(env("API_RATE_LIMIT", "600"))
API_RATE_WINDOW = int(env("API_RATE_WINDOW", "60"))
SPECTACULAR_SETTINGS = {
    "TITLE": "PRM API",
    # The reference page's introduction: keys, lists, writes, errors, limits.
    "DESCRIPTION": (BASE_DIR / "prm" / "api" / "description.md").read_text(),
    "VERSION": "v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files come from the drf-spectacular-sidecar package and
    # are served as static files: no CDN, and the page's script is a file
    # of its own (the split view), as the CSP's script-src 'self' asks.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {},
    # The schema is generated and validated by tests/api/test_schema.py, not
    # by `check --deploy`: its naming warnings (two apps' "status" choice
    # sets named apart by a hash) would fail the deploy check.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
}

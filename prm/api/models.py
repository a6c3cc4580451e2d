"""API keys and the responses kept for ``Idempotency-Key`` retries."""

import hashlib
import hmac
import secrets
from datetime import datetime

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from prm.tenancy.constraints import tenant_foreign_keys
from prm.tenancy.models import Membership, TenantOwned, User

# What a key looks like: "prm_" + an 8-character prefix, shown in lists to
# tell keys apart, "_" + the secret. Only a hash of the secret is stored.
TOKEN_START = "prm_"
PREFIX_CHARS = 8


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret. The secret is 256 random bits, so a
    plain SHA-256 is enough (a slow password hash protects guessable input)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(TenantOwned):
    """A key acting as one member (``membership``) with that member's role,
    never beyond it, and only for the resources its ``scopes`` name
    ("registrations:read", "registrations:write"; write includes read).
    Ops create staff keys in the admin; partner admins create keys for
    their organisation in the portal."""

    name = models.CharField(
        max_length=120, help_text="What the key is for, e.g. 'Salesforce sync'."
    )
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    membership = models.ForeignKey(
        Membership,
        on_delete=models.CASCADE,
        related_name="api_keys",
        verbose_name="acts as",
        db_constraint=False,
    )
    scopes = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]
        constraints = [*tenant_foreign_keys("apikey", "membership")]

    def __str__(self) -> str:
        return f"{self.name} ({self.display_prefix})"

    @property
    def display_prefix(self) -> str:
        return f"{TOKEN_START}{self.prefix}"

    @staticmethod
    def new_token() -> tuple[str, str, str]:
        """(the whole token, its prefix, the stored hash of its secret)."""
        prefix = secrets.token_hex(PREFIX_CHARS // 2)
        secret = secrets.token_urlsafe(32)
        return f"{TOKEN_START}{prefix}_{secret}", prefix, hash_secret(secret)

    @staticmethod
    def split(token: str) -> tuple[str, str] | None:
        """(prefix, secret) of a token, None when it is not shaped like one."""
        if not token.startswith(TOKEN_START):
            return None
        prefix, sep, secret = token[len(TOKEN_START) :].partition("_")
        if not sep or len(prefix) != PREFIX_CHARS or not secret:
            return None
        return prefix, secret

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, hash_secret(secret))

    def state(self, now: datetime | None = None) -> str:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def get_state_display(self) -> str:
        return self.state().capitalize()

    def allows(self, resource: str, write: bool) -> bool:
        """Whether the scopes cover ``resource`` for reading or writing."""
        if f"{resource}:write" in self.scopes:
            return True
        return not write and f"{resource}:read" in self.scopes


class IdempotentRequest(TenantOwned):
    """A POST made with an ``Idempotency-Key`` header and the response it
    got, replayed to a retry with the same key (for 24 hours). Written in the
    request's own transaction: a second request with the key waits for the
    first to commit, then replays it; a request that failed left nothing."""

    # Who made it: "key:<id>" or "user:<id>"; keys are per caller.
    caller = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True)
    body = models.JSONField(null=True)
    location = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "caller", "key"], name="one_request_per_idempotency_key"
            )
        ]

import hashlib
import os
import secrets
import time
import uuid
import zoneinfo
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Protocol

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django_scopes import ScopedManager

from .constraints import tenant_foreign_keys, tenant_key
from .registry import is_object_scoped, role_has_perm
from .roles import PARTNER_ROLES, STAFF_ROLES, Role


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7).

    Opaque in URLs like any UUID, but new rows land at the end of the primary
    key index instead of at random places, which keeps inserts into large
    tables (registrations, ledger entries) fast.
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 68) << 64  # 12 random bits
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$",
    "Use 1-40 lowercase letters, digits or hyphens; no hyphen at either end.",
)
currency_validator = RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code, e.g. USD.")
country_validator = RegexValidator(r"^[A-Z]{2}$", "Use a two-letter ISO 3166 code, e.g. US.")
RESERVED_SLUGS = {"www", "admin", "api", "static", "media", "platform", "mail"}


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone (use e.g. Europe/Berlin).")


def validate_slug_not_reserved(value: str) -> None:
    if value in RESERVED_SLUGS:
        raise ValidationError(f"“{value}” is reserved; choose another slug.")


MONTH_CHOICES = [
    (number, name)
    for number, name in enumerate(
        (
            *("January", "February", "March", "April", "May", "June"),
            *("July", "August", "September", "October", "November", "December"),
        ),
        start=1,
    )
]


class Tenant(models.Model):
    """A vendor: one partner program with its own portal, people and data."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=40,
        unique=True,
        validators=[slug_validator, validate_slug_not_reserved],
        help_text="The portal lives at <slug>.<base domain>.",
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    base_currency = models.CharField(max_length=3, default="USD", validators=[currency_validator])
    country = models.CharField(
        max_length=2,
        default="US",
        validators=[country_validator],
        help_text="Public holidays of this country count as non-working days.",
    )
    is_active = models.BooleanField(default=True)
    require_staff_mfa = models.BooleanField(
        default=False,
        help_text="Vendor staff must set up an authenticator app before they can work.",
    )
    support_email = models.EmailField(blank=True)
    fiscal_year_start = models.PositiveSmallIntegerField(
        "fiscal year starts in",
        default=1,
        choices=MONTH_CHOICES,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
        help_text=(
            "The month the program's fiscal year starts in; the reports' quarters and years "
            "follow it. A fiscal year is named after the calendar year it ends in: starting "
            "in February, Feb 2026 to Jan 2027 is FY2027."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(fiscal_year_start__gte=1, fiscal_year_start__lte=12),
                name="tenant_fiscal_year_start_is_a_month",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def subdomain_host(self) -> str:
        return f"{self.slug}.{settings.PRM_BASE_DOMAIN}"

    @property
    def primary_host(self) -> str:
        custom = next((d.host for d in self.domains.all() if d.is_primary), None)
        return custom or self.subdomain_host

    def absolute_url(self, path: str) -> str:
        port = settings.PRM_URL_PORT
        netloc = f"{self.primary_host}:{port}" if port else self.primary_host
        return f"{settings.PRM_URL_SCHEME}://{netloc}{path}"

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def local_now(self, now: datetime | None = None) -> datetime:
        """``now`` (default: the current time) in the tenant's time zone."""
        return timezone.localtime(now or timezone.now(), self.tzinfo)

    def local_today(self, now: datetime | None = None) -> date:
        """The tenant's calendar date at ``now`` (default: the current time):
        the day business-day arithmetic, cutoffs and "today" refer to."""
        return self.local_now(now).date()


host_validator = RegexValidator(
    r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$",
    "Enter a host name such as partners.example.com (lowercase, no port, no scheme).",
)


class TenantDomain(models.Model):
    """A custom host name of a tenant, beside its ``<slug>.<base domain>``."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="domains")
    host = models.CharField(max_length=253, unique=True, validators=[host_validator])
    is_primary = models.BooleanField(
        default=False, help_text="Use this host in links sent by mail."
    )

    class Meta:
        ordering = ["host"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(is_primary=True),
                name="one_primary_domain_per_tenant",
            )
        ]

    def __str__(self) -> str:
        return self.host

    def clean(self) -> None:
        self.host = (self.host or "").strip().lower()
        base = settings.PRM_BASE_DOMAIN
        if self.host == base or self.host.endswith("." + base):
            message = f"Hosts under {base} come from the tenant's slug; add only custom ones."
            raise ValidationError({"host": message})


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> "User":
        """A platform operator (``manage.py createsuperuser``). Their address
        counts as verified: they are created by someone with shell access."""
        from allauth.account.models import EmailAddress

        extra["is_superuser"] = True
        user = self._create_user(email, password, **extra)
        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )
        return user


class User(AbstractBaseUser, PermissionsMixin):
    """A person. What they may do depends on their membership in the tenant
    whose host they are on; ``is_superuser`` only opens the platform admin."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def is_staff(self) -> bool:
        # Django admin asks for this; tenant admin access is decided per
        # membership by TenantAdminSite.has_permission.
        return self.is_superuser

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email.split("@")[0]


class PermissionTarget(Protocol):
    """An object whose access follows a partner's (``Membership.has_perm``)."""

    def object_permission_target(self) -> models.Model: ...


class TenantOwned(models.Model):
    """Base for every tenant-owned model: a ``tenant`` FK, an opaque UUID key
    and a scoped default manager (a query outside ``scope(tenant=...)`` raises)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", editable=False)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        self.validate_same_tenant()

    def validate_same_tenant(self) -> None:
        """Every foreign key to tenant-owned data must stay in this tenant.

        Django validates foreign keys through the unscoped base manager, so
        ``full_clean()`` alone would accept another tenant's row by its id."""
        if self.tenant_id is None:
            return
        errors = {}
        for f in self._meta.concrete_fields:
            related = f.related_model if f.many_to_one else None
            if (
                related is None
                or isinstance(related, str)
                or f.name == "tenant"
                or not issubclass(related, TenantOwned)
            ):
                continue
            value = getattr(self, f.attname)
            if value is None:
                continue
            if not related._base_manager.filter(pk=value, tenant_id=self.tenant_id).exists():
                errors[f.name] = f"Select a valid {related._meta.verbose_name}."
        if errors:
            raise ValidationError(errors)


class Membership(TenantOwned):
    """A person's place in one tenant: a role and, for partner roles, the
    partner organisation they work for."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="memberships",
        db_constraint=False,
    )
    title = models.CharField(max_length=120, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__email"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="one_membership_per_tenant"),
            models.CheckConstraint(
                condition=(
                    models.Q(role__in=sorted(PARTNER_ROLES), partner__isnull=False)
                    | models.Q(role__in=sorted(STAFF_ROLES), partner__isnull=True)
                ),
                name="partner_roles_name_a_partner",
            ),
            *tenant_foreign_keys("membership", "partner"),
            # What a member's own rows (mail preferences) refer to.
            tenant_key("membership_tenant_key"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"

    @property
    def is_staff_role(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_partner_role(self) -> bool:
        return self.role in PARTNER_ROLES

    def has_perm(self, perm: str, obj: "PermissionTarget | None" = None) -> bool:
        """Whether this membership may use ``perm``, on ``obj`` if given.

        Object-scoped roles (an app's ``PRMApp.object_scoped``) hold the permission
        only on objects of partners assigned to them (django-guardian's
        ``partners.manage_partner`` on the partner, found through the
        object's ``object_permission_target()``); asked
        without an object they are answered yes, so lists and forms open and
        each object is checked as it is touched.
        """
        if not self.is_active or not role_has_perm(self.role, perm):
            return False
        if obj is not None and is_object_scoped(self.role, perm):
            from guardian.core import ObjectPermissionChecker

            target = obj.object_permission_target()
            return ObjectPermissionChecker(self.user).has_perm(MANAGE_PARTNER_PERM, target)
        return True


MANAGE_PARTNER_PERM = "manage_partner"


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def default_invitation_expiry() -> datetime:
    return timezone.now() + timedelta(days=14)


class Invitation(TenantOwned):
    """An invitation to join a tenant with a role. Only a hash of the token is
    stored; the link in the mail carries the token itself."""

    email = models.EmailField()
    role = models.CharField(max_length=32, choices=Role.choices)
    partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=default_invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                "tenant",
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="one_open_invitation_per_email",
            ),
            *tenant_foreign_keys("invitation", "partner"),
        ]

    def __str__(self) -> str:
        return f"{self.email} as {self.get_role_display()}"

    @staticmethod
    def new_token() -> tuple[str, str]:
        token = secrets.token_urlsafe(32)
        return token, _hash_token(token)

    @classmethod
    def hash_token(cls, token: str) -> str:
        return _hash_token(token)

    def status(self, now: datetime | None = None) -> str:
        now = now or timezone.now()
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "open"


class AuditEntry(TenantOwned):
    """What a business operation did, by whom: written by services, read by ops."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    data = models.JSONField(default=dict, blank=True)
    # An operation that must happen once per form (a double submit sends the
    # same form twice) writes its audit entry with a key naming the form; the
    # unique constraint refuses the second, whose transaction rolls back
    # (see ``prm.tenancy.services.once``).
    once_key = models.CharField(max_length=100, blank=True, default="", editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["tenant", "object_type", "object_id"])]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "once_key"],
                condition=~models.Q(once_key=""),
                name="auditentry_once_key_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_repr}"


class Notification(TenantOwned):
    """An in-app notification (also mailed): assignment, reminder,
    escalation, decision, information request, expiry warning...

    One that asks its reader to do something names the object it is about
    (``subject``, ``"dealreg.dealregistration:<uuid>"``, see
    ``services.subject_key``) and the ``task`` ("decide", "answer"...); the
    service that finishes the task closes it (``services.finish_tasks``):
    ``done_at`` is set, and it is marked read if it was not."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=120, blank=True)
    task = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "user", "read_at"], name="notification_unread"),
            # What finish_tasks looks up: the open tasks about one object.
            models.Index(
                fields=["tenant", "subject", "task"],
                condition=~models.Q(task="") & models.Q(done_at__isnull=True),
                name="notification_open_task",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def needs_action(self) -> bool:
        return bool(self.task) and self.done_at is None


class OutboxMessage(TenantOwned):
    """Work to do after a change commits, written in the change's own
    transaction (``prm.tenancy.outbox``): the broker is never the only place
    it is remembered.

    A relay hands due rows to Celery and sets ``due_at`` to the time by which
    the task must have finished; the task marks its row done in the same
    transaction as its effect. A row not done by then is handed over again.
    """

    task = models.CharField(max_length=200)
    # The task's arguments (ids); one named ``...token`` is dropped once done:
    # an invitation's link token must not outlive its mail.
    kwargs = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When the relay should hand the row over (again) if it is not done.
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)
    # Set after the last attempt failed: ops hand it over again by hand.
    gave_up_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=models.Q(done_at__isnull=True, gave_up_at__isnull=True),
                name="outbox_due",
            ),
            models.Index(
                fields=["done_at"], condition=models.Q(done_at__isnull=False), name="outbox_done"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} {self.kwargs}"

    @property
    def state(self) -> str:
        if self.done_at:
            return "done"
        if self.gave_up_at:
            return "gave up"
        return "sent" if self.sent_at else "waiting"


class MailPreference(TenantOwned):
    """Whether a member wants the mails of one notification kind (the kinds
    the apps declare, ``PRMApp.notification_kinds``). No row: they do. The
    in-app notification is made either way; only the mail follows this."""

    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="mail_preferences", db_constraint=False
    )
    kind = models.CharField(max_length=40)
    email = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "membership", "kind"], name="one_mail_preference_per_kind"
            ),
            *tenant_foreign_keys("mailpreference", "membership"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {'mail' if self.email else 'no mail'}"

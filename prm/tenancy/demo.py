"""The foundation's part of the demo data (``manage.py seed_demo``): the two
demo vendors, the platform superuser and one login per role. Each app adds
its own data in its declared demo step (``PRMApp.demo``), run in dependency
order by the command."""

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone

from .declarations import DemoContext
from .models import AuditEntry, Membership, Tenant, User
from .roles import STAFF_ROLES, Role

DEMO_PASSWORD = "demo-pass-2026"
# The demo's history covers the year up to today, on each tenant's calendar.
HISTORY_DAYS = 365
# The story starts this many days before the year, so that the year's first
# months have deals closing and being paid too.
LEAD_IN_DAYS = 45
# How busy each demo vendor's program is (DemoContext.history): globex, the
# second vendor, has a smaller one (and seeding it takes less time).
HISTORY = {"acme": 1.0, "globex": 0.5}
# Notifications of the past were read this long after they came.
READ_AFTER = timedelta(hours=3)

TENANTS = [
    {
        "slug": "acme",
        "name": "Acme Networks",
        "timezone": "America/New_York",
        "base_currency": "USD",
        "country": "US",
        "support_email": "partners@acme.example",
    },
    {
        "slug": "globex",
        "name": "Globex Security",
        "timezone": "Europe/Berlin",
        "base_currency": "EUR",
        "country": "DE",
        "support_email": "partners@globex.example",
    },
]

# (role, local part of the email, full name): one login per role and tenant.
ROLE_LOGINS = [
    (Role.OPS_ADMIN, "ops", "Olivia Ops"),
    (Role.CHANNEL_MANAGER, "cm", "Carlos Channel"),
    (Role.FINANCE, "finance", "Fiona Finance"),
    (Role.EXECUTIVE, "exec", "Evan Executive"),
    (Role.PARTNER_ADMIN, "partner.admin", "Paula Partner-Admin"),
    (Role.PARTNER_USER, "partner.user", "Peter Partner-User"),
]


@functools.cache
def _password_hash() -> str:
    """The demo password, hashed once per process: hashing is slow on
    purpose (a third of a second each), and the demo has a hundred people."""
    return make_password(DEMO_PASSWORD)


def demo_user(email: str, full_name: str, *, superuser: bool = False) -> User:
    """The demo user with this email (made once, verified, demo password)."""
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(
            email=email, password=None, full_name=full_name, is_superuser=superuser
        )
        user.password = _password_hash()
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def demo_member(
    tenant: Tenant, user: User, role: str, partner: models.Model | None = None
) -> Membership:
    membership, _ = Membership.objects.get_or_create(
        tenant=tenant, user=user, defaults={"role": role, "partner": partner}
    )
    return membership


def tenant_context(tenant: Tenant, scale: float = 1.0) -> DemoContext:
    """The tenant's demo logins: users for every role, memberships for the
    staff roles (partner roles join their partner in the directory's step),
    and how much history its steps write (``HISTORY``, times ``scale``)."""
    users: dict[str, User] = {
        role: demo_user(f"{local}@{tenant.slug}.example", full_name)
        for role, local, full_name in ROLE_LOGINS
    }
    people: dict[str, Membership] = {
        role: demo_member(tenant, users[role], role) for role in users if role in STAFF_ROLES
    }
    history = HISTORY.get(tenant.slug, 1.0) * scale
    return DemoContext(tenant=tenant, users=users, people=people, history=history)


# --- History ------------------------------------------------------------------------------
#
# The demo's year is written by the apps' own services with ``now=`` moved
# into the past, so timelines, audit entries and ledger entries carry the
# moment they happened. A few rows the foundation stamps with the clock
# itself (notifications and their mails' outbox messages) are moved to that
# moment afterwards by ``Past``.

# Rows stamped with the clock while a step of the past ran, moved to the
# step's moment: (start, stop, moment) spans of the real clock. Notifications
# older than a few days were read; the outbox work of the past was done (its
# mails went out; the demo runs its conflict checks itself, at the time).
_MOVE_NOTIFICATIONS = """
UPDATE tenancy_notification AS n
   SET created_at = s.moment,
       read_at = CASE WHEN n.read_at IS NULL AND s.moment < %(old)s
                      THEN s.moment + %(read_after)s ELSE n.read_at END
  FROM unnest(%(starts)s::timestamptz[], %(stops)s::timestamptz[], %(moments)s::timestamptz[])
       AS s (start, stop, moment)
 WHERE n.tenant_id = %(tenant)s AND n.created_at >= s.start AND n.created_at < s.stop
"""
_MOVE_OUTBOX = """
UPDATE tenancy_outboxmessage AS o
   SET created_at = s.moment, due_at = s.moment, sent_at = s.moment, done_at = s.moment,
       attempts = 1
  FROM unnest(%(starts)s::timestamptz[], %(stops)s::timestamptz[], %(moments)s::timestamptz[])
       AS s (start, stop, moment)
 WHERE o.tenant_id = %(tenant)s AND o.created_at >= s.start AND o.created_at < s.stop
"""


class Past:
    """Service calls made as of a moment in the past, for one tenant.

    ``with past.at(when):`` around the calls (which the caller passes
    ``now=when``); ``past.settle()`` once they are all made (before the
    transaction commits: the outbox hands its rows over on commit, and
    leaves those done) dates what the foundation stamped with the clock.
    One statement per table for the whole year, instead of one per call."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.spans: list[tuple[datetime, datetime, datetime]] = []

    @contextmanager
    def at(self, when: datetime) -> Iterator[None]:
        """The calls inside happen at ``when``. What they leave to do once
        the transaction commits (hand their outbox rows to the broker, kick
        tasks) was done back then: the rows are settled as done, and the
        demo makes those effects itself at the time (conflict checks,
        accruals, payout runs), so the callbacks are dropped."""
        hooks = transaction.get_connection().run_on_commit
        waiting = len(hooks)
        start = timezone.now()
        try:
            yield
        finally:
            self.spans.append((start, timezone.now(), when))
            del hooks[waiting:]

    def settle(self) -> None:
        if not self.spans:
            return
        starts, stops, moments = (list(column) for column in zip(*self.spans, strict=True))
        params: dict[str, Any] = {
            "tenant": self.tenant.pk,
            "starts": starts,
            "stops": stops,
            "moments": moments,
            "old": timezone.now() - timedelta(days=3),
            "read_after": READ_AFTER,
        }
        with connection.cursor() as cursor:
            cursor.execute(_MOVE_NOTIFICATIONS, params)
            cursor.execute(_MOVE_OUTBOX, params)
        self.spans = []


def backdate_audit(tenant: Tenant, obj: models.Model, moments: list[datetime]) -> None:
    """Date the audit entries of ``obj`` (oldest first) at ``moments``, for
    services that take no ``now=`` (the partner directory's)."""
    entries = AuditEntry.objects.filter(
        tenant_id=tenant.pk, object_type=obj._meta.label_lower, object_id=str(obj.pk)
    ).order_by("created_at", "id")
    for entry, moment in zip(entries, moments, strict=False):
        AuditEntry.objects.filter(pk=entry.pk).update(created_at=moment)


def at(tenant: Tenant, day: date, hour: float = 10.0) -> datetime:
    """``hour`` o'clock (a fraction is minutes) on ``day`` in the tenant's time zone."""
    start = datetime.combine(day, time(0), tzinfo=ZoneInfo(tenant.timezone))
    return start + timedelta(hours=hour)

"""The foundation's part of the demo data (``manage.py seed_demo``): the two
demo vendors, the platform superuser and one login per role. Each app adds
its own data in its declared demo step (``PRMApp.demo``), run in dependency
order by the command."""

from allauth.account.models import EmailAddress
from django.db import models

from .declarations import DemoContext
from .models import Membership, Tenant, User
from .roles import STAFF_ROLES, Role

DEMO_PASSWORD = "demo-pass-2026"

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


def demo_user(email: str, full_name: str, *, superuser: bool = False) -> User:
    """The demo user with this email (made once, verified, demo password)."""
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(
            email=email, password=DEMO_PASSWORD, full_name=full_name, is_superuser=superuser
        )
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


def tenant_context(tenant: Tenant) -> DemoContext:
    """The tenant's demo logins: users for every role, memberships for the
    staff roles (partner roles join their partner in the directory's step)."""
    users: dict[str, User] = {
        role: demo_user(f"{local}@{tenant.slug}.example", full_name)
        for role, local, full_name in ROLE_LOGINS
    }
    people: dict[str, Membership] = {
        role: demo_member(tenant, users[role], role) for role in users if role in STAFF_ROLES
    }
    return DemoContext(tenant=tenant, users=users, people=people)

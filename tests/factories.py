"""Builders for test data. Each takes a tenant and must be called inside its
scope (the personas fixture and ``in_tenant`` take care of that)."""

import itertools

from allauth.account.models import EmailAddress

from partners import services as partner_services
from partners.models import Contact, Partner, Region, Tier
from prm.tenancy.models import Membership, Tenant, User

PASSWORD = "correct-horse-battery-9"
_seq = itertools.count(1)


def make_tenant(slug: str, **extra) -> Tenant:
    return Tenant.objects.create(slug=slug, name=extra.pop("name", slug.title()), **extra)


def make_user(email: str | None = None, **extra) -> User:
    email = email or f"person{next(_seq)}@example.test"
    user = User.objects.create_user(email=email, password=PASSWORD, **extra)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def make_tier(tenant: Tenant, name: str = "Gold", rank: int = 3) -> Tier:
    return Tier.objects.create(tenant=tenant, name=name, rank=rank, benefits=f"{name} benefits")


def make_region(tenant: Tenant, code: str = "na", countries=("US", "CA")) -> Region:
    return Region.objects.create(
        tenant=tenant, code=code, name=code.upper(), countries=list(countries)
    )


def make_partner(tenant: Tenant, name: str | None = None, *, tier: Tier | None = None, **data):
    name = name or f"Partner {next(_seq)}"
    tier = tier or Tier.objects.order_by("rank").first() or make_tier(tenant)
    data.setdefault("partner_type", Partner.Type.RESELLER)
    data.setdefault("country", "US")
    data.setdefault("status", Partner.Status.ACTIVE)
    return partner_services.create_partner(
        tenant=tenant, by=None, data={"name": name, "tier": tier, **data}
    )


def make_contact(partner: Partner, email: str | None = None) -> Contact:
    return Contact.objects.create(
        tenant=partner.tenant,
        partner=partner,
        name="Contact Person",
        email=email or f"contact{next(_seq)}@example.test",
    )


def make_member(tenant: Tenant, role: str, *, partner=None, email=None) -> Membership:
    user = make_user(email)
    return Membership.objects.create(tenant=tenant, user=user, role=role, partner=partner)


def make_invitation(tenant: Tenant, by: Membership, role: str, partner=None) -> tuple:
    from prm.tenancy.services import invite

    return invite(
        tenant=tenant, by=by, email=f"invitee{next(_seq)}@example.test", role=role, partner=partner
    )

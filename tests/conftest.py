"""Personas: for each of two tenants (acme, globex) one member per role,
partner members at the tenant's first partner, a second partner with no
members of ours, and the channel manager assigned to the first partner."""

from dataclasses import dataclass, field

import pytest
from django.test import Client
from django_scopes import scope, scopes_disabled

from prm.tenancy.models import Membership, Tenant
from prm.tenancy.roles import Role

from . import factories


def pytest_collection_modifyitems(items):
    """Slow and browser tests first (the order is otherwise kept): parallel
    workers then share out the short tests around them, instead of one
    worker running a long test alone at the end while the others idle."""

    def runs_long(item) -> bool:
        return any(item.get_closest_marker(name) for name in ("slow", "browser"))

    items.sort(key=lambda item: not runs_long(item))


@dataclass
class TenantWorld:
    tenant: Tenant
    host: str
    members: dict[str, Membership] = field(default_factory=dict)
    partner: object = None
    other_partner: object = None

    def __getitem__(self, role: str) -> Membership:
        return self.members[role]

    def scope(self):
        return scope(tenant=self.tenant)

    def second(self, role: str) -> Membership:
        """Another member with ``role``, made on first use: the second pair
        of eyes of a four-eyes rule (a payout run's approver)."""
        key = f"second_{role}"
        if key not in self.members:
            with self.scope():
                self.members[key] = factories.make_member(
                    self.tenant,
                    role,
                    partner=self.members[role].partner,
                    email=f"second.{role.replace('_', '.')}@{self.tenant.slug}.test",
                )
        return self.members[key]

    def client(self, role: str | None = None) -> Client:
        """A test client on this tenant's host, logged in as ``role``."""
        client = Client(HTTP_HOST=self.host)
        if role is not None:
            client.force_login(
                self.members[role].user,
                backend="prm.tenancy.auth.TenantAuthenticationBackend",
            )
        return client


def build_world(slug: str) -> TenantWorld:
    tenant = factories.make_tenant(slug, name=f"{slug.title()} Corp")
    world = TenantWorld(tenant=tenant, host=f"{slug}.localhost")
    with scope(tenant=tenant):
        tier = factories.make_tier(tenant, "Gold", 3)
        factories.make_tier(tenant, "Silver", 2)
        factories.make_region(tenant)
        for role in (Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE):
            world.members[role] = factories.make_member(
                tenant, role, email=f"{role.replace('_', '.')}@{slug}.test"
            )
        world.partner = factories.make_partner(
            tenant,
            f"{slug.title()} Reseller One",
            tier=tier,
            website=f"https://one.{slug}-partners.test",
            channel_manager=world.members[Role.CHANNEL_MANAGER].user,
        )
        world.other_partner = factories.make_partner(
            tenant,
            f"{slug.title()} Distributor Two",
            tier=tier,
            website=f"https://two.{slug}-partners.test",
        )
        factories.make_contact(world.partner)
        factories.make_contact(world.other_partner)
        for role in (Role.PARTNER_ADMIN, Role.PARTNER_USER):
            world.members[role] = factories.make_member(
                tenant, role, partner=world.partner, email=f"{role.replace('_', '.')}@{slug}.test"
            )
    return world


@pytest.fixture
def acme(db) -> TenantWorld:
    return build_world("acme")


@pytest.fixture
def globex(db) -> TenantWorld:
    return build_world("globex")


@pytest.fixture
def personas(acme, globex) -> dict[str, TenantWorld]:
    return {"acme": acme, "globex": globex}


@pytest.fixture
def no_scope():
    """Tests that set up data across tenants use this on purpose."""
    with scopes_disabled():
        yield


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate limits and cached values must not leak between tests."""
    from django.core.cache import cache

    cache.clear()
    yield

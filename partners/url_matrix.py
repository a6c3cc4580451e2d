"""The partner directory's part of the URL-matrix test
(tests/test_url_matrix.py), loaded by the tests only (``PRMApp.url_matrix``):
one object of a tenant per admin model."""

from typing import Any

from .models import Contact, Region, Tier, TierChange


def _contact(world: Any) -> Contact | None:
    with world.scope():
        return world.partner.contacts.first()


def _tier(world: Any) -> Tier:
    with world.scope():
        return world.partner.tier


def _region(world: Any) -> Region:
    with world.scope():
        return Region.objects.get(code="na")


def _tier_change(world: Any) -> TierChange | None:
    with world.scope():
        return TierChange.objects.filter(partner=world.partner).first()


ADMIN_OBJECTS: dict = {
    "partners.tierchange": _tier_change,
    "partners.partner": lambda w: w.partner,
    "partners.tier": _tier,
    "partners.region": _region,
    "partners.contact": _contact,
}
CUSTOM_ADMIN_VIEWS: dict = {
    "partners_partner_import": "partners.import_partner",
    "partners_partner_export": "partners.export_partner",
}

# One object of a tenant per API resource (tests/api/test_api_matrix.py),
# by the route's basename.
API_OBJECTS: dict = {
    "partner": lambda w: w.partner,
    "contact": _contact,
    "tier": _tier,
    "tierchange": _tier_change,
}

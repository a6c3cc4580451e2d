"""The tier progress pages' part of the URL-matrix test
(tests/test_url_matrix.py), merged into ``program/url_matrix.py``; loaded
by the tests only: the partner's "Tier progress" page and the staff list of
partners about to move (the standings), whose object is the world's
partner's standing (made on first use)."""

import datetime as dt
from typing import Any

from django.utils import timezone

from prm.tenancy.roles import PARTNER_ROLES

from .models import TierStanding


def standing(world: Any) -> TierStanding:
    with world.scope():
        found = TierStanding.objects.filter(partner=world.partner).first()
        if found is not None:
            return found
        today = world.tenant.local_today()
        return TierStanding.objects.create(
            tenant=world.tenant,
            partner=world.partner,
            qualifying_tier=world.partner.tier,
            evaluated_on=today,
            evaluated_at=timezone.now(),
            grace_until=today + dt.timedelta(days=30),
        )


PORTAL_ROUTES: dict[str, dict[str, Any]] = {
    "program:progress": {"allowed": PARTNER_ROLES},
}
ADMIN_OBJECTS = {"program.tierstanding": standing}

"""Reporting's part of the URL-matrix test (tests/test_url_matrix.py),
loaded by the tests only (``PRMApp.url_matrix``): one object of a tenant per
admin model."""

from typing import Any

from prm.tenancy.roles import PARTNER_ROLES, Role

from .models import AtRiskEpisode, HealthSettings


def health_settings(world: Any) -> HealthSettings:
    with world.scope():
        return HealthSettings.for_tenant(world.tenant)


def episode(world: Any) -> AtRiskEpisode:
    from datetime import date

    with world.scope():
        found, _ = AtRiskEpisode.objects.get_or_create(
            tenant=world.tenant,
            partner=world.partner,
            closed_on=None,
            defaults={"opened_on": date(2026, 1, 5), "reasons": []},
        )
        return found


ADMIN_OBJECTS: dict = {
    "reporting.healthsettings": health_settings,
    "reporting.atriskepisode": episode,
}
# The settings row is made on first use and never deleted; episodes open
# and close with the nightly health run only.
ADMIN_NOBODY = {
    ("reporting.healthsettings", "add"),
    ("reporting.healthsettings", "delete"),
    ("reporting.atriskepisode", "add"),
    ("reporting.atriskepisode", "delete"),
}

# The dashboards: executives, ops and finance read the program's; channel
# managers (and ops and executives, choosing one) the channel view; partner
# roles their own organisation's.
PORTAL_ROUTES: dict[str, dict[str, Any]] = {
    "reporting:executive": {"allowed": {Role.EXECUTIVE, Role.OPS_ADMIN, Role.FINANCE}},
    "reporting:channel": {"allowed": {Role.CHANNEL_MANAGER, Role.OPS_ADMIN, Role.EXECUTIVE}},
    "reporting:partner": {"allowed": PARTNER_ROLES},
}


def metric(world: Any) -> Any:
    """A metric every dashboard shows (declared, the same in every tenant:
    the API matrix reads it by its key)."""
    from prm.tenancy import registry

    return registry.metrics()["dealreg.partner_sourced_revenue"]


# One object per API route basename (tests/api/test_api_matrix.py).
API_OBJECTS: dict[str, Any] = {"metric": metric}

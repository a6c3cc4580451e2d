"""The partner directory's parts of the partner health score (declared in
``partners.declare``): portal engagement and the record's data quality.

As of a day, like every health component: the partner record as its history
held it at the end of that day (the tenant's time zone). Two facts have no
history and are read as they are now, which the definitions say: a person's
sign-in is their *last* sign-in (as the system adoption metric reads it), and
contacts are the partner's current contacts.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from prm import format as fmt
from prm.tenancy.declarations import HealthComponent, Period, Reading
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.roles import PARTNER_ROLES

from .models import Contact, Partner
from .normalize import normalize_domain

ENGAGEMENT_DAYS = 30
THOUSANDTH = Decimal("0.001")


def _fraction(part: int, whole: int) -> Decimal:
    return (Decimal(part) / Decimal(whole)).quantize(THOUSANDTH, rounding=ROUND_HALF_UP)


# --- Portal engagement --------------------------------------------------------------------


def portal_engagement(tenant: Tenant, day: date, partner_ids: Any) -> dict[Any, Reading]:
    """The mean of two shares: the partner's active portal people who signed
    in during the 30 days up to the day, and how recent its latest sign-in
    is (1 that day, falling evenly to 0 at 30 days or more). A partner with
    nobody in the portal scores 0. One query."""
    after = Period(day, day).bounds(tenant)[1]
    since = after - timedelta(days=ENGAGEMENT_DAYS)
    people = Membership.objects.filter(
        tenant_id=tenant.pk,
        partner_id__in=partner_ids,
        role__in=sorted(PARTNER_ROLES),
        is_active=True,
        user__is_active=True,
        created_at__lt=after,
    ).values_list("partner_id", "user__last_login")
    logins: dict[Any, list[Any]] = defaultdict(list)
    for partner_id, last_login in people:
        logins[partner_id].append(last_login)
    found: dict[Any, Reading] = {}
    for partner_id in partner_ids:
        seen = logins.get(partner_id)
        if not seen:
            found[partner_id] = Reading(Decimal(0), "Nobody of theirs can sign in to the portal")
            continue
        known = [at for at in seen if at is not None and at < after]
        recent = sum(1 for at in known if at >= since)
        active = _fraction(recent, len(seen))
        if not known:
            found[partner_id] = Reading(
                active / 2, f"None of their {fmt.plural(len(seen), 'portal user')} signed in yet"
            )
            continue
        days = (day - tenant.local_today(max(known))).days
        recency = _fraction(max(ENGAGEMENT_DAYS - days, 0), ENGAGEMENT_DAYS)
        value = ((active + recency) / 2).quantize(THOUSANDTH, rounding=ROUND_HALF_UP)
        found[partner_id] = Reading(
            value,
            f"{recent} of {fmt.plural(len(seen), 'portal user')} signed in within 30 days; "
            f"the latest sign-in {fmt.plural(days, 'day')} ago",
        )
    return found


# --- Data quality ---------------------------------------------------------------------------

# The checks of the data accuracy rate (shared/METRICS.md) that the partner
# record supports: (what is missing when it fails).
CHECKS = (
    "required fields (name, type, country, tier)",
    "a valid web domain",
    "a contact with a valid email",
    "a country and region",
)


def _valid_domain(domain: str) -> bool:
    try:
        return bool(normalize_domain(domain))
    except ValueError:
        return False


def _valid_email(email: str) -> bool:
    try:
        validate_email(email)
    except ValidationError:
        return False
    return True


def compliance(tenant: Tenant, day: date, partner_ids: Any) -> dict[Any, Reading]:
    """Checks passed ÷ checks, among those of the data accuracy rate that
    the record supports: required fields present, a valid web domain, at
    least one contact with a valid email, a country and a region. (The
    directory keeps no review date and no duplicate flags: those two checks
    are not made.) A partner with no version by the day has no data. Two
    queries."""
    after = Period(day, day).bounds(tenant)[1]
    versions = Partner.history.model.objects.filter(
        tenant_id=tenant.pk, id__in=partner_ids, history_date__lt=after
    )
    latest = versions.order_by("id", "-history_date", "-history_id").distinct("id")
    records = latest.values_list(
        "id", "name", "partner_type", "country", "tier_id", "domain", "region_id"
    )
    emails: dict[Any, list[str]] = defaultdict(list)
    for partner_id, email in Contact.objects.filter(
        tenant_id=tenant.pk, partner_id__in=partner_ids
    ).values_list("partner_id", "email"):
        emails[partner_id].append(email)
    found: dict[Any, Reading] = {}
    for partner_id, name, partner_type, country, tier_id, domain, region_id in records:
        passed = (
            bool(name and partner_type and country and tier_id),
            _valid_domain(domain),
            any(_valid_email(email) for email in emails.get(partner_id, ())),
            bool(country and region_id),
        )
        missing = [check for check, ok in zip(CHECKS, passed, strict=True) if not ok]
        why = (
            f"Passes all {len(CHECKS)} data checks"
            if not missing
            else f"Passes {sum(passed)} of {len(CHECKS)} data checks; missing " + "; ".join(missing)
        )
        found[partner_id] = Reading(_fraction(sum(passed), len(CHECKS)), why)
    return found


HEALTH_COMPONENTS = (
    HealthComponent(
        key="partners.portal_engagement",
        name="Portal engagement",
        description=(
            "Half the share of the partner's active portal people who signed in within the "
            "last 30 days, half how recent its latest sign-in is (zero at 30 days). Nobody "
            "in the portal: zero. A sign-in is a person's last one."
        ),
        default_weight=15,
        compute=portal_engagement,
    ),
    HealthComponent(
        key="partners.compliance",
        name="Data quality",
        description=(
            "Data accuracy checks the partner record passes: required fields, a valid web "
            "domain, a contact with a valid email, a country and region."
        ),
        default_weight=15,
        compute=compliance,
    ),
)

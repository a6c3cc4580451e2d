"""The automatic items of a compliance review, worked out live from what
the other apps know about the partner on a day:

- **Agreements current**: no agreement of the program holds the partner
  back on the day (``onboarding.agreements.blocking_versions``: every
  agreement it must accept is accepted in its current version, or still
  inside the time to accept a new version).
- **Certifications current**: the partner's active people hold, on the
  day, valid certifications (confirmed, earned by then, not expired: a
  certification stops counting on its expiry day) in at least the numbers
  the published tier criteria ask of the partner's current tier, for each
  certification those criteria name (required or counted alike:
  ``program.figures.measure``, the evaluation's own count). A tier whose
  criteria name no certification, or no published criteria, asks nothing.
- **Profile complete**: the company profile lacks nothing
  (``onboarding.plans.profile_gaps``).
- **Tax document on file** (when the policy asks for one): the review has
  the partner's uploaded tax form.

Each item says what stands, and where the partner fixes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from django.urls import reverse

from onboarding.agreements import blocking_versions
from onboarding.plans import profile_gaps
from partners.models import Partner
from prm import format as fmt

from .evaluation import ladder
from .figures import Needs, measure
from .models import ComplianceReview, ComplianceSettings, TierCriterion

AGREEMENTS, CERTIFICATIONS, PROFILE, TAX = "agreements", "certifications", "profile", "tax"


@dataclass(frozen=True)
class Check:
    """One automatic item: met or not, what stands ("2 of 3 people certified
    in Cloud Architect"), and where to fix it."""

    key: str
    label: str
    met: bool
    detail: str
    fix_url: str = ""
    fix_label: str = ""


def agreements(partner: Partner, day: date) -> Check:
    owed = list(
        blocking_versions(day, partner.pk, partner.partner_type)
        .select_related("agreement")
        .values_list("agreement__title", flat=True)
    )
    if not owed:
        return Check(AGREEMENTS, "Agreements current", True, "Every agreement is accepted.")
    return Check(
        AGREEMENTS,
        "Agreements current",
        False,
        f"Waiting for acceptance: {', '.join(sorted(owed))}.",
        reverse("onboarding:agreements"),
        "Read and accept",
    )


def shortfalls(partner: Partner, day: date) -> list[str]:
    """What the partner's tier's criteria ask in certified people that its
    active people do not hold on ``day`` ("1 more person certified in
    Cloud Architect (2 of 3)")."""
    steps = ladder(partner.tenant)
    target = steps.targets.get(partner.tier_id)
    if target is None:
        return []
    wanted = [c for c in target.criteria.all() if c.kind == TierCriterion.Kind.CERTIFIED]
    if not wanted:
        return []
    needs = Needs(
        kinds=frozenset({TierCriterion.Kind.CERTIFIED}),
        certifications=frozenset(c.certification_id for c in wanted),
    )
    held = measure(partner.tenant, day, [partner.pk], needs)[partner.pk].certified
    found = []
    for criterion in wanted:
        have, need = held.get(criterion.certification_id, 0), int(criterion.threshold)
        if have < need:
            name = criterion.certification.name if criterion.certification else ""
            found.append(
                f"{fmt.plural(need - have, 'more person,more people')} certified in {name} "
                f"({have} of {need})"
            )
    return found


def certifications(partner: Partner, day: date) -> Check:
    missing = shortfalls(partner, day)
    if not missing:
        return Check(
            CERTIFICATIONS,
            "Certifications current",
            True,
            f"Your team holds the certifications {partner.tier} asks for.",
        )
    return Check(
        CERTIFICATIONS,
        "Certifications current",
        False,
        f"{partner.tier} asks for {'; '.join(missing)}.",
        reverse("onboarding:training"),
        "See your team's training",
    )


def profile(partner: Partner) -> Check:
    gaps = profile_gaps(partner)
    if not gaps:
        return Check(PROFILE, "Company profile complete", True, "Nothing is missing.")
    return Check(
        PROFILE,
        "Company profile complete",
        False,
        f"Still missing: {', '.join(gaps)}.",
        reverse("onboarding:profile"),
        "Complete the profile",
    )


def tax(review: ComplianceReview) -> Check:
    if review.file:
        return Check(TAX, "Tax document on file", True, f"{review.file_name} uploaded.")
    return Check(TAX, "Tax document on file", False, "Upload your current tax form below.")


def automatic(review: ComplianceReview, day: date | None = None) -> list[Check]:
    """The review's automatic items, as they stand on ``day`` (default:
    the partner's tenant's today)."""
    partner = review.partner
    day = day or partner.tenant.local_today()
    found = [agreements(partner, day), certifications(partner, day), profile(partner)]
    if ComplianceSettings.for_tenant(partner.tenant).tax_document_required:
        found.append(tax(review))
    return found


def snapshot(checks: list[Check]) -> list[dict[str, Any]]:
    """The checks as the review stores them when it is submitted."""
    return [
        {k: v for k, v in asdict(c).items() if k in {"key", "label", "met", "detail"}}
        for c in checks
    ]

"""The partner program's demo data: the tier review policy (quarterly, on
the first day of each fiscal quarter, upgrades at once, 90 days' grace),
the published tier criteria, the quarter's review as it ran on its day
(with the figures of that day), a hold, and today's evaluation.

Criteria (version 1, published before the review):
- Silver: 75,000 won in the last 12 months (required), and one of: 4
  approved registrations, one certified sales professional;
- Gold: 150,000 won (required), and one of: a certified engineer, 8
  approved registrations; agreements in force (required);
- Platinum: 400,000 won, 10 approved registrations and 3 certified
  engineers (all required).

So the demo shows partners at every tier, some moved up by the review,
some in a grace period (the directory's tiers were set by hand before the
program had criteria), one held by ops, and Northwind, the demo partner
logins' partner, a step from Platinum: "1 more certified engineer to
Platinum". Safe to run again (it writes once per tenant)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from onboarding import training
from onboarding.models import Certification
from partners.models import Partner, Tier
from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import Past, at
from prm.tenancy.models import Membership
from prm.tenancy.roles import Role

from . import demo_compliance, holds
from .evaluation import Trigger, evaluate
from .models import CriteriaVersion, QualificationSettings, TierCriterion, TierTarget

DEMO = "program.demo.seed"
DEMO_AFTER = ("partners", "dealreg", "incentives", "onboarding", "reporting")

Kind = TierCriterion.Kind
# rank → (counted minimum, [(kind, threshold, required, certification code)])
CRITERIA: dict[int, tuple[int, list[tuple[str, str, bool, str]]]] = {
    2: (
        1,
        [
            (Kind.WON_REVENUE, "75000", True, ""),
            (Kind.APPROVED, "4", False, ""),
            (Kind.CERTIFIED, "1", False, "csp"),
        ],
    ),
    3: (
        1,
        [
            (Kind.WON_REVENUE, "150000", True, ""),
            (Kind.AGREEMENTS, "0", True, ""),
            (Kind.CERTIFIED, "1", False, "ce"),
            (Kind.APPROVED, "8", False, ""),
        ],
    ),
    4: (
        0,
        [
            (Kind.WON_REVENUE, "400000", True, ""),
            (Kind.APPROVED, "10", True, ""),
            (Kind.CERTIFIED, "3", True, "ce"),
        ],
    ),
}
HELD = "Tailspin IT"
# Certified its engineers before the review: it qualifies for Platinum.
CERTIFIED_BEFORE_REVIEW = "Nod Publishers"


def last_review(policy: QualificationSettings, today: date, fiscal_year_start: int) -> date:
    day = today - timedelta(days=1)
    while not policy.is_review_day(day, fiscal_year_start):
        day -= timedelta(days=1)
    return day


def seed(ctx: DemoContext) -> None:
    _tiers(ctx)
    # Compliance reviews after the tiers: a review's certification item reads
    # the published criteria.
    demo_compliance.seed(ctx)


def _tiers(ctx: DemoContext) -> None:
    tenant = ctx.tenant
    if CriteriaVersion.objects.exists():
        return
    ops = ctx.users[Role.OPS_ADMIN]
    tiers = {t.rank: t for t in Tier.objects.all()}
    certs = {c.code: c for c in Certification.objects.all()}
    today = tenant.local_today()
    policy = QualificationSettings.for_tenant(tenant)
    review = last_review(policy, today, tenant.fiscal_year_start)
    version = _criteria(
        tenant,
        tiers,
        certs,
        ops,
        published=at(tenant, review - timedelta(days=20)),
        scale=Decimal(str(ctx.history)),
    )
    if version is None:
        return
    past = Past(tenant)
    _engineers(ctx, certs.get("ce"), review - timedelta(days=45), past)
    with past.at(at(tenant, review, 6)):
        evaluate(tenant, trigger=Trigger.REVIEW, now=at(tenant, review, 6))
    held = Partner.objects.filter(name=HELD).first()
    if held is not None and 4 in tiers:
        moment = at(tenant, review + timedelta(days=9), 14)
        with past.at(moment):
            holds.hold(
                held,
                tiers[4],
                reason=(
                    "Launch partner of the new cloud line: kept at Platinum through the launch "
                    "whatever its figures."
                ),
                ends_on=review + timedelta(days=150),
                by=ops,
                now=moment,
            )
    past.settle()
    evaluate(tenant, trigger=Trigger.ON_DEMAND, by=ops)
    ctx.objects["program.version"] = version


def _engineers(ctx: DemoContext, cert: Certification | None, day: date, past: Past) -> None:
    partner = Partner.objects.filter(name__startswith=CERTIFIED_BEFORE_REVIEW).first()
    if cert is None or partner is None:
        return
    people = Membership.objects.filter(partner=partner, is_active=True).order_by("created_at")
    moment = at(ctx.tenant, day, 15)
    with past.at(moment):
        for n, person in enumerate(people[:3]):
            training.record(
                person=person,
                achievement=cert,
                completed_on=day,
                by=ctx.people[Role.OPS_ADMIN],
                score=Decimal(80 + n * 4),
                certificate_id=f"CE-{day:%y%m}-{7100 + n}",
                now=moment,
            )


def _criteria(
    tenant: Any,
    tiers: dict[int, Tier],
    certs: dict[str, Certification],
    ops: Any,
    published: Any,
    scale: Decimal,
) -> CriteriaVersion | None:
    """Version 1; a smaller program (``scale`` below 1: less history) asks
    proportionally less revenue and fewer registrations."""
    if not all(rank in tiers for rank in CRITERIA):
        return None
    version = CriteriaVersion.objects.create(
        tenant=tenant,
        number=1,
        status=CriteriaVersion.Status.PUBLISHED,
        note="The program's first published criteria.",
        created_by=ops,
        created_at=published - timedelta(days=7),
        published_by=ops,
        published_at=published,
    )
    for rank, (minimum, criteria) in CRITERIA.items():
        target = TierTarget.objects.create(
            tenant=tenant, version=version, tier=tiers[rank], counted_minimum=minimum
        )
        for kind, threshold, required, code in criteria:
            if code and code not in certs:
                continue
            if kind in (Kind.WON_REVENUE, Kind.APPROVED):
                threshold = str((Decimal(threshold) * min(scale, Decimal(1))).quantize(Decimal(1)))
            TierCriterion.objects.create(
                tenant=tenant,
                target=target,
                kind=kind,
                threshold=Decimal(threshold),
                required=required,
                certification=certs.get(code) if code else None,
            )
    return version

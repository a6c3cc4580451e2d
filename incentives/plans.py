"""Plan versions: drafting, publishing, and the next version."""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from prm.tenancy.models import Membership
from prm.tenancy.services import audit

from .ledger import IncentiveError
from .models import Bracket, LedgerEntry, Plan, PlanVersion

Status = PlanVersion.Status


def next_number(plan: Plan) -> int:
    return (PlanVersion.objects.filter(plan=plan).aggregate(n=Max("number"))["n"] or 0) + 1


def has_entries(version: PlanVersion) -> bool:
    return LedgerEntry.objects.filter(plan_version=version).exists()


def publish(
    version: PlanVersion, *, by: Membership | None, now: datetime | None = None
) -> PlanVersion:
    """Make a draft the plan's rule from its effective date on. The version
    in force before ends the day before; it must not have paid on deals
    closed on or after that day (those entries would lose their rule)."""
    now = now or timezone.now()
    with transaction.atomic():
        version = PlanVersion.objects.select_for_update().get(pk=version.pk)
        if version.status != Status.DRAFT:
            raise IncentiveError("Only a draft can be published.")
        version.full_clean()
        if version.is_bracketed and not version.brackets.exists():
            raise IncentiveError("Add at least one bracket before publishing.", "brackets")
        later = PlanVersion.objects.filter(
            plan=version.plan, status=Status.PUBLISHED, effective_from__gte=version.effective_from
        ).first()
        if later is not None:
            raise IncentiveError(
                f"Version {later.number} already takes effect on {later.effective_from}; "
                "a new version must take effect after it.",
                "effective_from",
            )
        previous = (
            PlanVersion.objects.select_for_update()
            .filter(plan=version.plan, status=Status.PUBLISHED)
            .order_by("-effective_from")
            .first()
        )
        if previous is not None:
            last_paid = LedgerEntry.objects.filter(plan_version=previous).aggregate(
                d=Max("effective_date")
            )["d"]
            if last_paid is not None and last_paid >= version.effective_from:
                raise IncentiveError(
                    f"Version {previous.number} has already paid on deals closed on "
                    f"{last_paid}; the new version must take effect after that date.",
                    "effective_from",
                )
            end = version.effective_from - timedelta(days=1)
            if previous.effective_to is None or previous.effective_to > end:
                previous.effective_to = end
                previous.save(update_fields=["effective_to"])
        version.status = Status.PUBLISHED
        version.published_at = now
        version.published_by = by.user if by else None
        version.save(update_fields=["status", "published_at", "published_by"])
        audit(
            version.tenant,
            by=by.user if by else None,
            action="incentives.version_published",
            obj=version,
            data={"effective_from": str(version.effective_from)},
            now=now,
        )
    return version


def new_draft(version: PlanVersion, *, by: Membership | None, effective_from) -> PlanVersion:
    """A draft copy of ``version`` (rule, brackets, eligibility) taking
    effect on ``effective_from``: how a rule that has paid is changed."""
    with transaction.atomic():
        copy = PlanVersion.objects.get(pk=version.pk)
        brackets = list(version.brackets.all())
        tiers, regions = list(version.tiers.all()), list(version.regions.all())
        products = list(version.product_lines.all())
        copy.pk = None
        copy._state.adding = True
        copy.number = next_number(version.plan)
        copy.status = Status.DRAFT
        copy.effective_from = effective_from
        copy.effective_to = None
        copy.published_at = None
        copy.published_by = None
        copy.created_by = by.user if by else None
        copy.created_at = timezone.now()
        copy.save()
        copy.tiers.set(tiers)
        copy.regions.set(regions)
        copy.product_lines.set(products)
        Bracket.objects.bulk_create(
            Bracket(tenant=copy.tenant, version=copy, lower=b.lower, rate_percent=b.rate_percent)
            for b in brackets
        )
    return copy

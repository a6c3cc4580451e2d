"""Plan versions: saving a draft, publishing, and the next version.

The admin's version form calls ``save_version``; its many-to-many fields
and brackets are saved by the admin after it, in the same transaction. A
new version's form and the "new version" form carry a token: sent twice,
the second is refused by the audit entry's unique once-key
(``prm.tenancy.services.once``) and ``AlreadyDone`` names the first's version.
"""

from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from prm.tenancy.models import Membership
from prm.tenancy.services import audit, once

from .ledger import IncentiveError
from .models import Bracket, LedgerEntry, Plan, PlanVersion

Status = PlanVersion.Status
# The fields of a version that make its rule: only a draft's may change.
RULE_FIELDS = frozenset(
    {
        "plan",
        "rate_type",
        "rate_percent",
        "fixed_amount",
        "quota",
        "accelerator",
        "cap_per_deal",
        "cap_per_period",
        "period",
        "tiers",
        "partner_types",
        "regions",
        "product_lines",
        "effective_from",
    }
)


def next_number(plan: Plan) -> int:
    return (PlanVersion.objects.filter(plan=plan).aggregate(n=Max("number"))["n"] or 0) + 1


def _once_key(purpose: str, token: str | None) -> str:
    return f"incentives.{purpose}:{token}" if token else ""


def save_version(
    version: PlanVersion, *, by: Membership, changes: dict[str, str], token: str | None = None
) -> PlanVersion:
    """Save a version as the admin's form left it (``changes``: the changed
    fields, as text, for the audit entry). A new version gets its plan's
    next number (the plan row locked, so two cannot take the same one); a
    version published since the form was opened keeps its rule (refused).
    A new version's form sent again (same ``token``) raises ``AlreadyDone``."""
    adding = version._state.adding
    with (
        transaction.atomic(),
        once(version.tenant, _once_key("version-add", token) if adding else "") as key,
    ):
        if adding:
            # Numbers are per plan: two new versions of it wait for each other.
            Plan.objects.select_for_update().filter(pk=version.plan_id).first()
            version.number = next_number(version.plan)
            version.created_by = by.user
        else:
            current = PlanVersion.objects.select_for_update().get(pk=version.pk)
            if set(changes) & RULE_FIELDS and current.status != Status.DRAFT:
                raise IncentiveError(
                    f"Version {current.number} was published meanwhile; its rule can no longer "
                    "change and nothing was saved. Create a new version to change it."
                )
        version.save()
        audit(
            version.tenant,
            by=by.user,
            action="incentives.version_added" if adding else "incentives.version_changed",
            obj=version,
            data=changes,
            once_key=key,
        )
    return version


def delete_version(version: PlanVersion, *, by: Membership) -> None:
    with transaction.atomic():
        audit(version.tenant, by=by.user, action="incentives.version_deleted", obj=version)
        version.delete()


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


def new_draft(
    version: PlanVersion,
    *,
    by: Membership | None,
    effective_from: date,
    token: str | None = None,
) -> PlanVersion:
    """A draft copy of ``version`` (rule, brackets, eligibility) taking
    effect on ``effective_from``: how a rule that has paid is changed. The
    same form sent again (same ``token``) raises ``AlreadyDone``."""
    with transaction.atomic(), once(version.tenant, _once_key("new-version", token)) as key:
        # Numbers are per plan: two new versions of it wait for each other.
        Plan.objects.select_for_update().filter(pk=version.plan_id).first()
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
        audit(
            copy.tenant,
            by=by.user if by else None,
            action="incentives.version_copied",
            obj=copy,
            data={"from": str(version.pk), "effective_from": str(copy.effective_from)},
            once_key=key,
        )
    return copy

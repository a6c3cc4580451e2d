"""Conflict checks: does a registration claim a customer that another
partner's active registration, or the vendor's own pipeline, already has?

A match is the same normalized web domain or a customer name at least the
tenant's threshold similar (PostgreSQL pg_trgm trigram similarity on the
normalized name, served by a GIN index), on at least one shared product
line. Direct opportunities without product lines match on the customer
alone. Each match is stored with its score and the reasons."""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.postgres.search import TrigramSimilarity
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from .models import Conflict, DealRegistration, DealRegSettings, DirectOpportunity

ConflictState = DealRegistration.ConflictState


def _set_threshold(threshold: Decimal) -> None:
    # The % operator (and so the GIN index) uses this session setting; local
    # to the transaction.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pg_trgm.similarity_threshold', %s, true)", [str(threshold)]
        )


def _score(same_domain: bool, similarity: float) -> Decimal:
    match = 1.0 if same_domain else similarity
    return Decimal(str(match)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def _reasons(same_domain: bool, similarity: float, shared: list[str], threshold: Decimal):
    reasons = []
    if same_domain:
        reasons.append("same domain")
    if similarity >= float(threshold):
        reasons.append(f"name {similarity:.2f} similar")
    reasons += [f"shared product: {name}" for name in shared]
    return reasons


def candidate_registrations(registration: DealRegistration, threshold: Decimal):
    name, domain = registration.customer_name_normalized, registration.customer_domain
    match = Q(customer_name_normalized__trigram_similar=name)
    if domain:
        match |= Q(customer_domain=domain)
    return (
        DealRegistration.objects.filter(status__in=DealRegistration.ACTIVE)
        .exclude(partner_id=registration.partner_id)
        .exclude(pk=registration.pk)
        .filter(match)
        .annotate(similarity=TrigramSimilarity("customer_name_normalized", name))
        .values("id", "similarity", "customer_domain", "submitted_at", "status")
    )


def candidate_opportunities(registration: DealRegistration, threshold: Decimal):
    name, domain = registration.customer_name_normalized, registration.customer_domain
    match = Q(customer_name_normalized__trigram_similar=name)
    if domain:
        match |= Q(customer_domain=domain)
    return (
        DirectOpportunity.objects.filter(stage__in=DirectOpportunity.OPEN_STAGES)
        .filter(match)
        .annotate(similarity=TrigramSimilarity("customer_name_normalized", name))
        .values("id", "similarity", "customer_domain")
    )


def _product_names(model, ids) -> dict:
    """{object id: {product line id: name}} for the given ids."""
    through = model.product_lines.through
    owner = f"{model._meta.model_name}_id"
    result: dict = {}
    rows = through.objects.filter(**{f"{owner}__in": ids}).values_list(
        owner, "productline_id", "productline__name"
    )
    for owner_id, product_id, product_name in rows:
        result.setdefault(owner_id, {})[product_id] = product_name
    return result


def find_conflicts(
    registration: DealRegistration, *, now: datetime | None = None
) -> list[Conflict]:
    """Recompute and store the conflicts of ``registration``; mark it, and
    the registrations it conflicts with, as under conflict review."""
    now = now or timezone.now()
    settings_row = DealRegSettings.for_tenant(registration.tenant)
    threshold = settings_row.name_similarity_threshold
    own_products = dict(registration.product_lines.values_list("id", "name"))
    found: list[Conflict] = []
    with transaction.atomic():
        _set_threshold(threshold)
        others = list(candidate_registrations(registration, threshold))
        other_products = _product_names(DealRegistration, [o["id"] for o in others])
        for other in others:
            shared = sorted(
                name
                for pid, name in own_products.items()
                if pid in other_products.get(other["id"], {})
            )
            if not shared:
                continue
            same_domain = bool(registration.customer_domain) and (
                other["customer_domain"] == registration.customer_domain
            )
            first = other["submitted_at"] is not None and (
                registration.submitted_at is None
                or other["submitted_at"] < registration.submitted_at
            )
            found.append(
                Conflict(
                    tenant_id=registration.tenant_id,
                    registration=registration,
                    other_registration_id=other["id"],
                    score=_score(same_domain, other["similarity"]),
                    reasons=_reasons(same_domain, other["similarity"], shared, threshold),
                    other_filed_first=first or other["status"] == DealRegistration.Status.APPROVED,
                    found_at=now,
                )
            )
        opportunities = list(candidate_opportunities(registration, threshold))
        opp_products = _product_names(DirectOpportunity, [o["id"] for o in opportunities])
        for opp in opportunities:
            theirs = opp_products.get(opp["id"], {})
            shared = sorted(name for pid, name in own_products.items() if pid in theirs)
            if theirs and not shared:
                continue
            same_domain = bool(registration.customer_domain) and (
                opp["customer_domain"] == registration.customer_domain
            )
            found.append(
                Conflict(
                    tenant_id=registration.tenant_id,
                    registration=registration,
                    direct_opportunity_id=opp["id"],
                    score=_score(same_domain, opp["similarity"]),
                    reasons=[
                        "direct opportunity",
                        *_reasons(same_domain, opp["similarity"], shared, threshold),
                    ],
                    other_filed_first=True,
                    found_at=now,
                )
            )
        Conflict.objects.filter(registration=registration).delete()
        Conflict.objects.bulk_create(found)
        other_ids = [c.other_registration_id for c in found if c.other_registration_id]
        if other_ids:
            DealRegistration.objects.filter(pk__in=other_ids).update(
                conflict_state=ConflictState.CONFLICT
            )
        has_any = bool(found) or Conflict.objects.filter(other_registration=registration).exists()
        state = ConflictState.CONFLICT if has_any else ConflictState.CLEAR
        if registration.conflict_state != state:
            registration.conflict_state = state
            DealRegistration.objects.filter(pk=registration.pk).update(conflict_state=state)
    return found


def conflicts_of(registration: DealRegistration) -> list[dict]:
    """Both sides of the stored conflicts, oldest filing first, for the
    approver: [{"conflict", "other" (registration or None), "opportunity"}]."""
    rows = []
    for conflict in Conflict.objects.filter(registration=registration).select_related(
        "other_registration__partner", "direct_opportunity"
    ):
        rows.append(
            {
                "conflict": conflict,
                "other": conflict.other_registration,
                "opportunity": conflict.direct_opportunity,
            }
        )
    for conflict in Conflict.objects.filter(other_registration=registration).select_related(
        "registration__partner"
    ):
        rows.append({"conflict": conflict, "other": conflict.registration, "opportunity": None})

    def filed(row):
        if row["opportunity"] is not None:
            return (0, timezone.now())
        other = row["other"]
        return (1, other.submitted_at or other.created_at)

    return sorted(rows, key=filed)

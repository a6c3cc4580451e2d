"""The agreements' card on the staff home page (ops, who keep the
agreements): partners held back by an agreement and versions in force
that expire within 60 days, each count opening the list of exactly those
(one query for both)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Count as Tally
from django.db.models import IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse

from prm.tenancy.declarations import Card, Count
from prm.tenancy.models import Tenant
from prm.tenancy.text import plural

from . import agreements

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from prm.tenancy.models import Membership

EXPIRING_DAYS = 60
PERM = "onboarding.change_agreementversion"


def _count(rows: QuerySet) -> Coalesce:
    counted = rows.order_by().values("tenant_id").annotate(n=Tally("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def agreement_counts(membership: Membership) -> list[Count]:
    tenant = membership.tenant
    today = tenant.local_today()
    # Partners in the program (a prospect's people, if any, are held too,
    # but ops have not admitted it yet).
    held_rows = agreements.held_partners(today).filter(
        tenant_id=OuterRef("pk"), status__in=agreements.IN_PROGRAM
    )
    expiring_rows = agreements.expiring_versions(today, EXPIRING_DAYS).filter(
        tenant_id=OuterRef("pk")
    )
    figures = (
        Tenant.objects.filter(pk=tenant.pk)
        .annotate(held=_count(held_rows), expiring=_count(expiring_rows))
        .values("held", "expiring")
        .get()
    )
    counts = []
    if figures["held"]:
        counts.append(
            Count(
                f"{plural(figures['held'], 'partner')} held back by an agreement not accepted",
                # The report's partners in the program, as counted here.
                reverse("tenant_admin:onboarding_acceptance_report"),
                urgent=True,
            )
        )
    if figures["expiring"]:
        counts.append(
            Count(
                f"{plural(figures['expiring'], 'agreement version')} expiring within "
                f"{EXPIRING_DAYS} days",
                reverse("tenant_admin:onboarding_agreementversion_changelist")
                + f"?expiring={EXPIRING_DAYS}",
            )
        )
    return counts


CARDS = (
    Card(
        key="onboarding.agreements",
        title="Agreements",
        url_name="tenant_admin:onboarding_agreement_changelist",
        perms=(PERM,),
        description="What partners must accept, and who has.",
        counts=agreement_counts,
        empty="Every partner has accepted what it must; nothing expires soon.",
        order=60,
    ),
    # The partner's way to the agreements it accepted (and their receipts)
    # when nothing holds it back; no query.
    Card(
        key="onboarding.our_agreements",
        title="Agreements",
        url_name="onboarding:agreements",
        perms=("portal.onboarding",),
        description="The agreements your organisation accepted, with receipts, "
        "and any new version to accept.",
        order=900,
    ),
)

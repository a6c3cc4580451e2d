"""The same invoice claimed twice in the tenant.

Two claims are for the same invoice when they name the same supplier and
invoice number, or the same supplier, actual cost and invoice date (an
invoice number typed differently, or left out). Suppliers and numbers are
compared normalized (``normalize_supplier``, ``normalize_invoice_number``,
stored on the claim by the claim service; the ``mdf_claim_invoice`` index
answers the first test). Nothing is refused: the reviewer of either claim
sees the other's code in ``duplicate_of`` and decides."""

import re

from django.db import transaction
from django.db.models import Q

from partners.normalize import normalize_name

from .models import Claim

# Claims that count: submitted, waiting, decided. A draft is not yet a
# claim of the invoice and a withdrawn one no longer is.
IGNORED = (Claim.Status.DRAFT, Claim.Status.WITHDRAWN)
SUPPLIER_MAX = Claim._meta.get_field("supplier_normalized").max_length or 200
NUMBER_MAX = Claim._meta.get_field("invoice_number_normalized").max_length or 60
_NOT_ALNUM = re.compile(r"[\W_]+")


def normalize_supplier(supplier: str) -> str:
    """``"ACME Events, Inc."`` and ``"Acme events"`` alike: case-folded,
    accents, punctuation and trailing legal forms (Inc, Ltd, GmbH, LLC, ...)
    dropped, spaces collapsed, as partner and customer names are compared
    (``partners.normalize.normalize_name``)."""
    return normalize_name(supplier or "")[:SUPPLIER_MAX]


def normalize_invoice_number(number: str) -> str:
    """``"INV-2024/0042"`` and ``"inv 2024 0042"`` alike: letters and digits
    only, case-folded."""
    return _NOT_ALNUM.sub("", (number or "").casefold())[:NUMBER_MAX]


def duplicate_claims(claim: Claim) -> list[Claim]:
    """Other claims of the tenant (any partner) for the same invoice as
    ``claim``, oldest first; drafts and withdrawn claims do not count."""
    supplier = claim.supplier_normalized or normalize_supplier(claim.supplier)
    number = claim.invoice_number_normalized or normalize_invoice_number(claim.invoice_number)
    if not supplier:
        return []
    same = Q(total_cost=claim.total_cost, invoice_date=claim.invoice_date)
    if number:
        same |= Q(invoice_number_normalized=number)
    found = (
        Claim.objects.filter(same, tenant_id=claim.tenant_id, supplier_normalized=supplier)
        .exclude(status__in=IGNORED)
        .exclude(pk=claim.pk)
        .select_related("partner")
        .order_by("created_at", "code")
    )
    return list(found)


def flag_duplicates(claim: Claim) -> list[str]:
    """Find the claims for the same invoice as ``claim`` and mark the pairs
    both ways: ``claim.duplicate_of`` becomes their codes, each of them
    gains ``claim``'s code, and a claim that named ``claim`` but no longer
    matches it (its invoice was corrected, or ``claim`` was withdrawn)
    drops it. Returns ``claim``'s list. Call it after the claim's invoice,
    cost or status changed."""
    others = [] if claim.status in IGNORED else duplicate_claims(claim)
    codes = [other.code for other in others]
    matching = {other.pk for other in others}
    with transaction.atomic():
        Claim.objects.filter(pk=claim.pk).update(duplicate_of=codes)
        claim.duplicate_of = codes
        # Locked in a fixed order, so two claims flagged at once wait for
        # each other instead of one overwriting the other's code.
        touched = (
            Claim.objects.select_for_update()
            .filter(Q(pk__in=matching) | Q(duplicate_of__contains=[claim.code]))
            .exclude(pk=claim.pk)
            .order_by("pk")
        )
        for other in touched:
            kept = [code for code in other.duplicate_of if code != claim.code]
            if other.pk in matching:
                kept.append(claim.code)
            if kept != other.duplicate_of:
                Claim.objects.filter(pk=other.pk).update(duplicate_of=kept)
    return codes

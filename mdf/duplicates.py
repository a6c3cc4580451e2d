"""Duplicate invoices (interim: the uploads helper replaces this module)."""

import re

from django.db.models import Q


def normalize_supplier(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", value.casefold()).strip()


def normalize_invoice_number(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", value.casefold())


def flag_duplicates(claim) -> list[str]:  # type: ignore[no-untyped-def]
    from .models import Claim

    others = (
        Claim.objects.filter(
            Q(supplier_normalized=claim.supplier_normalized)
            & (
                Q(invoice_number_normalized=claim.invoice_number_normalized)
                | Q(total_cost=claim.total_cost, invoice_date=claim.invoice_date)
            )
        )
        .exclude(pk=claim.pk)
        .exclude(status__in=["draft", "withdrawn"])
    )
    codes = sorted(others.values_list("code", flat=True))
    Claim.objects.filter(pk=claim.pk).update(duplicate_of=codes)
    claim.duplicate_of = codes
    return codes

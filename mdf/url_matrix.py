"""MDF's part of the URL-matrix test (tests/test_url_matrix.py), loaded by
the tests only (``PRMApp.url_matrix``): the proof download, of a submitted
claim of the world's partner (which its members and every staff role may
see). Built through the ORM until the claim services exist; each factory
returns the same object when called again for the same tenant."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile

from prm.tenancy.roles import ALL_ROLES, Role

from .models import Allocation, Budget, Claim, FundRequest, FundType, ProofFile

PDF_BYTES = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _claim(world: Any) -> Claim:
    tenant, partner = world.tenant, world.partner
    user = world[Role.PARTNER_USER].user
    existing = Claim.objects.filter(partner=partner, invoice_number="MATRIX-1").first()
    if existing is not None:
        return existing
    fund_type, _ = FundType.objects.get_or_create(
        tenant=tenant,
        name="Matrix MDF",
        defaults={"reimbursement_percent": Decimal(50), "activity_types": ["event"]},
    )
    today = date.today()
    budget = Budget.objects.create(
        tenant=tenant,
        fund_type=fund_type,
        span=Budget.Span.YEAR,
        fiscal_year=today.year,
        starts_on=date(today.year, 1, 1),
        ends_on=date(today.year, 12, 31),
        amount=Decimal(1000),
        allocated=Decimal(1000),
        currency=tenant.base_currency,
    )
    allocation = Allocation.objects.create(
        tenant=tenant, budget=budget, partner=partner, amount=Decimal(1000), reserved=Decimal(500)
    )
    request = FundRequest.objects.create(
        tenant=tenant,
        partner=partner,
        allocation=allocation,
        fund_type=fund_type,
        period_start=budget.starts_on,
        activity_type="event",
        title="Matrix activity",
        starts_on=today - timedelta(days=10),
        ends_on=today - timedelta(days=9),
        description="Matrix",
        currency=tenant.base_currency,
        total_cost=Decimal(1000),
        reimbursement_percent=Decimal(50),
        requested_amount=Decimal(500),
        approved_amount=Decimal(500),
        reserved=Decimal(500),
        status=FundRequest.Status.APPROVED,
        submitted_by=user,
    )
    return Claim.objects.create(
        tenant=tenant,
        request=request,
        partner=partner,
        status=Claim.Status.SUBMITTED,
        invoice_number="MATRIX-1",
        invoice_date=today - timedelta(days=5),
        supplier="Matrix Supplier",
        supplier_normalized="matrix supplier",
        invoice_number_normalized="matrix1",
        total_cost=Decimal(1000),
        claimed_amount=Decimal(500),
        submitted_by=user,
    )


def proof(world: Any) -> list[Any]:
    """A PDF proof of the world partner's submitted claim: [code, id]."""
    with world.scope():
        claim = _claim(world)
        found = claim.proofs.first()
        if found is None:
            found = ProofFile(
                tenant=world.tenant,
                claim=claim,
                original_name="invoice.pdf",
                content_type="application/pdf",
                size=len(PDF_BYTES),
                sha256="0" * 64,
                uploaded_by=claim.submitted_by,
            )
            found.file.save("invoice.pdf", ContentFile(PDF_BYTES), save=True)
        return [claim.code, found.pk]


PORTAL_ROUTES: dict = {
    "mdf:proof": {"allowed": ALL_ROLES, "args": proof},
}


# The admin's part (mdf/admin_matrix.py).
from .admin_matrix import ADMIN_NOBODY, ADMIN_OBJECTS, CUSTOM_ADMIN_VIEWS  # noqa: E402, F401

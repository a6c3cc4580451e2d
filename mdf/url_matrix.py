"""MDF's part of the URL-matrix test (tests/test_url_matrix.py), loaded by
the tests only (``PRMApp.url_matrix``): the proof download, of a submitted
claim of the world's partner (which its members and every staff role may
see), built through the ORM; and the portal's "Funds" pages, on an approved
request (claimable today) with a draft claim, built through the services.
Each factory returns the same objects when called again for the same
tenant (the matrix calls it for every route and role)."""

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


PARTNERS = {Role.PARTNER_ADMIN, Role.PARTNER_USER}
TITLE = "Matrix webinar"


def _allocation(world: Any) -> Any:
    from mdf import funds, periods
    from mdf.models import ActivityType, Allocation, Document, FundType

    found = Allocation.objects.filter(
        partner=world.partner, budget__fund_type__name="Matrix fund"
    ).first()
    if found is not None:
        return found
    fund = FundType.objects.create(
        tenant=world.tenant,
        name="Matrix fund",
        reimbursement_percent=Decimal(50),
        request_lead_days=0,
        activity_types=[ActivityType.WEBINAR],
        required_documents=[Document.INVOICE],
    )
    today = world.tenant.local_today()
    year, number = periods.period_of(world.tenant, "year", today)
    budget = funds.create_budget(
        world.tenant,
        by=world[Role.OPS_ADMIN],
        fund_type=fund,
        span="year",
        fiscal_year=year,
        number=number,
        amount=Decimal(100000),
    )
    return funds.allocate(budget, world.partner, Decimal(10000), by=world[Role.OPS_ADMIN])


def _request(world: Any) -> Any:
    """An approved request of the world's partner, whose one-day activity
    is today (so it can be claimed), with a draft claim."""
    from mdf import claims, requests
    from mdf.models import ActivityType, Claim, FundRequest

    found = FundRequest.objects.filter(title=TITLE).first()
    if found is not None:
        return found
    allocation = _allocation(world)
    today = world.tenant.local_today()
    start = today  # in the budget's period, which holds today
    data = requests.RequestData(
        allocation=allocation,
        activity_type=ActivityType.WEBINAR,
        title=TITLE,
        starts_on=start,
        ends_on=start,
        description="Matrix",
        requested_amount=Decimal(100),
        cost_lines=[("Platform", Decimal(200))],
    )
    member = world[Role.PARTNER_USER]
    request = requests.save_request(data, by=member)
    # Approved without the lead time (0 days) and claimable once it ended.
    request = requests.submit_request(request, by=member)
    request = requests.approve_request(request, by=world[Role.CHANNEL_MANAGER])
    if not Claim.objects.filter(request=request).exists():
        claims.save_claim(
            request,
            claims.ClaimData(
                invoice_number="MATRIX-PORTAL-1",
                invoice_date=start,
                supplier="Matrix supplier",
                claimed_amount=Decimal(100),
                lines=[("Platform", Decimal(200))],
            ),
            by=member,
        )
    return request


def request_code(world: Any) -> list[str]:
    with world.scope():
        return [_request(world).code]


def claim_code(world: Any) -> list[str]:
    from mdf.models import Claim

    with world.scope():
        return [Claim.objects.get(request=_request(world)).code]


PORTAL_ROUTES: dict[str, dict[str, Any]] = {
    "mdf:proof": {"allowed": ALL_ROLES, "args": proof},
    "mdf:funds": {"allowed": PARTNERS},
    "mdf:requests": {"allowed": PARTNERS},
    "mdf:request_new": {"allowed": PARTNERS},
    "mdf:request": {"allowed": PARTNERS, "args": request_code},
    "mdf:request_edit": {"allowed": PARTNERS, "args": request_code},
    "mdf:request_submit": {"allowed": PARTNERS, "method": "post", "args": request_code},
    "mdf:request_message": {"allowed": PARTNERS, "method": "post", "args": request_code},
    "mdf:request_answer": {"allowed": PARTNERS, "method": "post", "args": request_code},
    "mdf:request_cancel": {"allowed": PARTNERS, "args": request_code},
    "mdf:request_extension": {"allowed": PARTNERS, "method": "post", "args": request_code},
    "mdf:request_leads": {"allowed": PARTNERS, "args": request_code},
    "mdf:claim_new": {"allowed": PARTNERS, "args": request_code},
    "mdf:claim": {"allowed": PARTNERS, "args": claim_code},
    "mdf:claim_edit": {"allowed": PARTNERS, "args": claim_code},
    "mdf:claim_submit": {"allowed": PARTNERS, "method": "post", "args": claim_code},
    "mdf:claim_answer": {"allowed": PARTNERS, "method": "post", "args": claim_code},
    "mdf:claim_message": {"allowed": PARTNERS, "method": "post", "args": claim_code},
    "mdf:claim_withdraw": {"allowed": PARTNERS, "args": claim_code},
}


def _in_scope(factory: Any) -> Any:
    def build(world: Any) -> Any:
        with world.scope():
            return factory(world)

    return build


# One object of a tenant per API route (tests/api/test_api_matrix.py), by
# the route's basename: the approved request (with a draft claim), the
# submitted claim (which staff see too) and the portal's allocation.
API_OBJECTS: dict = {
    "mdf-request": _in_scope(_request),
    "mdf-claim": _in_scope(_claim),
    "mdf-allocation": _in_scope(_allocation),
}

# The admin's part (mdf/admin_matrix.py).
from .admin_matrix import ADMIN_NOBODY, ADMIN_OBJECTS, CUSTOM_ADMIN_VIEWS  # noqa: E402, F401

"""MDF's portal part of the URL-matrix test (tests/test_url_matrix.py),
loaded by the tests only (``PRMApp.url_matrix``). Each factory builds its
objects once per tenant (the matrix calls it for every route and role).
The admin models' objects (ADMIN_OBJECTS) are the admin's part."""

from decimal import Decimal
from typing import Any

from prm.tenancy.roles import Role

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
                invoice_number="MATRIX-1",
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
    "mdf:claim_new": {"allowed": PARTNERS, "args": request_code},
    "mdf:claim": {"allowed": PARTNERS, "args": claim_code},
    "mdf:claim_edit": {"allowed": PARTNERS, "args": claim_code},
    "mdf:claim_submit": {"allowed": PARTNERS, "method": "post", "args": claim_code},
    "mdf:claim_answer": {"allowed": PARTNERS, "method": "post", "args": claim_code},
    "mdf:claim_message": {"allowed": PARTNERS, "method": "post", "args": claim_code},
    "mdf:claim_withdraw": {"allowed": PARTNERS, "args": claim_code},
}


def _request_obj(world: Any) -> Any:
    with world.scope():
        return _request(world)


def _claim_obj(world: Any) -> Any:
    from mdf.models import Claim

    with world.scope():
        return Claim.objects.get(request=_request(world))


# The models the interim admin registers; the admin's part adds its others.
ADMIN_OBJECTS = {"mdf.fundrequest": _request_obj, "mdf.claim": _claim_obj}

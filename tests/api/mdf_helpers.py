"""MDF data for the API tests, through the services: an allocation whose
budget holds today, of a fund that takes requests for today's activities
(so they can be claimed at once), and requests in each state."""

import itertools
from decimal import Decimal

from mdf import funds, periods, requests
from mdf.models import ActivityType, Allocation, Document, FundType
from prm.tenancy.roles import Role

_names = itertools.count(1)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def allocation(world, amount="10000", *, partner=None, **fund_fields) -> Allocation:
    fields = {
        "reimbursement_percent": Decimal("50"),
        "claim_window_days": 60,
        "request_lead_days": 0,
        "activity_types": [ActivityType.WEBINAR, ActivityType.EVENT],
        "required_documents": [Document.INVOICE],
        **fund_fields,
    }
    fund = FundType.objects.create(tenant=world.tenant, name=f"API fund {next(_names)}", **fields)
    year, number = periods.period_of(world.tenant, "year", world.tenant.local_today())
    budget = funds.create_budget(
        world.tenant,
        by=world[Role.OPS_ADMIN],
        fund_type=fund,
        span="year",
        fiscal_year=year,
        number=number,
        amount=Decimal("100000"),
    )
    return funds.allocate(
        budget, partner or world.partner, Decimal(amount), by=world[Role.OPS_ADMIN]
    )


def request_body(alloc: Allocation, **changes) -> dict:
    """A fund request as the API takes it: a webinar today, 4000 of cost,
    2000 asked for."""
    today = alloc.tenant.local_today().isoformat()
    return {
        "allocation": str(alloc.pk),
        "activity_type": "webinar",
        "title": f"Webinar {next(_names)}",
        "starts_on": today,
        "ends_on": today,
        "description": "A webinar on the new release for 200 IT managers.",
        "audience": "IT managers",
        "expected_leads": 40,
        "expected_pipeline": "150000.00",
        "requested_amount": "2000.00",
        "cost_lines": [
            {"description": "Platform", "amount": "1500.00"},
            {"description": "Promotion", "amount": "2500"},
        ],
        **changes,
    }


def submitted(world, alloc: Allocation, *, member=None, amount="2000"):
    today = alloc.tenant.local_today()
    data = requests.RequestData(
        allocation=alloc,
        activity_type=ActivityType.WEBINAR,
        title=f"Webinar {next(_names)}",
        starts_on=today,
        ends_on=today,
        description="A webinar.",
        requested_amount=Decimal(amount),
        cost_lines=[("Platform and promotion", Decimal("4000"))],
    )
    return requests.save_request(data, by=member or world[Role.PARTNER_USER], submit=True)


def approved(world, alloc: Allocation, **kwargs):
    return requests.approve_request(
        submitted(world, alloc, **kwargs), by=world[Role.CHANNEL_MANAGER]
    )

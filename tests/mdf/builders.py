"""Building MDF data through the services, for tests: a fund type, a
budget, an allocation, a request in each state, a claim with a PDF."""

import datetime as dt
import uuid
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile

from mdf import claims, funds, periods, requests
from mdf.models import ActivityType, Document, FundType
from prm.tenancy.roles import Role

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def pdf(name: str = "invoice.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def fund_type(world, name="MDF", **extra) -> FundType:
    values = {
        "reimbursement_percent": Decimal("50"),
        "claim_window_days": 60,
        "request_lead_days": 14,
        "activity_types": [a.value for a in ActivityType],
        "required_documents": [Document.INVOICE],
        **extra,
    }
    return FundType.objects.create(tenant=world.tenant, name=name, **values)


def budget(world, fund, amount=Decimal("100000"), *, today=None, **extra):
    # The fiscal year holding a day two months ahead: activities 20 days
    # from now always fall inside it.
    today = today or world.tenant.local_today()
    year, number = periods.period_of(world.tenant, "year", today + dt.timedelta(days=60))
    return funds.create_budget(
        world.tenant,
        by=world[Role.OPS_ADMIN],
        fund_type=fund,
        span="year",
        fiscal_year=year,
        number=number,
        amount=amount,
        **extra,
    )


def allocation(world, amount=Decimal("10000"), *, partner=None, fund=None, bud=None):
    fund = fund or fund_type(world)
    bud = bud or budget(world, fund)
    return funds.allocate(bud, partner or world.partner, amount, by=world[Role.OPS_ADMIN])


def request_data(alloc, *, amount=Decimal("2000"), title=None, start=None, cost=Decimal("4000")):
    today = alloc.tenant.local_today()
    start = start or max(today + dt.timedelta(days=20), alloc.budget.starts_on)
    return requests.RequestData(
        allocation=alloc,
        activity_type=ActivityType.WEBINAR,
        title=title or f"Webinar {uuid.uuid4().hex[:6]}",
        starts_on=start,
        ends_on=start,
        description="A webinar on the new release for 200 IT managers.",
        requested_amount=amount,
        cost_lines=[("Platform and promotion", cost)],
        audience="IT managers",
        expected_reach=200,
        expected_leads=40,
        expected_pipeline=Decimal("150000"),
    )


def submitted(world, alloc, **kw):
    return requests.save_request(
        request_data(alloc, **kw), by=world[Role.PARTNER_USER], submit=True
    )


def approved(world, alloc, **kw):
    req = submitted(world, alloc, **kw)
    return requests.approve_request(req, by=world[Role.CHANNEL_MANAGER])


def claim_data(
    *,
    cost=Decimal("4000"),
    amount=Decimal("2000"),
    supplier="Webinar Co",
    number=None,
    files=None,
    invoice_date=None,
):
    return claims.ClaimData(
        invoice_number=number or f"INV-{uuid.uuid4().hex[:6]}",
        invoice_date=invoice_date or dt.date.today(),
        supplier=supplier,
        claimed_amount=amount,
        lines=[("Platform and promotion", cost)],
        leads=35,
        attendees=180,
        opportunities=6,
        results="180 attended, 35 qualified leads.",
        files=files if files is not None else [(Document.INVOICE, pdf())],
    )


def after(req, days=1):
    """A moment ``days`` after the activity ended (noon UTC)."""
    day = req.ends_on + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def submitted_claim(world, req, *, now=None, **kw):
    now = now or after(req)
    kw.setdefault("invoice_date", now.date())
    return claims.save_claim(
        req, claim_data(**kw), by=world[Role.PARTNER_USER], submit=True, now=now
    )

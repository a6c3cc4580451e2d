"""The MDF admin's part of the URL-matrix test (tests/test_url_matrix.py),
loaded by the tests only: one object of a tenant per admin model, built
through the services, and the admin's own restrictions. The lead merges
these constants into ``mdf/url_matrix.py`` (``PRMApp.url_matrix``). Each
factory returns the same object when called again for the same tenant."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from prm.tenancy.roles import Role

from . import claims, funds, periods, requests
from .models import (
    ActivityType,
    Allocation,
    Budget,
    Claim,
    Document,
    FundRequest,
    FundType,
    MdfSettings,
)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def fund_type(world: Any) -> FundType:
    with world.scope():
        found, _ = FundType.objects.get_or_create(
            tenant=world.tenant,
            name="Matrix admin MDF",
            defaults={
                "reimbursement_percent": Decimal(50),
                "activity_types": [a.value for a in ActivityType],
                "required_documents": [Document.INVOICE],
            },
        )
        return found


def budget(world: Any) -> Budget:
    fund = fund_type(world)
    with world.scope():
        found = Budget.objects.filter(fund_type=fund).first()
        if found is not None:
            return found
        day = world.tenant.local_today() + timedelta(days=60)
        year, number = periods.period_of(world.tenant, "year", day)
        return funds.create_budget(
            world.tenant,
            by=world[Role.OPS_ADMIN],
            fund_type=fund,
            span="year",
            fiscal_year=year,
            number=number,
            amount=Decimal(100000),
        )


def allocation(world: Any) -> Allocation:
    source = budget(world)
    with world.scope():
        found = Allocation.objects.filter(budget=source, partner=world.partner).first()
        return found or funds.allocate(
            source, world.partner, Decimal(10000), by=world[Role.OPS_ADMIN]
        )


def fund_request(world: Any) -> FundRequest:
    source = allocation(world)
    with world.scope():
        found = FundRequest.objects.filter(allocation=source).first()
        if found is not None:
            return found
        start = max(world.tenant.local_today() + timedelta(days=20), source.budget.starts_on)
        data = requests.RequestData(
            allocation=source,
            activity_type=ActivityType.WEBINAR,
            title="Matrix webinar",
            starts_on=start,
            ends_on=start,
            description="Matrix",
            requested_amount=Decimal(1000),
            cost_lines=[("Platform", Decimal(2000))],
        )
        return requests.save_request(data, by=world[Role.PARTNER_USER], submit=True)


def claim(world: Any) -> Claim:
    source = fund_request(world)
    with world.scope():
        found = Claim.objects.filter(request=source).first()
        if found is not None:
            return found
        if source.status != FundRequest.Status.APPROVED:
            source = requests.approve_request(source, by=world[Role.OPS_ADMIN])
        moment = source.ends_on + timedelta(days=1)
        now = datetime.combine(moment, time(12), tzinfo=UTC)
        data = claims.ClaimData(
            invoice_number="MATRIX-ADMIN-1",
            invoice_date=moment,
            supplier="Matrix Supplier",
            claimed_amount=Decimal(1000),
            lines=[("Platform", Decimal(2000))],
            files=[(Document.INVOICE, SimpleUploadedFile("i.pdf", PDF, "application/pdf"))],
        )
        return claims.save_claim(source, data, by=world[Role.PARTNER_USER], submit=True, now=now)


def settings_row(world: Any) -> MdfSettings:
    with world.scope():
        return MdfSettings.for_tenant(world.tenant)


ADMIN_OBJECTS = {
    "mdf.fundtype": fund_type,
    "mdf.mdfsettings": settings_row,
    "mdf.budget": budget,
    "mdf.allocation": allocation,
    "mdf.fundrequest": fund_request,
    "mdf.claim": claim,
}
# Money and configuration in use are never deleted; the settings are one row.
ADMIN_NOBODY = {
    ("mdf.fundtype", "delete"),
    ("mdf.mdfsettings", "add"),
    ("mdf.mdfsettings", "delete"),
    ("mdf.budget", "delete"),
    ("mdf.allocation", "delete"),
}
CUSTOM_ADMIN_VIEWS = {
    "mdf_budget_rule": "mdf.add_allocation",
    "mdf_allocation_import": "mdf.import_allocation",
    "mdf_fundrequest_roi": "mdf.view_roi",
}

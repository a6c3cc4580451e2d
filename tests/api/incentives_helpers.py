"""Incentives data for the API tests, written through the services: ledger
entries, issued statements, payout runs; and webhook endpoints."""

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

from incentives import ledger, payouts, statements
from incentives.models import LedgerEntry, PayoutRun, Statement
from prm.tenancy.roles import Role
from prm.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

_keys = itertools.count(1)
OLD_MONTH = date(2025, 1, 1)
IN_OLD_MONTH = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def book(
    world,
    amount: str = "25.00",
    *,
    partner=None,
    kind: str = LedgerEntry.Kind.ADJUSTMENT,
    currency: str | None = None,
    fx_rate: str = "1",
    now: datetime | None = None,
    by=None,
) -> LedgerEntry:
    """An entry of ``partner`` (the world's by default), payable at once."""
    tenant = world.tenant
    today = tenant.local_today(now)
    return ledger.write(
        tenant,
        ledger.NewEntry(
            partner_id=(partner or world.partner).pk,
            kind=kind,
            amount=Decimal(amount),
            currency=currency or tenant.base_currency,
            fx_rate=Decimal(fx_rate),
            source=LedgerEntry.Source.MANUAL,
            effective_date=today,
            available_on=today,
            description=f"API test {kind} {amount}",
            idempotency_key=f"api-test:{next(_keys)}",
            created_via="tests.api",
            created_by=by,
        ),
        now=now,
    )


def old_statement(world, partner=None):
    """An issued statement of an old month with one entry of ``partner``."""
    book(world, "40.00", partner=partner, now=IN_OLD_MONTH)
    statements.issue_statements(world.tenant, OLD_MONTH)
    return Statement.objects.get(partner=partner or world.partner, period_start=OLD_MONTH)


def computed_run(world) -> PayoutRun:
    run = payouts.start_run(world.tenant, by=world[Role.FINANCE], cutoff=world.tenant.local_today())
    return payouts.compute_run(run)


def approved_run(world) -> PayoutRun:
    """A run approved by a second finance person, its payouts written."""
    run = payouts.approve(computed_run(world), by=world.second(Role.FINANCE))
    return payouts.write_payouts(run)


def endpoint(world, *events: str) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        tenant=world.tenant,
        url="https://hooks.example.com/prm",
        events=list(events),
        secret="whsec_test",
    )


def events_of(type: str) -> list[WebhookEvent]:
    return list(WebhookEvent.objects.filter(type=type).order_by("created_at", "id"))


def pending_deliveries(event: WebhookEvent) -> int:
    return WebhookDelivery.objects.filter(event=event, state=WebhookDelivery.State.PENDING).count()


def without_urls(data: dict) -> dict:
    """A representation without its links (a webhook's are on the tenant's
    primary host, the API's on the request's)."""
    return {k: v for k, v in data.items() if not k.endswith("_url") and k != "files"}

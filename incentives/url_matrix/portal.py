"""URL matrix entries of the incentives portal pages and the disputes and
statements admin (see __init__.py)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from incentives import disputes, ledger, statements
from incentives.models import Dispute, LedgerEntry, Statement
from prm.tenancy.roles import Role

PARTNER_ADMIN = {Role.PARTNER_ADMIN}
# An old month of the world's partner, with one entry and an issued statement.
OLD_MONTH = date(2025, 1, 1)


def _write(world: Any, key: str, now: datetime | None = None) -> LedgerEntry:
    """A manual adjustment of the world's partner (the same one again for
    the same key)."""
    today = world.tenant.local_today(now)
    return ledger.write(
        world.tenant,
        ledger.NewEntry(
            partner_id=world.partner.pk,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            amount=Decimal("25.00"),
            currency=world.tenant.base_currency,
            fx_rate=Decimal(1),
            source=LedgerEntry.Source.MANUAL,
            effective_date=today,
            available_on=today,
            description="Matrix adjustment",
            idempotency_key=key,
            created_via="tests",
        ),
        now=now,
    )


def entry(world: Any) -> LedgerEntry:
    with world.scope():
        return _write(world, "matrix:entry")


def dispute(world: Any) -> Dispute:
    """An open dispute of the world's partner (opened once)."""
    line = entry(world)
    with world.scope():
        existing = Dispute.objects.filter(entry=line).first()
        if existing is not None:
            return existing
        return disputes.open_dispute(
            line, by=world[Role.PARTNER_ADMIN], message="Matrix: this line looks wrong."
        )


def statement(world: Any) -> Statement:
    """The world's partner's issued statement for an old month."""
    with world.scope():
        existing = Statement.objects.filter(partner=world.partner).first()
        if existing is not None:
            return existing
        moment = timezone.make_aware(datetime(2025, 1, 15, 12, 0))
        _write(world, "matrix:statement", now=moment)
        statements.issue_statements(world.tenant, OLD_MONTH)
        return Statement.objects.get(partner=world.partner, period_start=OLD_MONTH)


PORTAL_ROUTES: dict = {
    "incentives:statements": {"allowed": PARTNER_ADMIN},
    "incentives:statement": {"allowed": PARTNER_ADMIN},
    "incentives:statement_csv": {"allowed": PARTNER_ADMIN},
    "incentives:statement_pdf": {"allowed": PARTNER_ADMIN},
    "incentives:dispute_new": {"allowed": PARTNER_ADMIN, "args": lambda w: [entry(w).pk]},
    "incentives:disputes": {"allowed": PARTNER_ADMIN},
    "incentives:dispute": {"allowed": PARTNER_ADMIN, "args": lambda w: [dispute(w).code]},
    "incentives:dispute_reply": {
        "allowed": PARTNER_ADMIN,
        "method": "post",
        "args": lambda w: [dispute(w).code],
    },
}
PORTAL_ADMIN_OBJECTS: dict = {
    "incentives.dispute": dispute,
    "incentives.statement": statement,
}
# Partners open disputes and finance closes them on the dispute's page;
# statements are issued by the period close. Nobody adds, edits or deletes
# either in the admin.
PORTAL_ADMIN_NOBODY: set = {
    ("incentives.dispute", "add"),
    ("incentives.dispute", "delete"),
    ("incentives.statement", "add"),
    ("incentives.statement", "change"),
    ("incentives.statement", "delete"),
}
PORTAL_CUSTOM_ADMIN_VIEWS: dict = {
    "incentives_statement_partner": "incentives.view_statement",
    "incentives_statement_export": "incentives.export_statement",
}

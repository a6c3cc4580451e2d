"""Backfill: write the missing accruals of won deals in bulk.

For a tenant's first plans, a plan published to cover past deals, or deals
imported outside the outcome workflow. Safe to repeat: an entry already
written is never written again (see ``incentives.bulk``)."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_scopes import scopes_disabled

from incentives import bulk
from incentives.models import DealAccrualState
from prm.tenancy.models import Tenant
from prm.tenancy.scoping import tenant_scope
from prm.tenancy.text import plural


class Command(BaseCommand):
    help = (
        "Accrue every won deal that has no entry yet for a published commission or "
        "SPIFF plan version, in bulk (all active tenants, or --tenant SLUG)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", metavar="SLUG", help="Only this tenant.")
        parser.add_argument(
            "--batch-size", type=int, default=bulk.DEFAULT_BATCH, help="Deals read per batch."
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=bulk.DEFAULT_WORKERS,
            help="Database connections writing the entries.",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        if opts["workers"] < 1:
            raise CommandError("--workers must be at least 1.")
        # Platform-level on purpose: the tenants to work on.
        with scopes_disabled():
            active = Tenant.objects.filter(is_active=True).order_by("slug")
            if opts["tenant"]:
                active = active.filter(slug=opts["tenant"])
            tenants = list(active)
        if opts["tenant"] and not tenants:
            raise CommandError(f"No active tenant with slug “{opts['tenant']}”.")
        for tenant in tenants:
            started = time.perf_counter()
            written = bulk.accrue_won_deals(
                tenant, batch_size=opts["batch_size"], workers=opts["workers"]
            )
            with tenant_scope(tenant):
                problems = DealAccrualState.objects.exclude(problem="").count()
            took = time.perf_counter() - started
            line = f"{tenant.slug}: {plural(written, 'entry', 'entries')} written ({took:.1f}s)"
            if problems:
                line += (
                    f"; {problems} won deals could not be accrued (e.g. no exchange rate "
                    "in force on the close date); the sweep retries them"
                )
            self.stdout.write(line)

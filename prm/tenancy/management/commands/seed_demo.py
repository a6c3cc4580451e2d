"""Demo data: two vendors with one login per role each, and every app's own
demo data (its declared ``PRMApp.demo`` step, in dependency order). Safe to
run again: what exists is left as it is."""

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from prm.tenancy import registry
from prm.tenancy.demo import DEMO_PASSWORD, ROLE_LOGINS, TENANTS, demo_user, tenant_context
from prm.tenancy.models import Tenant
from prm.tenancy.scoping import tenant_scope


class Command(BaseCommand):
    help = (
        "Create (or complete) the demo tenants acme and globex with their logins and a "
        "year of history."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="How much history to write, 1 for the full demo year (tests use less).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        steps = registry.demo_steps()
        logins: list[tuple[str, str, str]] = []
        with transaction.atomic():
            demo_user("admin@platform.example", "Platform Admin", superuser=True)
            platform_url = f"{settings.PRM_URL_SCHEME}://{settings.PRM_BASE_DOMAIN}"
            if settings.PRM_URL_PORT:
                platform_url += f":{settings.PRM_URL_PORT}"
            logins.append(("platform", "superuser", "admin@platform.example"))
            for spec in TENANTS:
                started = time.monotonic()
                tenant, _ = Tenant.objects.get_or_create(slug=spec["slug"], defaults=spec)
                with tenant_scope(tenant):
                    ctx = tenant_context(tenant, options["scale"])
                    for _label, step in steps:
                        step(ctx)
                self.stdout.write(f"{tenant.slug}: ready in {time.monotonic() - started:.1f} s")
                host = tenant.absolute_url("/")
                logins += [(host, role.value, ctx.users[role].email) for role, *_ in ROLE_LOGINS]
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        self.stdout.write(f"Every demo login uses the password: {DEMO_PASSWORD}")
        self.stdout.write(f"  {'where':<44} {'role':<16} email")
        for where, role, email in logins:
            url = f"{platform_url}/admin/" if where == "platform" else where
            self.stdout.write(f"  {url:<44} {role:<16} {email}")

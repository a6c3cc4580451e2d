from typing import Any

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.scoping import tenant_scope
from prm.tenancy.services import audit


class Command(BaseCommand):
    help = (
        "Create a tenant (vendor) and its first ops admin. The portal is then at "
        "<slug>.<PRM_BASE_DOMAIN>; the ops admin invites everyone else."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Subdomain, e.g. acme")
        parser.add_argument("name", help="Display name, e.g. 'Acme Networks'")
        parser.add_argument("--admin-email", required=True, help="The first ops admin's email")
        parser.add_argument("--admin-password", help="Their password (prompted if missing)")
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--country", default="US")
        parser.add_argument(
            "--fiscal-year-start",
            type=int,
            default=1,
            help="Month (1-12) the fiscal year starts in; the reports' quarters follow it",
        )
        parser.add_argument(
            "--domain",
            action="append",
            default=[],
            help="Custom host name (repeatable); the first is used in links sent by mail",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        tenant = Tenant(
            slug=opts["slug"].strip().lower(),
            name=opts["name"].strip(),
            timezone=opts["timezone"],
            base_currency=opts["currency"].upper(),
            country=opts["country"].upper(),
            fiscal_year_start=opts["fiscal_year_start"],
        )
        try:
            tenant.full_clean()
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from exc
        email = opts["admin_email"].strip().lower()
        password = opts["admin_password"]
        if password is None and not User.objects.filter(email__iexact=email).exists():
            import getpass

            password = getpass.getpass(f"Password for {email}: ")
        with transaction.atomic():
            tenant.save()
            for position, host in enumerate(opts["domain"]):
                # The first custom domain is the one links in mails use.
                domain = tenant.domains.model(
                    tenant=tenant, host=host.strip().lower(), is_primary=position == 0
                )
                try:
                    domain.full_clean()
                except ValidationError as exc:
                    raise CommandError(f"{host}: {' '.join(exc.messages)}") from exc
                domain.save()
            user = User.objects.filter(email__iexact=email).first()
            if user is None:
                user = User.objects.create_user(email=email, password=password)
            EmailAddress.objects.update_or_create(
                user=user, email=email, defaults={"verified": True, "primary": True}
            )
            with tenant_scope(tenant):
                membership = Membership.objects.create(
                    tenant=tenant, user=user, role=Role.OPS_ADMIN
                )
                audit(tenant, by=None, action="tenant.created", obj=membership)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created tenant {tenant.name} at {tenant.absolute_url('/')} "
                f"with ops admin {email}."
            )
        )

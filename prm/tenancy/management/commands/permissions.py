"""Print the assembled role x permission table: the one place to read every
permission of every app (each declared in its app's ``declare.py``)."""

import csv
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from prm.tenancy import registry
from prm.tenancy.roles import Role

# Column order: vendor staff, then partner roles.
ROLES = [
    Role.OPS_ADMIN,
    Role.CHANNEL_MANAGER,
    Role.FINANCE,
    Role.EXECUTIVE,
    Role.PARTNER_ADMIN,
    Role.PARTNER_USER,
]
SHORT = {
    Role.OPS_ADMIN: "ops",
    Role.CHANNEL_MANAGER: "cm",
    Role.FINANCE: "fin",
    Role.EXECUTIVE: "exec",
    Role.PARTNER_ADMIN: "p.adm",
    Role.PARTNER_USER: "p.usr",
}


def cell(role: str, perm: str) -> str:
    """ "yes", "own" (only on objects assigned to them) or ""."""
    if not registry.role_has_perm(role, perm):
        return ""
    return "own" if registry.is_object_scoped(role, perm) else "yes"


class Command(BaseCommand):
    help = (
        "Print every permission and the roles holding it ('own': only on the objects "
        "assigned to them), from the apps' declarations."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--csv", action="store_true", help="Write CSV instead of a table.")
        parser.add_argument("--app", help="Only the permissions this app declares (its label).")

    def handle(self, *args: Any, **options: Any) -> None:
        owners = registry.permission_owners()
        perms = sorted(
            (perm for perm in registry.permissions() if options["app"] in (None, owners[perm])),
            key=lambda perm: (owners[perm], perm),
        )
        if options["csv"]:
            writer = csv.writer(self.stdout)
            writer.writerow(["app", "permission", *ROLES])
            for perm in perms:
                writer.writerow([owners[perm], perm, *(cell(role, perm) for role in ROLES)])
            return
        width = max((len(perm) for perm in perms), default=10)
        header = f"{'permission':<{width}}  " + " ".join(f"{SHORT[r]:>5}" for r in ROLES)
        current = None
        for perm in perms:
            if owners[perm] != current:
                current = owners[perm]
                self.stdout.write(f"\n[{current}]\n{header}")
            row = " ".join(f"{cell(role, perm) or '-':>5}" for role in ROLES)
            self.stdout.write(f"{perm:<{width}}  {row}")
        self.stdout.write(
            f"\n{len(perms)} permissions. 'own': only on the objects assigned to them."
        )

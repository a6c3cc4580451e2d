"""Demo API keys (``make run``): one for the ops admin and one for the
partner admin of each demo tenant, with every scope their roles may have
and tokens the README gives, so the API can be tried at once:

    curl -H "Authorization: Bearer prm_acmeops1_demo-key-2026" \\
        http://acme.localhost:8000/api/v1/registrations/

Demo data only: a real installation's keys are made in the admin or the
portal, and their secrets are random and shown once."""

from prm.tenancy.declarations import DemoContext
from prm.tenancy.roles import Role

from .keys import scope_choices
from .models import ApiKey, hash_secret

SECRET = "demo-key-2026"
KEYS: dict[str, str] = {Role.OPS_ADMIN: "ops1", Role.PARTNER_ADMIN: "pad1"}


def prefix(slug: str, role: str) -> str:
    return (slug + "xxxx")[:4] + KEYS[role]


def seed(ctx: DemoContext) -> None:
    for role in KEYS:
        membership = ctx.people.get(role)
        if membership is None:
            continue
        wanted = prefix(ctx.tenant.slug, role)
        if ApiKey.objects.filter(prefix=wanted).exists():
            continue
        ApiKey.objects.create(
            tenant=ctx.tenant,
            name=f"Demo key ({membership.get_role_display()})",
            prefix=wanted,
            secret_hash=hash_secret(SECRET),
            membership=membership,
            scopes=[value for value, _ in scope_choices(membership)],
            created_by=membership.user,
        )

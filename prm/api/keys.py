"""Creating and revoking API keys, and the scopes a key may be given.

The scopes are the resources the apps' API modules declare
(``TenantViewSet.resource``), each readable or writable. A key is offered
only the resources its member's role may read at all; it can never do more
than that member (the permission table is asked on every request)."""

from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from importlib import import_module

from django.db import transaction
from django.utils import timezone

from prm.tenancy import registry
from prm.tenancy.errors import ServiceError
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.services import audit, once

from .models import ApiKey


class ApiKeyError(ServiceError):
    """A refused key operation."""


@dataclass(frozen=True)
class Resource:
    name: str
    read_perms: frozenset[str]
    write_perms: frozenset[str]


@cache
def resources() -> dict[str, Resource]:
    """Every declared resource (a scope's name) and the permissions that
    read or write any of its endpoints."""
    found: dict[str, tuple[set[str], set[str]]] = {}
    for module_path in registry.api_modules():
        for route in import_module(module_path).ROUTES:
            view = route.viewset
            read, write = found.setdefault(view.resource, (set(), set()))
            read.update(view.read_perms)
            write.update(view.write_perms)
            for perms in (getattr(view, "action_perms", {}) or {}).values():
                write.update(perms)
    return {
        name: Resource(name, frozenset(read), frozenset(write))
        for name, (read, write) in sorted(found.items())
    }


def scope_choices(membership: Membership) -> list[tuple[str, str]]:
    """The scopes a key acting as ``membership`` may be given."""
    choices = []
    for resource in resources().values():
        if any(membership.has_perm(p) for p in resource.read_perms):
            choices.append((f"{resource.name}:read", f"{resource.name}: read"))
        if any(membership.has_perm(p) for p in resource.write_perms):
            choices.append((f"{resource.name}:write", f"{resource.name}: read and write"))
    return choices


def create_key(
    *,
    tenant: Tenant,
    membership: Membership,
    by: User,
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
    now: datetime | None = None,
    form_token: str | None = None,
) -> tuple[ApiKey, str]:
    """A new key acting as ``membership``; returns it with its token, which
    is shown to the person once and never stored. ``form_token`` names the
    form that asked: the same form sent twice (a double click) makes one
    key, the second raises ``AlreadyDone`` naming it."""
    now = now or timezone.now()
    if not name.strip():
        raise ApiKeyError("Give the key a name that says what it is for.", "name")
    if membership.tenant_id != tenant.pk or not membership.is_active:
        raise ApiKeyError("A key can only act as an active member of this program.", "membership")
    allowed = {value for value, _ in scope_choices(membership)}
    unknown = sorted(set(scopes) - allowed)
    if unknown:
        raise ApiKeyError(
            f"{membership.get_role_display()} keys cannot have: {', '.join(unknown)}.", "scopes"
        )
    if not scopes:
        raise ApiKeyError("Choose at least one scope.", "scopes")
    if expires_at is not None and expires_at <= now:
        raise ApiKeyError("The expiry must be in the future.", "expires_at")
    token, prefix, secret_hash = ApiKey.new_token()
    once_key = f"api.key:{form_token}" if form_token else ""
    with transaction.atomic(), once(tenant, once_key):
        key = ApiKey.objects.create(
            tenant=tenant,
            name=name.strip(),
            prefix=prefix,
            secret_hash=secret_hash,
            membership=membership,
            scopes=sorted(set(scopes)),
            expires_at=expires_at,
            created_by=by,
            created_at=now,
        )
        audit(
            tenant,
            by=by,
            action="api.key_created",
            obj=key,
            data={"scopes": key.scopes},
            once_key=once_key,
        )
    return key, token


def revoke_key(key: ApiKey, *, by: User, now: datetime | None = None) -> ApiKey:
    """Stop ``key`` working at once (a revoked key stays listed)."""
    with transaction.atomic():
        locked = ApiKey.objects.select_for_update().get(pk=key.pk)
        if locked.revoked_at is not None:
            raise ApiKeyError("This key was revoked already.")
        locked.revoked_at = now or timezone.now()
        locked.revoked_by = by
        locked.save(update_fields=["revoked_at", "revoked_by"])
        audit(locked.tenant, by=by, action="api.key_revoked", obj=locked)
    return locked


# --- What the key pages show ---------------------------------------------------------

# A key's state in words: ``state_of`` adds "inactive" to ``ApiKey.state``
# for a key whose member was deactivated (it is refused like a revoked one).
STATE_LABELS = {
    "active": "Active",
    "expired": "Expired",
    "revoked": "Revoked",
    "inactive": "Member deactivated",
}


def state_of(key: ApiKey, now: datetime | None = None) -> str:
    """ "active", "expired", "revoked" or "inactive" (the member it acts as,
    or their login, is deactivated). Reads ``key.membership.user``: select
    them with the key."""
    state = key.state(now)
    membership = key.membership
    if state == "active" and not (membership.is_active and membership.user.is_active):
        return "inactive"
    return state


def scope_labels(scopes: list[str]) -> list[str]:
    """The scopes in words, one per resource ("partners: read and write";
    a write scope includes reading)."""
    written = {scope.partition(":")[0] for scope in scopes if scope.endswith(":write")}
    labels = []
    for scope in sorted(set(scopes)):
        resource, _, access = scope.partition(":")
        if access == "write":
            labels.append(f"{resource}: read and write")
        elif resource not in written:
            labels.append(f"{resource}: read")
    return labels


def end_of_day(day: date, tenant: Tenant) -> datetime:
    """The last instant of ``day`` in the tenant's time zone: a key set to
    expire "on 3 March" works through that day."""
    return datetime.combine(day, time.max, tzinfo=tenant.tzinfo)

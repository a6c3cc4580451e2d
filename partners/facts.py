"""The partner directory's daily figures in reporting's rollups: how many
partners were active, and how many of those had someone in the portal, at
the end of each day.

Both are levels, kept as changes: +1 on the day a partner became active (in
the region, tier, type and channel manager it had then) and -1 on the day
it stopped or moved, so the level at a period's end is the sum of the
changes up to it (``Days.TO_END``), counted with the filters as they stood
then, as ``partners.metrics`` counts them. A partner "in the portal" on a day
had a portal user whose last sign-in falls in the 30 days before that day's
end (``ADOPTION_WINDOW``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from prm.tenancy.declarations import FactRow, FactSource
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.roles import PARTNER_ROLES

from .metrics import ADOPTION_WINDOW
from .models import Partner

ONE_DAY = timedelta(days=1)
State = tuple[bool, bool, tuple[Any, Any, str, Any]]  # active, adopted, dims


def _windows(tenant: Tenant, partner_ids: Sequence[Any] | None) -> dict[Any, list[date]]:
    """Per partner, the days on which each portal user's last sign-in counts:
    the day ``E`` counts a sign-in at ``t`` when ``t`` falls in the 30 days
    before E's end, i.e. E runs from t's day to the day before t + 30 days."""
    zone = ZoneInfo(tenant.timezone)
    members = Membership.objects.filter(
        tenant_id=tenant.pk, role__in=sorted(PARTNER_ROLES), user__last_login__isnull=False
    )
    if partner_ids is not None:
        members = members.filter(partner_id__in=[p for p in partner_ids if p])
    days: dict[Any, list[date]] = defaultdict(list)
    for partner, signed_in in members.values_list("partner_id", "user__last_login"):
        assert signed_in is not None  # filtered above
        first = timezone.localdate(signed_in, zone)
        last = timezone.localdate(signed_in + ADOPTION_WINDOW, zone) - ONE_DAY
        if last >= first:
            days[partner] += [first, last]
    return days


def compute(
    tenant: Tenant, partner_ids: Sequence[Any] | None, since: date | None
) -> Iterator[FactRow]:
    zone = ZoneInfo(tenant.timezone)
    versions = Partner.history.model.objects.filter(tenant_id=tenant.pk)
    if partner_ids is not None:
        versions = versions.filter(id__in=[p for p in partner_ids if p])
    by_partner: dict[Any, list[tuple[date, bool, tuple[Any, Any, str, Any]]]] = defaultdict(list)
    for pid, at, kind, status, region, tier, partner_type, manager in versions.order_by(
        "id", "history_date", "history_id"
    ).values_list(
        "id",
        "history_date",
        "history_type",
        "status",
        "region_id",
        "tier_id",
        "partner_type",
        "channel_manager_id",
    ):
        active = kind != "-" and status == Partner.Status.ACTIVE
        by_partner[pid].append(
            (timezone.localdate(at, zone), active, (region, tier, partner_type, manager))
        )
    windows = _windows(tenant, partner_ids)
    for pid, changes in by_partner.items():
        yield from _changes(pid, changes, windows.get(pid, []), since)


def _changes(
    pid: Any,
    versions: list[tuple[date, bool, tuple[Any, Any, str, Any]]],
    windows: list[date],
    since: date | None,
) -> Iterator[FactRow]:
    """The partner's +1/-1 changes, walking the days on which its state
    (the last version of the day; whether a sign-in window covers it) can
    change."""
    spans = [(windows[i], windows[i + 1]) for i in range(0, len(windows), 2)]
    moments = {day for day, _, _ in versions}
    for first, last in spans:
        moments |= {first, last + ONE_DAY}
    state_of_day: dict[date, tuple[bool, tuple[Any, Any, str, Any]]] = {}
    for day, active, dims in versions:
        state_of_day[day] = (active, dims)  # the day's last version wins
    before: State = (False, False, ("", "", "", ""))
    current: tuple[bool, tuple[Any, Any, str, Any]] = (False, ("", "", "", ""))
    for day in sorted(moments):
        current = state_of_day.get(day, current)
        active, dims = current
        adopted = active and any(first <= day <= last for first, last in spans)
        now: State = (active, adopted, dims)
        if now == before:
            continue
        if since is None or day >= since:
            yield from _delta(pid, day, before, now)
        before = now


def _delta(pid: Any, day: date, before: State, now: State) -> Iterator[FactRow]:
    totals: dict[tuple[Any, Any, str, Any], dict[str, int]] = defaultdict(
        lambda: {"active_delta": 0, "adopted_delta": 0}
    )
    for state, sign in ((before, -1), (now, 1)):
        active, adopted, dims = state
        totals[dims]["active_delta"] += sign * active
        totals[dims]["adopted_delta"] += sign * adopted
    for dims, values in totals.items():
        kept = {key: value for key, value in values.items() if value}
        if kept:
            yield FactRow(pid, day, kept, dims)


def _member_partner(membership: Membership) -> list[Any]:
    return [membership.partner_id] if membership.partner_id else []


def _user_partners(user: Any) -> list[tuple[Any, Any]]:
    """A person's sign-in counts for the partners they belong to, in every
    tenant they are a member of."""
    return list(
        Membership._base_manager.filter(
            user_id=user.pk, role__in=sorted(PARTNER_ROLES), partner_id__isnull=False
        ).values_list("tenant_id", "partner_id")
    )


SOURCE = FactSource(
    key="partners",
    facts=("active_delta", "adopted_delta"),
    compute=compute,
    watch={
        "partners.Partner": lambda partner: [partner.pk],
        "tenancy.Membership": _member_partner,
        "tenancy.User": _user_partners,
    },
)

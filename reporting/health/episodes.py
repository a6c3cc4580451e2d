"""At-risk episodes: the declared rules evaluated for a day, an episode
opened when any fires for a partner with none open, closed on the first day
none does, and the partner's channel manager told once per episode.

Exactly once comes from the database: at most one open episode per partner
(a partial unique constraint; a second worker's insert fails and it takes
the row that won), and the notification is sent while the episode's row is
locked, in the transaction that sets ``notified_at``. A retry, or two
workers at once, find it set and send nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, transaction

from partners.models import partner_admin_url
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.registry import at_risk_rules
from prm.tenancy.roles import STAFF_ROLES
from prm.tenancy.services import notify

from ..models import AtRiskEpisode

AT_RISK_KIND = "reporting.partner_at_risk"
# What this run reads of what it writes (scores, episodes) comes from the
# primary: a read replica, where reporting's reads may go, lags behind.
PRIMARY = DEFAULT_DB_ALIAS

Reasons = list[dict[str, str]]


def evaluate_rules(
    tenant: Tenant, day: date, partner_ids: list[Any], thresholds: Mapping[str, int]
) -> dict[Any, Reasons]:
    """partner id -> [{rule, text}] of every declared rule that flags it on
    ``day``, in declaration order; partners no rule flags are left out."""
    flagged: dict[Any, Reasons] = defaultdict(list)
    for key, rule in at_risk_rules().items():
        for partner_id, text in rule.evaluate(tenant, day, partner_ids, thresholds).items():
            flagged[partner_id].append({"rule": key, "text": text})
    return dict(flagged)


@dataclass
class EpisodeChanges:
    opened: int = 0
    closed: int = 0
    notified: int = 0


def _open_all(
    tenant: Tenant, day: date, new: Mapping[Any, Reasons]
) -> tuple[dict[Any, AtRiskEpisode], int]:
    """Open an episode for each partner of ``new`` in one insert, skipping
    any partner another worker opened one for meanwhile (the partial unique
    constraint). Returns the partners' open episodes, whoever opened them,
    and how many of them this call opened."""
    made = AtRiskEpisode.objects.using(PRIMARY).bulk_create(
        [
            AtRiskEpisode(tenant=tenant, partner_id=partner_id, opened_on=day, reasons=reasons)
            for partner_id, reasons in new.items()
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    ours = {episode.pk for episode in made}
    found = {
        e.partner_id: e
        for e in AtRiskEpisode.objects.using(PRIMARY).filter(
            partner_id__in=list(new), closed_on__isnull=True
        )
    }
    return found, sum(1 for e in found.values() if e.pk in ours)


def notify_once(tenant: Tenant, episode_id: Any, *, now: datetime) -> bool:
    """Tell the partner's channel manager about an open episode, unless
    someone already was. No channel manager (or one no longer active in the
    tenant): nobody is told yet, and the next run tries again."""
    with transaction.atomic():
        episode = (
            AtRiskEpisode.objects.using(PRIMARY)
            .select_for_update(of=("self",))
            .select_related("partner__channel_manager")
            .filter(pk=episode_id, closed_on__isnull=True, notified_at__isnull=True)
            .first()
        )
        if episode is None:
            return False
        partner = episode.partner
        manager = partner.channel_manager
        if manager is None or not (
            Membership.objects.filter(
                tenant=tenant, user=manager, is_active=True, role__in=sorted(STAFF_ROLES)
            ).exists()
        ):
            return False
        reasons = episode.reason_texts()
        notify(
            tenant,
            [manager],
            kind=AT_RISK_KIND,
            title=f"{partner.name} is at risk",
            body="; ".join(reasons) + ".",
            url=partner_admin_url(partner),
            about=partner,
        )
        episode.notified_at = now
        episode.save(update_fields=["notified_at", "updated_at"])
        return True


def update_episodes(
    tenant: Tenant,
    day: date,
    flagged: Mapping[Any, Reasons],
    *,
    now: datetime,
    send: bool = True,
) -> EpisodeChanges:
    """Open, update and close episodes for ``day`` from the rules' verdicts
    (``flagged``: every partner evaluated that day that some rule flags). An
    open episode whose partner no rule flags closes on ``day``, including a
    partner no longer active (no longer evaluated). Episodes only move
    forward: recomputing a day before an open episode's first leaves it.
    ``send=False`` (a backfill of past days) notifies nobody; the next
    regular run tells the channel manager of an episode still open."""
    changes = EpisodeChanges()
    still_open = AtRiskEpisode.objects.using(PRIMARY).filter(closed_on__isnull=True)
    open_now = {e.partner_id: e for e in still_open}
    new = {pid: reasons for pid, reasons in flagged.items() if pid not in open_now}
    opened: dict[Any, AtRiskEpisode] = {}
    if new:
        opened, changes.opened = _open_all(tenant, day, new)
    reworded, untold = [], []
    for partner_id, reasons in flagged.items():
        episode = open_now.get(partner_id)
        if episode is None:
            episode = opened.get(partner_id)
        elif episode.opened_on <= day and episode.reasons != reasons:
            episode.reasons, episode.updated_at = reasons, now
            reworded.append(episode)
        if episode is not None and episode.notified_at is None:
            untold.append(episode.pk)
    # The reasons as of this day ("no registration in 61 days", then 62...).
    AtRiskEpisode.objects.using(PRIMARY).bulk_update(
        reworded, ["reasons", "updated_at"], batch_size=500
    )
    if send:
        changes.notified = sum(notify_once(tenant, pk, now=now) for pk in untold)
    ending = [
        episode.pk
        for partner_id, episode in open_now.items()
        if partner_id not in flagged and episode.opened_on <= day
    ]
    if ending:
        changes.closed = AtRiskEpisode.objects.filter(pk__in=ending, closed_on__isnull=True).update(
            closed_on=day, updated_at=now
        )
    return changes

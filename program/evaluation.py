"""Tier evaluation: every active partner's qualifying tier, and what
follows from it under the tenant's review policy.

- An upgrade applies at once, or at the next scheduled review when the
  policy says so (until then the partner shows as "about to move up").
- A partner that no longer qualifies for its tier enters a grace period
  (``grace_days``; it keeps its tier through ``grace_until``), with a
  notice to its partner admins and channel manager. The first evaluation
  after the grace period moves it down to the tier it qualifies for, unless
  it qualifies again first (the grace period then closes).
- A partner held in a tier by ops stays there until the hold ends.
- A tier without criteria (above the entry tier) is by invitation:
  evaluations leave its partners where they are.

Every move is a dated ``TierChange`` (partner history included, so the
directory's metrics see it). One evaluation of a tenant runs at a time
(the policy row is locked for its duration), so a beat run and an
on-demand run never both act on the same partner.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet, prefetch_related_objects
from django.urls import reverse
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from partners import events as partner_events
from partners.models import Partner, Tier, TierChange
from prm import format as fmt
from prm.tenancy.models import Membership, Notification, Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.services import audit, mail_notifications, unsaved_notifications
from reporting.rollups import mark_stale

from .errors import ProgramError
from .figures import Figures, measure
from .models import CriteriaVersion, Evaluation, QualificationSettings, TierHold, TierStanding
from .rules import Ladder

Reason = TierChange.Reason
Trigger = Evaluation.Trigger

TIER_CHANGED = "program.tier_changed"
GRACE_STARTED = "program.grace_started"


def published(tenant: Tenant) -> CriteriaVersion | None:
    return CriteriaVersion.objects.filter(
        tenant_id=tenant.pk, status=CriteriaVersion.Status.PUBLISHED
    ).first()


def ladder(tenant: Tenant, version: CriteriaVersion | None = None) -> Ladder:
    tiers = list(Tier.objects.filter(tenant_id=tenant.pk))
    return Ladder(version if version is not None else published(tenant), tiers)


def plan_without_jit() -> None:
    """For the rest of the current transaction: no JIT compilation of the
    queries. The figures' queries over every partner are estimated costly
    (correlated subqueries per partner, a scan of a year of registrations),
    so PostgreSQL would JIT-compile them with optimisation on every run;
    that compilation takes seconds, several times what it saves on
    queries that run once (the deal registration match does the same,
    ``dealreg.conflicts``)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('jit', 'off', true)")


def evaluated(tenant: Tenant) -> QuerySet[Partner]:
    """The partners evaluations look at: the active ones."""
    return Partner.objects.filter(tenant_id=tenant.pk, status=Partner.Status.ACTIVE)


def open_holds(day: date, partner_ids: Any = None) -> dict[Any, TierHold]:
    holds = TierHold.objects.filter(released_on__isnull=True, starts_on__lte=day, ends_on__gte=day)
    if partner_ids is not None:
        holds = holds.filter(partner_id__in=partner_ids)
    return {h.partner_id: h for h in holds}


@dataclass
class Decision:
    """What an evaluation does with one partner."""

    partner: Partner
    was: Tier
    qualifying: Tier
    move_to: Tier | None = None
    reason: str = ""
    grace_until: date | None = None
    grace_opened: bool = False
    grace_closed: bool = False
    pending_upgrade: bool = False


def decide(
    partner: Partner,
    qualifying: Tier,
    *,
    ladder: Ladder,
    policy: QualificationSettings,
    standing: TierStanding | None,
    hold: TierHold | None,
    day: date,
    trigger: str,
) -> Decision:
    """The policy applied to one partner (pure: no queries)."""
    current = ladder.by_id[partner.tier_id]
    grace = standing.grace_until if standing is not None else None
    found = Decision(partner, current, qualifying)
    if hold is not None or ladder.is_by_invitation(current.pk):
        found.grace_closed = grace is not None
        return found
    if qualifying.rank > current.rank:
        found.grace_closed = grace is not None
        if policy.upgrades == policy.Upgrades.AT_ONCE or trigger == Trigger.REVIEW:
            found.move_to, found.reason = qualifying, Reason.UPGRADE
        else:
            found.pending_upgrade = True
        return found
    if qualifying.rank == current.rank:
        found.grace_closed = grace is not None
        return found
    # Below its tier's criteria. A rise in some figure is no time to judge
    # the others: grace periods open at reviews and evaluations on demand.
    if trigger == Trigger.EVENT:
        found.grace_until = grace
        return found
    if grace is None:
        if policy.grace_days == 0:
            found.move_to, found.reason = qualifying, Reason.DOWNGRADE
        else:
            found.grace_until = day + timedelta(days=policy.grace_days - 1)
            found.grace_opened = True
    elif day > grace:
        found.move_to, found.reason = qualifying, Reason.DOWNGRADE
    else:
        found.grace_until = grace
    return found


def evaluate(
    tenant: Tenant,
    *,
    trigger: str,
    by: User | None = None,
    now: datetime | None = None,
    only: list[Any] | None = None,
) -> Evaluation:
    """Evaluate ``tenant``'s active partners (or those of them in ``only``)
    against the published criteria and act on the results. Refused
    (ProgramError) while no criteria are published."""
    now = now or timezone.now()
    day = tenant.local_today(now)
    with transaction.atomic():
        plan_without_jit()
        policy = QualificationSettings.for_tenant(tenant)
        policy = QualificationSettings.objects.select_for_update().get(pk=policy.pk)
        version = published(tenant)
        if version is None:
            raise ProgramError("Publish the tier criteria before evaluating partners.")
        steps = ladder(tenant, version)
        partners = evaluated(tenant)
        if only is not None:
            partners = partners.filter(pk__in=only)
        partner_list = list(partners)
        ids = [p.pk for p in partner_list]
        figures = measure(tenant, day, partners, steps.needs)
        standings = {s.partner_id: s for s in TierStanding.objects.filter(partner_id__in=ids)}
        holds = open_holds(day, ids)
        run = Evaluation.objects.create(
            tenant=tenant,
            version=version,
            trigger=trigger,
            day=day,
            started_at=now,
            by=by,
            partners=len(partner_list),
        )
        decisions = []
        for partner in partner_list:
            mine = figures.get(partner.pk, Figures())
            qualifying = steps.qualifying(mine) or steps.by_id[partner.tier_id]
            decisions.append(
                decide(
                    partner,
                    qualifying,
                    ladder=steps,
                    policy=policy,
                    standing=standings.get(partner.pk),
                    hold=holds.get(partner.pk),
                    day=day,
                    trigger=trigger,
                )
            )
        _save_standings(tenant, decisions, figures, standings, steps, day, now)
        _move(tenant, decisions, by=by, day=day, now=now)
        _notify(tenant, decisions)
        run.upgrades = sum(d.reason == Reason.UPGRADE for d in decisions)
        run.downgrades = sum(d.reason == Reason.DOWNGRADE for d in decisions)
        run.graces_opened = sum(d.grace_opened for d in decisions)
        run.graces_closed = sum(d.grace_closed for d in decisions)
        run.pending_upgrades = sum(d.pending_upgrade for d in decisions)
        run.finished_at = timezone.now() if now is None else max(now, timezone.now())
        run.save()
        if trigger == Trigger.REVIEW:
            policy.last_review_on = day
            policy.save(update_fields=["last_review_on"])
        audit(
            tenant,
            by=by,
            action="program.evaluated",
            obj=run,
            data={
                "trigger": trigger,
                "version": version.number,
                "partners": run.partners,
                "upgrades": run.upgrades,
                "downgrades": run.downgrades,
                "graces_opened": run.graces_opened,
            },
            now=now,
        )
    return run


def upgrade_check(tenant: Tenant, partner_id: Any, *, now: datetime | None = None) -> bool:
    """After a partner's figures rose (a win, an approval, a confirmed
    certification): when the policy upgrades at once and the partner now
    qualifies for a higher tier, evaluate it (and move it up). True when it
    was evaluated. One partner's figures: a handful of indexed queries."""
    version = published(tenant)
    partner = evaluated(tenant).filter(pk=partner_id).first()
    if version is None or partner is None:
        return False
    policy = QualificationSettings.for_tenant(tenant)
    if policy.upgrades != policy.Upgrades.AT_ONCE:
        return False
    steps = ladder(tenant, version)
    day = tenant.local_today(now)
    mine = measure(tenant, day, [partner.pk], steps.needs)[partner.pk]
    qualifying = steps.qualifying(mine)
    current = steps.by_id.get(partner.tier_id)
    if qualifying is None or current is None or qualifying.rank <= current.rank:
        return False
    if steps.is_by_invitation(current.pk) or open_holds(day, [partner.pk]):
        return False
    evaluate(tenant, trigger=Trigger.EVENT, now=now, only=[partner.pk])
    return True


def _save_standings(
    tenant: Tenant,
    decisions: list[Decision],
    figures: dict[Any, Figures],
    standings: dict[Any, TierStanding],
    steps: Ladder,
    day: date,
    now: datetime,
) -> None:
    """Each partner's standing: written again where the qualifying tier,
    the figures or the grace period changed; for the others (most of them,
    from one evaluation to the next) only the evaluation day and time move,
    in one UPDATE."""
    rows, unchanged = [], []
    for d in decisions:
        mine = figures.get(d.partner.pk, Figures())
        # The figures behind the decision: the criteria of the tier it
        # qualifies for and of the one above, what it would take to move up.
        record = steps.record(d.qualifying, mine)
        above = steps.next_above(d.qualifying.pk)
        if above is not None:
            record["next"] = steps.record(above, mine)
        grace_until = d.grace_until if d.move_to is None else None
        before = standings.get(d.partner.pk)
        if (
            before is not None
            and before.qualifying_tier_id == d.qualifying.pk
            and before.grace_until == grace_until
            and before.figures == record
        ):
            unchanged.append(before.pk)
            continue
        rows.append(
            TierStanding(
                tenant=tenant,
                partner=d.partner,
                qualifying_tier=d.qualifying,
                figures=record,
                evaluated_on=day,
                evaluated_at=now,
                grace_until=grace_until,
            )
        )
    if unchanged:
        TierStanding.objects.filter(pk__in=unchanged).update(evaluated_on=day, evaluated_at=now)
    TierStanding.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["partner"],
        update_fields=["qualifying_tier", "figures", "evaluated_on", "evaluated_at", "grace_until"],
    )


def _move(
    tenant: Tenant,
    decisions: list[Decision],
    *,
    by: User | None,
    day: date,
    now: datetime,
) -> None:
    """Move the partners that move, their history rows with them (in bulk:
    a first evaluation may move many)."""
    moving = [d for d in decisions if d.move_to is not None]
    if not moving:
        return
    changes, partners = [], []
    for d in moving:
        assert d.move_to is not None
        changes.append(
            TierChange(
                tenant=tenant,
                partner=d.partner,
                tier=d.move_to,
                previous_id=d.partner.tier_id,
                effective_on=day,
                reason=d.reason,
                note=_why(d),
                by=by,
                created_at=now,
            )
        )
        d.partner.tier = d.move_to
        d.partner.updated_at = now
        partners.append(d.partner)
    TierChange.objects.bulk_create(changes, batch_size=1000)
    # Their partner.tier_changed webhook events, written in bulk (none
    # stored, and nothing serialized, when no endpoint wants them).
    partner_events.tiers_changed(tenant, changes)
    bulk_update_with_history(
        partners,
        Partner,
        ["tier", "updated_at"],
        batch_size=1000,
        default_user=by,
        default_change_reason="Tier evaluation",
        default_date=now,
    )
    # A bulk update sends no post_save: tell reporting the partners' rollups
    # (their tier on each day) are out of date, as a save would.
    mark_stale(tenant.pk, [p.pk for p in partners])


def _why(d: Decision) -> str:
    if d.reason == Reason.UPGRADE:
        return f"Meets the criteria of {d.move_to}."
    return f"Still below the criteria of {d.was} after the grace period."


def _notify(tenant: Tenant, decisions: list[Decision]) -> None:
    """Tell each moved partner's admins and channel manager, and those of a
    partner whose grace period opens."""
    told = [d for d in decisions if d.move_to is not None or d.grace_opened]
    if not told:
        return
    # The channel managers of those told only (not of every partner evaluated).
    prefetch_related_objects([d.partner for d in told], "channel_manager")
    admins: dict[Any, list[User]] = defaultdict(list)
    people = Membership.objects.filter(
        tenant_id=tenant.pk,
        partner_id__in=[d.partner.pk for d in told],
        role=Role.PARTNER_ADMIN,
        is_active=True,
    ).select_related("user")
    for m in people:
        admins[m.partner_id].append(m.user)
    notes: list[Notification] = []
    for d in told:
        partner = d.partner
        to_partner = admins.get(partner.pk, [])
        to_manager = [partner.channel_manager]
        if d.move_to is not None:
            title = f"{partner.name} is now {d.move_to}"
            body = _why(d)
            kind = TIER_CHANGED
        else:
            current = d.was
            assert d.grace_until is not None
            title = f"{partner.name} no longer meets the criteria of {current}"
            body = (
                f"It keeps {current} through {fmt.day(d.grace_until)} (grace period). If it "
                f"still does not meet them then, it moves to {d.qualifying}."
            )
            kind = GRACE_STARTED
        notes += unsaved_notifications(
            tenant, to_partner, kind=kind, title=title, body=body, url=reverse("program:progress")
        )
        notes += unsaved_notifications(
            tenant,
            to_manager,
            kind=kind,
            title=title,
            body=body,
            url=reverse("tenant_admin:partners_partner_change", args=[partner.pk]),
        )
    saved = Notification.objects.bulk_create(notes)
    mail_notifications(tenant, saved)

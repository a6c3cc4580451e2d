"""The daily round of tier qualification in one tenant: holds that ran
out end; on a review day every active partner is evaluated (the scheduled
review); on other days only the partners whose grace period or hold just
ended are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from prm.tenancy.models import Tenant

from . import holds
from .evaluation import Trigger, evaluate, published
from .models import QualificationSettings, TierHold, TierStanding


@dataclass
class SweepResult:
    holds_ended: int = 0
    evaluated: int = 0
    review: bool = False


def sweep(tenant: Tenant, *, now: datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    today = tenant.local_today(now)
    result = SweepResult()
    if published(tenant) is None:
        return result
    ended = list(TierHold.objects.filter(released_on__isnull=True, ends_on__lt=today))
    for row in ended:
        holds.release(row, by=None, now=now)
    result.holds_ended = len(ended)
    policy = QualificationSettings.for_tenant(tenant)
    if policy.is_review_day(today, tenant.fiscal_year_start) and policy.last_review_on != today:
        run = evaluate(tenant, trigger=Trigger.REVIEW, now=now)
        result.review, result.evaluated = True, run.partners
        return result
    due = set(
        TierStanding.objects.filter(grace_until__lt=today, partner__status="active").values_list(
            "partner_id", flat=True
        )
    )
    due |= {row.partner_id for row in ended}
    if due:
        result.evaluated = evaluate(tenant, trigger=Trigger.DAILY, now=now, only=list(due)).partners
    return result

"""Lost work for ``make bench-load``: changes committed since a moment whose
follow-up work never finished, counted from the rows themselves.

- conflict checks: registrations submitted since then, still holding or
  claiming their customer (``ACTIVE``), whose conflict check never ran
  (``not_checked``). A registration decided against before its check ran
  is not counted: the check then has nothing to do, so a lost one cannot be
  told apart.
- accruals: won deals changed since then whose ledger entries are not in
  line with their outcome (no accrual state synced at or after the
  registration's last change: the condition of
  ``incentives.tasks.dispatch_sweeps``).
- mails: notifications made since then for active people that were never
  mailed (kinds created without a mail are left out).
- outbox: rows of the transactional outbox written since then and not
  done (``tenancy.OutboxMessage``, where it exists; one the relay gave up
  on is not done either). Shown for every kind, but counted in the total
  only for work the counts above do not already see in their own rows
  (conflict checks and notification mails are outbox rows too).

The worker and beat are given time first (``drain``): at least the longest
wait of the recovery paths the counts cover (``incentives-deals``, the
accrual sweep, runs every 5 minutes; the outbox relay hands over a lost
message again after 2 minutes), or what is counted is only late.
"""

import time
from collections.abc import Callable
from datetime import datetime

from django.apps import apps
from django.db.models import Exists, OuterRef
from django_scopes import scopes_disabled

from dealreg.models import DealRegistration
from incentives.models import DealAccrualState
from prm.tenancy.models import Notification

# Kinds notify() is called with email=False for (dealreg.decisions,
# dealreg.protection): they are never mailed, by design.
UNMAILED_KINDS = ["dealreg.withdrawn", "dealreg.outcome"]
# Outbox tasks whose work the counts above find in their own rows.
COUNTED_ABOVE = ["dealreg.tasks.check_conflicts", "prm.tenancy.tasks.send_notification_email"]
OUTBOX_ALL = "outbox rows not done"  # every kind: shown, not added to the total


def total(lost: dict[str, int]) -> int:
    return sum(count for what, count in lost.items() if what != OUTBOX_ALL)


def lost_work(since: datetime) -> dict[str, int]:
    with scopes_disabled():
        checks = DealRegistration.objects.filter(
            submitted_at__gte=since,
            status__in=DealRegistration.ACTIVE,
            conflict_state=DealRegistration.ConflictState.NOT_CHECKED,
        ).count()
        synced = DealAccrualState.objects.filter(
            registration=OuterRef("pk"), synced_at__gte=OuterRef("updated_at")
        )
        accruals = (
            DealRegistration.objects.filter(won_amount__isnull=False, updated_at__gte=since)
            .exclude(Exists(synced))
            .count()
        )
        mails = (
            Notification.objects.filter(
                created_at__gte=since, emailed_at__isnull=True, user__is_active=True
            )
            .exclude(kind__in=UNMAILED_KINDS)
            .count()
        )
        lost = {"conflict checks": checks, "accruals": accruals, "mails": mails}
        try:
            outbox = apps.get_model("tenancy", "OutboxMessage")
        except LookupError:
            return lost
        pending = outbox._default_manager.filter(created_at__gte=since, done_at__isnull=True)
        lost["other outbox work"] = pending.exclude(task__in=COUNTED_ABOVE).count()
        lost[OUTBOX_ALL] = pending.count()
    return lost


def drain(
    since: datetime,
    timeout: float,
    log: Callable[[str], None],
    queued: Callable[[], int],
) -> tuple[dict[str, int], float]:
    """Wait (polling every 5 s, at most ``timeout`` seconds) until nothing is
    lost any more; returns what is still lost and the seconds waited."""
    started = time.monotonic()
    last = None
    while True:
        lost = lost_work(since)
        waited = time.monotonic() - started
        if not total(lost) or waited >= timeout:
            return lost, waited
        if lost != last:
            shown = ", ".join(f"{k} {v}" for k, v in lost.items())
            log(f"  draining ({waited:.0f}s, {queued()} queued): not finished yet: {shown}")
            last = lost
        time.sleep(5)

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
- outbox: messages of the transactional outbox not done yet, where it
  exists (``tenancy.OutboxMessage``, rows with ``done_at`` empty).
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
        lost["outbox"] = outbox._default_manager.filter(done_at__isnull=True).count()
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
        if not sum(lost.values()) or waited >= timeout:
            return lost, waited
        if lost != last:
            shown = ", ".join(f"{k} {v}" for k, v in lost.items())
            log(f"  draining ({waited:.0f}s, {queued()} queued): not finished yet: {shown}")
            last = lost
        time.sleep(5)

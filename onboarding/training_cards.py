"""The training records' card on the staff home page (ops and channel
managers, who confirm what people report)."""

from django.urls import reverse

from prm.tenancy.declarations import Card
from prm.tenancy.declarations import Count as CardCount
from prm.tenancy.models import Membership
from prm.tenancy.text import plural

from . import training
from .models import TrainingRecord

Status = TrainingRecord.Status
CHANGE_PERM = training.CONFIRM_PERM
RECORDS = "tenant_admin:onboarding_trainingrecord_changelist"


def pending_counts(membership: Membership) -> list[CardCount]:
    waiting = TrainingRecord.objects.filter(status=Status.PENDING).count()
    if not waiting:
        return []
    return [
        CardCount(
            f"{plural(waiting, 'reported record')} waiting for confirmation",
            f"{reverse(RECORDS)}?status__exact={Status.PENDING}",
            urgent=True,
        )
    ]


CARDS = (
    Card(
        key="onboarding.training_records",
        title="Training records",
        url_name=RECORDS,
        perms=(CHANGE_PERM,),
        description="People's courses and certifications; confirm what they report.",
        counts=pending_counts,
        empty="No reported training waits for confirmation.",
        order=40,
    ),
)

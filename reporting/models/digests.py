"""The digests sent: one row per person, kind of digest and period.

A row is the claim to send one digest: it is written (against the unique
constraint) before the mail is queued, in the same transaction as the
outbox message that sends it, so a second sweep, a retry or two workers at
once find the row and queue nothing. ``sent_at`` is set in the transaction
that sends the mail; ``skipped`` says why a claimed digest was not mailed
(the person turned it off, or left, between the claim and the sending).
"""

from django.db import models
from django.utils import timezone

from prm.tenancy.constraints import tenant_foreign_keys
from prm.tenancy.models import Membership, TenantOwned


class DigestSent(TenantOwned):
    class Kind(models.TextChoices):
        WEEKLY = "weekly", "Weekly executive digest"
        MONTHLY = "monthly", "Monthly partner digest"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    # The organisation whose figures a partner digest shows (None: the program's).
    partner = models.ForeignKey(
        "partners.Partner",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    skipped = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-period_start", "kind"]
        verbose_name = "digest sent"
        verbose_name_plural = "digests sent"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "period_start", "membership"],
                name="digestsent_once_per_period",
            ),
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")),
                name="digestsent_period_ordered",
            ),
            *tenant_foreign_keys("digestsent", "membership", "partner"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period_start} to {self.membership_id}"

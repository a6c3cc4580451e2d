"""Compliance reviews' demo data: reviews switched on (yearly, 30 days to
complete; being out of compliance does not block registrations), two
custom items (an anti-bribery attestation and a certificate of insurance),
and a review for every active demo partner:

- most were opened 3 to 10 months ago and signed off by their channel
  manager within the month, with their answers and tax document;
- Northwind (the demo partner admin's partner) has this year's review
  open, due in 12 days: its admin has the checklist to complete;
- one partner of the demo channel manager submitted its review, which
  waits for their sign-off;
- one partner let its review run 9 days past its due date: it is out of
  compliance (the next daily round escalates it to its channel manager
  and ops).

The reviews are written as they stood (the services check the partners as
they are today, not as they were then); the demo's later rounds remind
and escalate through the services. Safe to run again: nothing is written
for a tenant that has reviews.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from mdf import uploads
from mdf.demo_year import pdf
from partners.models import Partner
from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import at
from prm.tenancy.roles import Role

from . import compliance, compliance_checks
from .models import ComplianceAnswer, ComplianceItem, ComplianceReview, ComplianceSettings

# For the lead: ``PRMApp(demo=DEMO, demo_after=DEMO_AFTER)`` in program/declare.py.
# Run from the program's demo step (``program.demo.seed``), after the tiers.

Status = ComplianceReview.Status
ITEMS = [
    (
        "Anti-bribery and corruption policy",
        "Confirm your organisation has read and follows our anti-bribery and corruption "
        "policy, and trained the people who sell our products on it.",
        ComplianceItem.Kind.ATTESTATION,
    ),
    (
        "Certificate of insurance",
        "Your current professional liability insurance certificate.",
        ComplianceItem.Kind.FILE,
    ),
]


def seed(ctx: DemoContext) -> None:
    tenant = ctx.tenant
    if ComplianceReview.objects.exists():
        return
    policy = ComplianceSettings.for_tenant(tenant)
    policy.enabled, policy.interval_months, policy.complete_within_days = True, 12, 30
    policy.blocks_registrations = False
    policy.save()
    items = [
        ComplianceItem.objects.get_or_create(
            tenant=tenant, label=label, defaults={"help_text": text, "kind": kind, "position": n}
        )[0]
        for n, (label, text, kind) in enumerate(ITEMS)
    ]
    partners = [
        p for p in ctx.objects.get("partners.partners") or [] if p.status == Partner.Status.ACTIVE
    ]
    if not partners:
        return
    today = tenant.local_today()
    cm = ctx.people.get(Role.CHANNEL_MANAGER)
    first = partners[0]
    rest = partners[1:]
    submitted = next(
        (p for p in rest if cm is not None and p.channel_manager_id == cm.user_id),
        rest[0] if rest else None,
    )
    overdue = next((p for p in rest if p is not submitted), None)
    for n, partner in enumerate(partners):
        if partner is first:
            _review(partner, today - timedelta(days=18), today + timedelta(days=12))
        elif partner is submitted:
            review = _review(partner, today - timedelta(days=20), today + timedelta(days=10))
            _answer(review, items, partner, today - timedelta(days=2))
            _submit(review, partner, today - timedelta(days=2))
        elif partner is overdue:
            _review(partner, today - timedelta(days=39), today - timedelta(days=9))
        else:
            opened = today - timedelta(days=90 + (n * 37) % 210)
            review = _review(partner, opened, opened + timedelta(days=30))
            done = opened + timedelta(days=8 + n % 15)
            _answer(review, items, partner, done)
            _submit(review, partner, done)
            review.status = Status.SIGNED_OFF
            review.signed_off_at = at(tenant, done + timedelta(days=3), 11)
            review.signed_off_by = partner.channel_manager
            review.save(update_fields=["status", "signed_off_at", "signed_off_by"])


def _review(partner: Partner, opens_on: date, due_on: date) -> ComplianceReview:
    return ComplianceReview.objects.create(
        tenant=partner.tenant,
        partner=partner,
        opens_on=opens_on,
        due_on=due_on,
        created_at=at(partner.tenant, opens_on, 6),
    )


def _file(row: Any, text: str) -> None:
    upload = SimpleUploadedFile("document.pdf", pdf(text), "application/pdf")
    compliance._store(row, uploads.check_upload(upload))


def _answer(
    review: ComplianceReview, items: list[ComplianceItem], partner: Partner, day: date
) -> None:
    when = at(partner.tenant, day, 14)
    for item in items:
        answer = ComplianceAnswer(
            tenant=partner.tenant, review=review, item=item, label=item.label, answered_at=when
        )
        if item.kind == ComplianceItem.Kind.FILE:
            _file(answer, f"{item.label} - {partner.name}")
        else:
            answer.attested_name = f"Partner admin of {partner.name}"
        answer.save()
    _file(review, f"Tax form - {partner.name} - {day:%Y}")
    review.save()


def _submit(review: ComplianceReview, partner: Partner, day: date) -> None:
    review.checks = compliance_checks.snapshot(compliance_checks.automatic(review, day))
    review.status = Status.SUBMITTED
    review.submitted_at = at(partner.tenant, day, 15)
    review.save(update_fields=["checks", "status", "submitted_at"])

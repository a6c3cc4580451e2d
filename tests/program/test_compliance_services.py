"""Compliance reviews' services and daily round: opening (once), answers,
submitting (what must be done first, twice is safe), signing off and
returning (the partner's channel manager or ops only), reminders 14 and
3 days before the due date, and the escalation of overdue reviews."""

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction

from onboarding.models import Agreement, AgreementVersion
from prm.tenancy.models import Notification
from prm.tenancy.roles import Role
from program import compliance, compliance_checks, compliance_sweeps
from program.errors import ProgramError
from program.models import ComplianceReview, ComplianceSettings
from tests import factories

from . import builders_compliance as b

pytestmark = pytest.mark.django_db
Status = ComplianceReview.Status


def kinds(user, kind):
    return Notification.objects.filter(user=user, kind=kind).count()


def test_the_first_round_opens_a_review_for_every_active_partner_once(acme):
    with acme.scope():
        suspended = factories.make_partner(acme.tenant, "Dormant", status="suspended")
        b.policy(acme, enabled=False)
        assert compliance_sweeps.sweep(acme.tenant).opened == 0  # switched off: nothing
        b.policy(acme, enabled=True, complete_within_days=30)
        first = compliance_sweeps.sweep(acme.tenant)
        again = compliance_sweeps.sweep(acme.tenant)
        reviews = ComplianceReview.objects.all()
        assert first.opened == 2 and again.opened == 0
        assert {r.partner_id for r in reviews} == {acme.partner.pk, acme.other_partner.pk}
        assert not reviews.filter(partner=suspended).exists()
        row = reviews.get(partner=acme.partner)
        assert row.due_on == row.opens_on + dt.timedelta(days=30)
        assert kinds(acme[Role.PARTNER_ADMIN].user, compliance.OPENED) == 1


def test_one_unfinished_review_per_partner_is_the_databases_rule(acme):
    with acme.scope():
        first = b.review(acme)
        with pytest.raises(IntegrityError), transaction.atomic():
            ComplianceReview.objects.create(
                tenant=acme.tenant,
                partner=acme.partner,
                opens_on=first.opens_on + dt.timedelta(days=1),
                due_on=first.due_on + dt.timedelta(days=1),
            )
        policy = ComplianceSettings.for_tenant(acme.tenant)
        assert compliance.open_review(acme.partner, opens_on=first.opens_on, policy=policy) is None


def test_the_next_review_opens_interval_months_after_the_last_one_signed_off(acme):
    with acme.scope():
        today = acme.tenant.local_today()
        b.policy(acme, interval_months=12)
        last = b.submitted(acme, opens_on=today - dt.timedelta(days=200))
        compliance.sign_off(last, by=acme[Role.CHANNEL_MANAGER])
        assert compliance_sweeps.to_open(today, b.policy(acme)) == [acme.other_partner]
        a_year_on = compliance.add_months(last.opens_on, 12)
        assert acme.partner in compliance_sweeps.to_open(a_year_on, b.policy(acme))
        assert acme.partner not in compliance_sweeps.to_open(
            a_year_on - dt.timedelta(days=1), b.policy(acme)
        )


def test_add_months_keeps_to_the_end_of_short_months():
    assert compliance.add_months(dt.date(2025, 1, 31), 1) == dt.date(2025, 2, 28)
    assert compliance.add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert compliance.add_months(dt.date(2025, 11, 15), 3) == dt.date(2026, 2, 15)


def test_submitting_needs_the_items_the_tax_document_and_the_profile(acme):
    with acme.scope():
        admin = acme[Role.PARTNER_ADMIN]
        item = b.item(acme)
        row = b.review(acme)
        with pytest.raises(ProgramError) as refused:
            compliance.submit(row, by=admin)
        text = str(refused.value)
        assert "Anti-bribery policy: attest it" in text
        assert "Tax document on file" in text and "Company profile complete" in text
        row.refresh_from_db()
        assert row.status == Status.OPEN and row.submitted_at is None
        b.ready(acme, row, [item])
        done = compliance.submit(row, by=admin)
        assert done.status == Status.SUBMITTED and done.submitted_by == admin.user
        assert {c["key"] for c in done.checks} >= {"agreements", "certifications", "profile"}
        cm = acme[Role.CHANNEL_MANAGER].user
        assert kinds(cm, compliance.SUBMITTED) == 1
        again = compliance.submit(done, by=admin)  # a form sent twice
        assert again.submitted_at == done.submitted_at
        assert kinds(cm, compliance.SUBMITTED) == 1


def test_an_agreement_waiting_for_acceptance_is_shown_and_stops_submission(acme):
    with acme.scope():
        agreement = Agreement.objects.create(tenant=acme.tenant, title="Partner Agreement")
        AgreementVersion.objects.create(
            tenant=acme.tenant,
            agreement=agreement,
            number=1,
            body="Terms",
            effective_on=acme.tenant.local_today() - dt.timedelta(days=5),
        )
        row = b.ready(acme, b.review(acme))
        check = compliance_checks.agreements(acme.partner, acme.tenant.local_today())
        assert not check.met and "Partner Agreement" in check.detail
        assert check.fix_url == "/onboarding/agreements/"
        with pytest.raises(ProgramError, match="Partner Agreement"):
            compliance.submit(row, by=acme[Role.PARTNER_ADMIN])


def test_only_a_partner_admin_of_the_partner_answers(acme):
    with acme.scope():
        row = b.review(acme)
        item = b.item(acme)
        for member in (acme[Role.PARTNER_USER], acme[Role.OPS_ADMIN]):
            with pytest.raises(ProgramError, match="partner admin"):
                compliance.attest(row, item, by=member, name="Someone")
        other_admin = factories.make_member(
            acme.tenant, Role.PARTNER_ADMIN, partner=acme.other_partner
        )
        with pytest.raises(ProgramError):
            compliance.upload_tax_document(row, b.pdf(), by=other_admin)
        assert not row.answers.exists()


def test_attesting_needs_a_name_and_the_right_kind_of_item(acme):
    with acme.scope():
        row = b.review(acme)
        admin = acme[Role.PARTNER_ADMIN]
        attest = b.item(acme)
        upload = b.item(acme, "Insurance", b.Kind.FILE)
        with pytest.raises(ProgramError, match="Type your name"):
            compliance.attest(row, attest, by=admin, name="   ")
        with pytest.raises(ProgramError, match="asks for a file"):
            compliance.attest(row, upload, by=admin, name="Pat")
        with pytest.raises(ProgramError, match="is attested"):
            compliance.upload_answer(row, attest, b.pdf(), by=admin)
        assert not row.answers.exists()


def test_signing_off_and_returning_are_for_the_partners_cm_and_ops(acme):
    with acme.scope():
        other_cm = factories.make_member(acme.tenant, Role.CHANNEL_MANAGER)
        row = b.submitted(acme)
        for member in (other_cm, acme[Role.PARTNER_ADMIN], acme[Role.EXECUTIVE]):
            with pytest.raises(ProgramError, match="channel manager or ops"):
                compliance.sign_off(row, by=member)
        with pytest.raises(ProgramError, match="Say what"):
            compliance.return_review(row, by=acme[Role.CHANNEL_MANAGER], reason=" ")
        back = compliance.return_review(row, by=acme[Role.CHANNEL_MANAGER], reason="Old W-9")
        assert back.status == Status.RETURNED and back.note == "Old W-9"
        assert kinds(acme[Role.PARTNER_ADMIN].user, compliance.DECIDED) == 1
        with pytest.raises(ProgramError, match="only a submitted review"):
            compliance.sign_off(back, by=acme[Role.OPS_ADMIN])
        compliance.upload_tax_document(
            back, b.pdf("new.pdf", b.PDF + b"%new"), by=acme[Role.PARTNER_ADMIN]
        )
        again = compliance.submit(back, by=acme[Role.PARTNER_ADMIN])
        done = compliance.sign_off(again, by=acme[Role.OPS_ADMIN], note="All good")
        assert done.status == Status.SIGNED_OFF and done.signed_off_by == acme[Role.OPS_ADMIN].user
        assert not Notification.objects.filter(
            task=compliance.SIGN_OFF, done_at__isnull=True
        ).exists()


def test_reminders_go_14_and_3_days_before_the_due_date_once_each(acme):
    with acme.scope():
        row = b.review(acme, days=30)
        admin = acme[Role.PARTNER_ADMIN].user
        due = row.due_on
        for days_before, expected in ((20, 0), (14, 1), (10, 1), (3, 2), (2, 2), (0, 2)):
            day = due - dt.timedelta(days=days_before)
            with time_machine.travel(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)):
                compliance_sweeps.sweep(acme.tenant)
                compliance_sweeps.sweep(acme.tenant)
            assert kinds(admin, compliance_sweeps.REMINDER) == expected, days_before
        assert compliance_sweeps.reminder_step(15) is None
        assert compliance_sweeps.reminder_step(14) == 14 and compliance_sweeps.reminder_step(1) == 3


def test_an_overdue_review_is_escalated_to_the_cm_and_ops_once(acme):
    with acme.scope():
        row = b.overdue(acme)
        result = compliance_sweeps.sweep(acme.tenant)
        again = compliance_sweeps.sweep(acme.tenant)
        assert result.escalated == 1 and again.escalated == 0
        for role in (Role.CHANNEL_MANAGER, Role.OPS_ADMIN):
            assert kinds(acme[role].user, compliance_sweeps.OVERDUE) == 1
        row.refresh_from_db()
        assert row.escalated_at is not None

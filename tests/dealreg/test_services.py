"""Every workflow transition of a deal registration, and the refusals: each
refused transition raises DealRegError with a message for the person (and
the form field it belongs to, where there is one)."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from dealreg import services
from dealreg.models import (
    DealRegistration,
    DealRegSettings,
    ExtensionRequest,
    RegistrationEvent,
    TierProtection,
)
from partners.models import Partner, Tier
from prm.tenancy.models import AuditEntry, Notification
from prm.tenancy.roles import Role
from tests import factories

from .conftest import registration_input

pytestmark = pytest.mark.django_db

Status = DealRegistration.Status
Kind = RegistrationEvent.Kind
DealRegError = services.DealRegError


def kinds(registration) -> list[str]:
    return list(
        RegistrationEvent.objects.filter(registration=registration).values_list("kind", flat=True)
    )


def notified(world, kind) -> set:
    return {n.user for n in Notification.objects.filter(kind=kind)}


def partner_side(world) -> set:
    return {world[Role.PARTNER_USER].user, world[Role.PARTNER_ADMIN].user}


@pytest.fixture
def other_cm(acme):
    """A channel manager with no tie to acme's partner."""
    with acme.scope():
        return factories.make_member(acme.tenant, Role.CHANNEL_MANAGER, email="cm2@acme.test")


@pytest.fixture
def rival(acme):
    """A partner user at acme's other partner."""
    with acme.scope():
        return factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="rival@acme.test"
        )


@pytest.fixture
def submitted(acme, submit_as):
    return submit_as(acme)


@pytest.fixture
def approved(acme, submitted):
    with acme.scope():
        return services.approve(submitted, by=acme[Role.CHANNEL_MANAGER])


# --- Drafts and submission --------------------------------------------------------------


def test_draft_then_submit(acme, products, django_capture_on_commit_callbacks):
    member = acme[Role.PARTNER_USER]
    with acme.scope():
        draft = services.save_draft(
            tenant=acme.tenant, by=member, given=registration_input(products["acme"])
        )
        assert draft.status == Status.DRAFT
        assert draft.sla_due_at is None and draft.sla_next_check_at is None
        draft = services.save_draft(
            tenant=acme.tenant,
            by=member,
            registration=draft,
            given=registration_input(products["acme"], customer_name="Initech Holdings"),
        )
        with django_capture_on_commit_callbacks(execute=True):
            registration = services.submit(tenant=acme.tenant, by=member, registration=draft)
        assert registration.pk == draft.pk
        assert registration.customer_name == "Initech Holdings"
        assert registration.status == Status.SUBMITTED
        assert registration.sla_cycle == 1
        assert registration.sla_due_at > registration.submitted_at
        assert registration.sla_next_check_at < registration.sla_due_at
        assert registration.approver == acme[Role.CHANNEL_MANAGER].user
        assert kinds(registration) == [Kind.CREATED, Kind.SUBMITTED, Kind.ASSIGNED]
        assigned = RegistrationEvent.objects.get(registration=registration, kind=Kind.ASSIGNED)
        assert assigned.visible_to_partner is False
        assert notified(acme, "dealreg.assigned") == {acme[Role.CHANNEL_MANAGER].user}
        registration.refresh_from_db()
        assert registration.conflict_state == DealRegistration.ConflictState.CLEAR


def test_the_same_form_token_saves_one_draft_and_one_submission(acme, products):
    member, token = acme[Role.PARTNER_USER], uuid.uuid4()
    given = registration_input(products["acme"])
    with acme.scope():
        first = services.save_draft(tenant=acme.tenant, by=member, given=given, client_token=token)
        again = services.save_draft(tenant=acme.tenant, by=member, given=given, client_token=token)
        assert again.pk == first.pk
        token = uuid.uuid4()
        one = services.submit(tenant=acme.tenant, by=member, given=given, client_token=token)
        two = services.submit(tenant=acme.tenant, by=member, given=given, client_token=token)
        assert two.pk == one.pk
        assert DealRegistration.objects.count() == 2


def test_staff_cannot_register_deals(acme, products):
    with acme.scope():
        for role in (Role.CHANNEL_MANAGER, Role.OPS_ADMIN):
            with pytest.raises(DealRegError, match="Only partners register deals"):
                services.submit(
                    tenant=acme.tenant, by=acme[role], given=registration_input(products["acme"])
                )
            with pytest.raises(DealRegError, match="Only partners register deals"):
                services.save_draft(
                    tenant=acme.tenant, by=acme[role], given=registration_input(products["acme"])
                )


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"customer_name": "  "}, "customer_name", "company name"),
        ({"product_lines": []}, "product_lines", "at least one product line"),
        ({"estimated_value": Decimal("0")}, "estimated_value", "more than zero"),
        (
            {"expected_close_date": date.today() - timedelta(days=1)},
            "expected_close_date",
            "in the past",
        ),
        ({"customer_domain": "not a domain"}, "customer_domain", "not a valid web domain"),
    ],
)
def test_submission_is_refused_with_a_field_message(acme, products, overrides, field, message):
    with acme.scope(), pytest.raises(DealRegError, match=message) as refused:
        services.submit(
            tenant=acme.tenant,
            by=acme[Role.PARTNER_USER],
            given=registration_input(products["acme"], **overrides),
        )
    assert refused.value.field == field
    with acme.scope():
        assert not DealRegistration.objects.exists()


def test_retired_product_lines_and_suspended_partners_are_refused(acme, products):
    given = registration_input(products["acme"])
    with acme.scope():
        products["acme"]["fw"].is_active = False
        products["acme"]["fw"].save()
        with pytest.raises(DealRegError, match="no longer offered"):
            services.submit(tenant=acme.tenant, by=acme[Role.PARTNER_USER], given=given)
        products["acme"]["fw"].is_active = True
        products["acme"]["fw"].save()
        Partner.objects.filter(pk=acme.partner.pk).update(status=Partner.Status.SUSPENDED)
        acme[Role.PARTNER_USER].partner.refresh_from_db()
        with pytest.raises(DealRegError, match="is suspended and cannot register deals"):
            services.submit(tenant=acme.tenant, by=acme[Role.PARTNER_USER], given=given)


def test_a_submitted_registration_is_not_submitted_or_edited_as_a_draft_again(
    acme, products, submitted
):
    member = acme[Role.PARTNER_USER]
    with acme.scope():
        with pytest.raises(DealRegError, match="submitted cannot be submitted"):
            services.submit(tenant=acme.tenant, by=member, registration=submitted)
        with pytest.raises(DealRegError, match="submitted cannot be edited as a draft"):
            services.save_draft(
                tenant=acme.tenant,
                by=member,
                registration=submitted,
                given=registration_input(products["acme"]),
            )


def test_only_the_registering_partner_submits_its_draft(acme, products, rival):
    with acme.scope():
        draft = services.save_draft(
            tenant=acme.tenant,
            by=acme[Role.PARTNER_USER],
            given=registration_input(products["acme"]),
        )
        with pytest.raises(DealRegError, match="Only the registering partner"):
            services.submit(tenant=acme.tenant, by=rival, registration=draft)


# --- Information requests -------------------------------------------------------------------


def test_request_info_pauses_the_clock_and_tells_the_partner(acme, submitted):
    cm = acme[Role.CHANNEL_MANAGER]
    with acme.scope():
        paused = services.request_info(submitted, by=cm, message="How many seats?")
        assert paused.status == Status.MORE_INFO
        assert paused.sla_paused and paused.sla_remaining_seconds > 0
        assert paused.sla_next_check_at is None
        assert services.sla_state(paused) == "paused"
        assert Kind.INFO_REQUESTED in kinds(paused)
        assert notified(acme, "dealreg.info_requested") == partner_side(acme)


def test_request_info_refusals(acme, submitted, other_cm):
    with acme.scope():
        with pytest.raises(DealRegError, match="Say what information") as refused:
            services.request_info(submitted, by=acme[Role.CHANNEL_MANAGER], message=" ")
        assert refused.value.field == "message"
        for who in (acme[Role.PARTNER_USER], other_cm, acme[Role.FINANCE]):
            with pytest.raises(DealRegError, match="You may not decide this registration"):
                services.request_info(submitted, by=who, message="Why?")
        services.request_info(submitted, by=acme[Role.OPS_ADMIN], message="Seats?")
        with pytest.raises(
            DealRegError, match="more information requested cannot be sent back for information"
        ):
            services.request_info(submitted, by=acme[Role.OPS_ADMIN], message="Again?")


def test_provide_info_resumes_the_clock_with_the_time_left(acme, submitted, products):
    cm, partner = acme[Role.CHANNEL_MANAGER], acme[Role.PARTNER_USER]
    with acme.scope():
        calendar = DealRegSettings.for_tenant(acme.tenant).calendar()
        paused = services.request_info(submitted, by=cm, message="Seats?")
        left = timedelta(seconds=paused.sla_remaining_seconds)
        later = paused.sla_paused_at + timedelta(days=7)
        resumed = services.provide_info(
            paused,
            by=partner,
            message="500 seats",
            given=registration_input(products["acme"], estimated_value=Decimal("40000")),
            now=later,
        )
        assert resumed.status == Status.SUBMITTED
        assert resumed.estimated_value == Decimal("40000")
        assert resumed.sla_paused_at is None and resumed.sla_remaining_seconds is None
        assert resumed.sla_due_at == calendar.add(later, left)
        assert resumed.sla_next_check_at is not None
        assert kinds(resumed)[-1] == Kind.INFO_PROVIDED
        assert notified(acme, "dealreg.info_provided") == {cm.user}


def test_provide_info_refusals(acme, submitted, rival):
    with acme.scope():
        with pytest.raises(DealRegError, match="submitted cannot be answered"):
            services.provide_info(submitted, by=acme[Role.PARTNER_USER], message="Here")
        services.request_info(submitted, by=acme[Role.CHANNEL_MANAGER], message="Seats?")
        with pytest.raises(DealRegError, match="Write your answer") as refused:
            services.provide_info(submitted, by=acme[Role.PARTNER_USER], message="")
        assert refused.value.field == "message"
        for who in (rival, acme[Role.CHANNEL_MANAGER]):
            with pytest.raises(DealRegError, match="Only the registering partner"):
                services.provide_info(submitted, by=who, message="Here")


# --- Decisions ---------------------------------------------------------------------------------


def test_approval_grants_the_default_protection(acme, submitted):
    with acme.scope():
        decided = services.approve(submitted, by=acme[Role.CHANNEL_MANAGER], reason="Good fit")
        assert decided.status == Status.APPROVED
        assert decided.sla_met is True
        assert decided.decided_by == acme[Role.CHANNEL_MANAGER].user
        assert decided.protected_until == acme.tenant.local_today() + timedelta(days=90)
        assert decided.sla_next_check_at is None
        event = RegistrationEvent.objects.get(registration=decided, kind=Kind.APPROVED)
        assert event.visible_to_partner and event.data["sla_met"] is True
        assert AuditEntry.objects.filter(action="dealreg.approved", object_id=str(decided.pk))
        assert notified(acme, "dealreg.approved") == partner_side(acme)


def test_a_tier_override_sets_the_protection_period(acme, submitted):
    with acme.scope():
        TierProtection.objects.create(
            tenant=acme.tenant, tier=Tier.objects.get(name="Gold"), protection_days=120
        )
        decided = services.approve(submitted, by=acme[Role.OPS_ADMIN])
        assert decided.protected_until == acme.tenant.local_today() + timedelta(days=120)


def test_a_late_decision_records_the_sla_as_missed(acme, submitted):
    with acme.scope():
        decided = services.reject(
            submitted,
            by=acme[Role.CHANNEL_MANAGER],
            reason="Duplicate",
            now=submitted.sla_due_at + timedelta(minutes=1),
        )
        assert decided.sla_met is False


def test_a_decision_while_paused_counts_the_time_left(acme, submitted):
    with acme.scope():
        services.request_info(submitted, by=acme[Role.CHANNEL_MANAGER], message="Seats?")
        decided = services.approve(
            submitted, by=acme[Role.CHANNEL_MANAGER], now=submitted.sla_due_at + timedelta(days=9)
        )
        assert decided.status == Status.APPROVED
        assert decided.sla_met is True


def test_who_may_decide(acme, submitted, other_cm):
    with acme.scope():
        for who in (
            acme[Role.PARTNER_USER],
            acme[Role.PARTNER_ADMIN],
            other_cm,
            acme[Role.EXECUTIVE],
        ):
            with pytest.raises(DealRegError, match="You may not decide this registration"):
                services.approve(submitted, by=who)
            with pytest.raises(DealRegError, match="You may not decide this registration"):
                services.reject(submitted, by=who, reason="No")
        # The approver it was routed to may decide even if not the partner's manager.
        services.reassign(submitted, by=acme[Role.OPS_ADMIN], approver=other_cm.user)
        assert services.approve(submitted, by=other_cm).status == Status.APPROVED


def test_decided_registrations_are_not_decided_again(acme, approved):
    ops = acme[Role.OPS_ADMIN]
    with acme.scope():
        with pytest.raises(DealRegError, match="approved cannot be approved"):
            services.approve(approved, by=ops)
        with pytest.raises(DealRegError, match="approved cannot be rejected"):
            services.reject(approved, by=ops, reason="Changed my mind")
        with pytest.raises(DealRegError, match="approved cannot be sent back"):
            services.request_info(approved, by=ops, message="?")
        with pytest.raises(DealRegError, match="approved cannot be reassigned"):
            services.reassign(approved, by=ops, approver=ops.user)


def test_rejection_needs_a_reason_and_tells_the_partner(acme, submitted):
    cm = acme[Role.CHANNEL_MANAGER]
    with acme.scope():
        with pytest.raises(DealRegError, match="Give the partner a reason") as refused:
            services.reject(submitted, by=cm, reason="  ")
        assert refused.value.field == "reason"
        decided = services.reject(submitted, by=cm, reason="Existing direct deal")
        assert decided.status == Status.REJECTED
        assert decided.decision_reason == "Existing direct deal"
        assert decided.protected_until is None and decided.sla_next_check_at is None
        assert kinds(decided)[-1] == Kind.REJECTED
        assert notified(acme, "dealreg.rejected") == partner_side(acme)
        with pytest.raises(DealRegError, match="rejected cannot be approved"):
            services.approve(decided, by=cm)


# --- Withdrawal and reassignment ---------------------------------------------------------------


def test_the_partner_withdraws_a_pending_registration(acme, submitted):
    with acme.scope():
        withdrawn = services.withdraw(submitted, by=acme[Role.PARTNER_ADMIN], reason="Lost it")
        assert withdrawn.status == Status.WITHDRAWN
        assert withdrawn.sla_next_check_at is None
        assert kinds(withdrawn)[-1] == Kind.WITHDRAWN
        assert notified(acme, "dealreg.withdrawn") == {acme[Role.CHANNEL_MANAGER].user}
        with pytest.raises(DealRegError, match="withdrawn cannot be withdrawn"):
            services.withdraw(withdrawn, by=acme[Role.PARTNER_USER])


def test_withdrawal_of_an_approved_registration_and_refusals(acme, approved, rival):
    with acme.scope():
        for who in (rival, acme[Role.CHANNEL_MANAGER]):
            with pytest.raises(DealRegError, match="Only the registering partner"):
                services.withdraw(approved, by=who)
        assert services.withdraw(approved, by=acme[Role.PARTNER_USER]).status == Status.WITHDRAWN


def test_ops_reassign_a_pending_registration(acme, submitted, other_cm):
    ops = acme[Role.OPS_ADMIN]
    with acme.scope():
        moved = services.reassign(submitted, by=ops, approver=other_cm.user, reason="Holiday")
        assert moved.approver == other_cm.user
        event = RegistrationEvent.objects.get(registration=moved, kind=Kind.REASSIGNED)
        assert event.visible_to_partner is False
        assert event.data == {"from": acme[Role.CHANNEL_MANAGER].user.email, "to": "cm2@acme.test"}
        assert AuditEntry.objects.filter(action="dealreg.reassigned").count() == 1
        assert other_cm.user in notified(acme, "dealreg.assigned")


def test_reassign_refusals(acme, submitted, other_cm):
    ops = acme[Role.OPS_ADMIN]
    with acme.scope():
        with pytest.raises(DealRegError, match="Only ops admins reassign"):
            services.reassign(submitted, by=acme[Role.CHANNEL_MANAGER], approver=other_cm.user)
        with pytest.raises(DealRegError, match="cannot approve registrations here") as refused:
            services.reassign(submitted, by=ops, approver=acme[Role.PARTNER_USER].user)
        assert refused.value.field == "approver"
        with pytest.raises(DealRegError, match="is already the approver"):
            services.reassign(submitted, by=ops, approver=acme[Role.CHANNEL_MANAGER].user)


# --- Messages ------------------------------------------------------------------------------------


def test_messages_go_to_the_other_side(acme, submitted, rival):
    with acme.scope():
        services.add_message(submitted, by=acme[Role.PARTNER_USER], text="Any news?")
        assert notified(acme, "dealreg.message") == {acme[Role.CHANNEL_MANAGER].user}
        Notification.objects.all().delete()
        services.add_message(submitted, by=acme[Role.CHANNEL_MANAGER], text="Tomorrow")
        assert notified(acme, "dealreg.message") == partner_side(acme)
        assert kinds(submitted).count(Kind.MESSAGE) == 2
        with pytest.raises(DealRegError, match="Write a message") as refused:
            services.add_message(submitted, by=acme[Role.PARTNER_USER], text=" ")
        assert refused.value.field == "text"
        with pytest.raises(DealRegError, match="You may not write on this registration"):
            services.add_message(submitted, by=rival, text="Hello")


# --- Extensions and outcomes -------------------------------------------------------------------


def test_extension_requested_and_approved(acme, approved):
    with acme.scope():
        extension = services.request_extension(
            approved, by=acme[Role.PARTNER_USER], reason="Budget moved to Q2"
        )
        assert extension.days == 30
        assert extension.previous_until == approved.protected_until
        assert acme[Role.CHANNEL_MANAGER].user in notified(acme, "dealreg.extension_requested")
        with pytest.raises(DealRegError, match="already waiting for a decision"):
            services.request_extension(approved, by=acme[Role.PARTNER_USER], reason="Again")
        decided = services.decide_extension(extension, by=acme[Role.CHANNEL_MANAGER], approve=True)
        assert decided.status == ExtensionRequest.Status.APPROVED
        approved.refresh_from_db()
        assert approved.protected_until == extension.previous_until + timedelta(days=30)
        assert decided.new_until == approved.protected_until
        assert approved.extension_count == 1
        with pytest.raises(DealRegError, match="already been decided"):
            services.decide_extension(
                extension, by=acme[Role.CHANNEL_MANAGER], approve=False, reason="x"
            )


def test_extension_refusals(acme, submitted, approved):
    with acme.scope():
        DealRegSettings.objects.update(max_extensions=1)
        with pytest.raises(DealRegError, match="Say why") as refused:
            services.request_extension(approved, by=acme[Role.PARTNER_USER], reason="")
        assert refused.value.field == "reason"
        extension = services.request_extension(approved, by=acme[Role.PARTNER_USER], reason="Q2")
        with pytest.raises(DealRegError, match="You may not decide"):
            services.decide_extension(extension, by=acme[Role.PARTNER_ADMIN], approve=True)
        with pytest.raises(DealRegError, match="reason for refusing"):
            services.decide_extension(extension, by=acme[Role.CHANNEL_MANAGER], approve=False)
        refused_ext = services.decide_extension(
            extension, by=acme[Role.CHANNEL_MANAGER], approve=False, reason="No budget proof"
        )
        assert refused_ext.status == ExtensionRequest.Status.REJECTED
        approved.refresh_from_db()
        assert approved.protected_until == extension.previous_until
        assert approved.extension_count == 0
        services.decide_extension(
            services.request_extension(approved, by=acme[Role.PARTNER_USER], reason="Q3"),
            by=acme[Role.CHANNEL_MANAGER],
            approve=True,
        )
        with pytest.raises(DealRegError, match="has had its 1 extension"):
            services.request_extension(approved, by=acme[Role.PARTNER_USER], reason="Q4")


def test_only_approved_registrations_are_extended_or_closed(acme, submitted):
    with acme.scope():
        with pytest.raises(DealRegError, match="submitted cannot be extended"):
            services.request_extension(submitted, by=acme[Role.PARTNER_USER], reason="Time")
        with pytest.raises(DealRegError, match="submitted cannot be closed as won or lost"):
            services.record_outcome(
                submitted, by=acme[Role.PARTNER_USER], won=False, reason="Price"
            )


def test_outcome_won(acme, approved):
    with acme.scope():
        with pytest.raises(DealRegError, match="amount the deal was won for") as refused:
            services.record_outcome(approved, by=acme[Role.PARTNER_USER], won=True)
        assert refused.value.field == "amount"
        with pytest.raises(DealRegError, match="date the deal closed"):
            services.record_outcome(
                approved, by=acme[Role.PARTNER_USER], won=True, amount=Decimal("10")
            )
        with pytest.raises(DealRegError, match="cannot be in the future"):
            services.record_outcome(
                approved,
                by=acme[Role.PARTNER_USER],
                won=True,
                amount=Decimal("10"),
                close_date=acme.tenant.local_today() + timedelta(days=1),
            )
        won = services.record_outcome(
            approved,
            by=acme[Role.PARTNER_USER],
            won=True,
            amount=Decimal("27500.00"),
            close_date=acme.tenant.local_today(),
        )
        assert won.status == Status.WON
        assert (won.won_amount, won.won_currency) == (Decimal("27500.00"), "USD")
        assert AuditEntry.objects.filter(action="dealreg.won").exists()
        assert notified(acme, "dealreg.outcome") == {acme[Role.CHANNEL_MANAGER].user}
        with pytest.raises(DealRegError, match="won cannot be closed as won or lost"):
            services.record_outcome(won, by=acme[Role.PARTNER_USER], won=False, reason="x")


def test_outcome_lost_and_who_may_record_it(acme, approved, other_cm, rival):
    with acme.scope():
        with pytest.raises(DealRegError, match="Say why the deal was lost") as refused:
            services.record_outcome(approved, by=acme[Role.CHANNEL_MANAGER], won=False)
        assert refused.value.field == "reason"
        for who in (other_cm, rival):
            with pytest.raises(DealRegError, match="may not record the outcome"):
                services.record_outcome(approved, by=who, won=False, reason="Price")
        lost = services.record_outcome(
            approved, by=acme[Role.CHANNEL_MANAGER], won=False, reason="Price"
        )
        assert lost.status == Status.LOST and lost.lost_reason == "Price"
        assert notified(acme, "dealreg.outcome") == partner_side(acme)

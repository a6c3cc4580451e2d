"""Approval: the partner, its primary contact, the applicant's invitation,
its channel manager and its plan, made in one transaction (a failure at
any step leaves nothing), mail after commit; and each refusal."""

import pytest
from django.core import mail

from onboarding import plans, vetting
from onboarding.errors import OnboardingError
from onboarding.models import Application, ApplicationEvent, OnboardingSettings, Plan
from partners.models import Contact, Partner, Tier
from prm.tenancy.models import AuditEntry, Invitation, Membership, Notification, OutboxMessage
from prm.tenancy.roles import Role
from tests import factories

from . import builders_vetting as b

pytestmark = pytest.mark.django_db
Status = Application.Status


@pytest.fixture
def ready(acme):
    """A queued application with its required check ticked, and a plan
    template for its type."""
    with acme.scope():
        b.template(acme, "reseller")
        b.check(acme, "References checked")
        b.check(acme, "Nice to have", required=False)
        app = b.queued(acme, company="Contoso Networks", website="https://www.contoso.test")
        b.tick_all(acme, app, acme[Role.OPS_ADMIN])
        return app


def nothing_made(world, app):
    """No trace of the approval: what a rolled-back approval leaves."""
    assert not Partner.objects.filter(name=app.company_name).exists()
    assert not Invitation.objects.filter(email=app.contact_email).exists()
    assert not Contact.objects.filter(email=app.contact_email).exists()
    assert not Plan.objects.filter(application=app).exists()
    assert not ApplicationEvent.objects.filter(application=app, kind="approved").exists()
    assert not OutboxMessage.objects.filter(kwargs__kind="approved").exists()
    assert not AuditEntry.objects.filter(action="invitation.sent").exists()
    assert not AuditEntry.objects.filter(
        action="partner.created", object_repr=app.company_name
    ).exists()
    fresh = Application.objects.get(pk=app.pk)
    assert (fresh.status, fresh.partner_id, fresh.decided_at) == (Status.SUBMITTED, None, None)


def test_approval_creates_the_partner_its_admin_invitation_manager_and_plan(
    acme, ready, django_capture_on_commit_callbacks
):
    ops = acme[Role.OPS_ADMIN]
    cm = acme[Role.CHANNEL_MANAGER].user
    with acme.scope(), django_capture_on_commit_callbacks(execute=True):
        done = vetting.approve(ready, by=ops)
    with acme.scope():
        assert done is ready and done.status == Status.APPROVED
        partner = Partner.objects.get(pk=done.partner_id)
        assert (partner.name, partner.website, partner.partner_type) == (
            "Contoso Networks",
            "https://www.contoso.test",
            "reseller",
        )
        assert partner.status == Partner.Status.ONBOARDING
        assert str(partner.country) == "US" and partner.region.code == "na"
        # The joining tier: the lowest-ranked when the settings name none.
        assert partner.tier == Tier.objects.get(name="Silver")
        # The least busy channel manager (the only one).
        assert partner.channel_manager == cm
        assert cm.has_perm("partners.manage_partner", partner)
        contact = Contact.objects.get(partner=partner)
        assert contact.is_primary and contact.email == ready.contact_email
        invitation = Invitation.objects.get(email=ready.contact_email)
        assert (invitation.role, invitation.partner, invitation.invited_by) == (
            Role.PARTNER_ADMIN,
            partner,
            ops.user,
        )
        plan = Plan.objects.get(partner=partner)
        assert plan.application == done and plan.steps.count() == 1
        assert (done.decided_by, done.next_check_at) == (ops.user, None)
        event = ApplicationEvent.objects.get(application=done, kind="approved")
        assert "invited as its partner admin" in event.message and event.by == ops.user
        assert AuditEntry.objects.filter(action="onboarding.application_approved").count() == 1
        assert Notification.objects.filter(kind="onboarding.partner_assigned", user=cm).exists()
    subjects = {m.subject for m in mail.outbox if ready.contact_email in m.to}
    assert "[Acme Corp] Your application is approved" in subjects
    assert len(subjects) == 2  # and the invitation


def test_approval_takes_a_tier_and_a_manager_and_the_settings_joining_tier(acme, ready):
    with acme.scope():
        gold = Tier.objects.get(name="Gold")
        second = factories.make_member(acme.tenant, Role.CHANNEL_MANAGER, email="cm2@acme.test")
        done = vetting.approve(
            ready, by=acme[Role.OPS_ADMIN], tier=gold, channel_manager=second.user
        )
        partner = Partner.objects.get(pk=done.partner_id)
        assert (partner.tier, partner.channel_manager) == (gold, second.user)
        settings_row = OnboardingSettings.for_tenant(acme.tenant)
        settings_row.entry_tier = gold
        settings_row.save()
        other = b.queued(acme)
        b.tick_all(acme, other, acme[Role.OPS_ADMIN])
        assert (
            Partner.objects.get(pk=vetting.approve(other, by=acme[Role.OPS_ADMIN]).partner_id).tier
            == gold
        )


def refused(call, *args, **kwargs) -> OnboardingError:
    with pytest.raises(OnboardingError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_approval_needs_every_required_active_check_and_names_the_missing(acme):
    with acme.scope():
        ops = acme[Role.OPS_ADMIN]
        app = b.queued(acme)
        refs = b.check(acme, "References checked")
        b.check(acme, "Sanctions screening done")
        b.check(acme, "Optional", required=False)
        b.check(acme, "Retired", is_active=False)
        vetting.tick_check(app, refs, by=ops)
        error = refused(vetting.approve, app, by=ops)
        assert error.field == "checks"
        assert "Sanctions screening done" in str(error) and "References" not in str(error)
        assert "Optional" not in str(error) and "Retired" not in str(error)
        nothing_made(acme, app)


def test_approval_refusals_before_anything_is_written(acme, globex, ready):
    with globex.scope():
        foreign_tier = Tier.objects.get(name="Gold")
    with acme.scope():
        ops = acme[Role.OPS_ADMIN]
        assert refused(vetting.approve, ready, by=ops, tier=foreign_tier).field == "tier"
        finance = acme[Role.FINANCE].user
        error = refused(vetting.approve, ready, by=ops, channel_manager=finance)
        assert error.field == "channel_manager"
        # A channel manager decides only the applications assigned to them.
        error = refused(vetting.approve, ready, by=acme[Role.CHANNEL_MANAGER])
        assert "assigned" in str(error)
        nothing_made(acme, ready)


def test_the_assigned_channel_manager_approves_and_invites_the_applicant(acme, ready):
    with acme.scope():
        cm = acme[Role.CHANNEL_MANAGER]
        Application.objects.filter(pk=ready.pk).update(reviewer=cm.user)
        ready.refresh_from_db()
        approved = vetting.approve(ready, by=cm)
        assert approved.status == Application.Status.APPROVED
        invitation = Invitation.objects.get(email=ready.contact_email.lower())
        assert invitation.role == Role.PARTNER_ADMIN and invitation.partner == approved.partner
        assert invitation.invited_by == cm.user


def test_approval_refused_without_any_tier(acme, monkeypatch):
    monkeypatch.setattr(OnboardingSettings, "joining_tier", lambda self: None)
    with acme.scope():
        app = b.queued(acme)
        assert refused(vetting.approve, app, by=acme[Role.OPS_ADMIN]).field == "tier"


def test_a_second_approval_is_refused_cleanly(acme, ready):
    with acme.scope():
        ops = acme[Role.OPS_ADMIN]
        vetting.approve(ready, by=ops)
        stale = Application.objects.get(pk=ready.pk)
        stale.status = Status.SUBMITTED  # a form submitted twice, from the old page
        error = refused(vetting.approve, stale, by=ops)
        assert "is approved" in str(error)
        assert Partner.objects.filter(name=ready.company_name).count() == 1
        assert Invitation.objects.filter(email=ready.contact_email).count() == 1
        assert ApplicationEvent.objects.filter(kind="approved").count() == 1


# --- All or nothing ------------------------------------------------------------------------


def test_an_applicant_already_a_member_leaves_nothing(acme, ready):
    """The invitation is refused after the partner and contact are made."""
    with acme.scope():
        factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.partner, email=ready.contact_email
        )
        error = refused(vetting.approve, ready, by=acme[Role.OPS_ADMIN])
        assert "could not be invited" in str(error) and "already a member" in str(error)
        nothing_made(acme, ready)
        assert Membership.objects.filter(user__email=ready.contact_email).count() == 1


def test_a_plan_that_cannot_start_leaves_nothing(acme, ready, monkeypatch):
    """A failure after the partner, contact and invitation are made."""
    made = []

    def failing_start(partner, **kwargs):
        made.append(Partner.objects.filter(pk=partner.pk).exists())
        raise OnboardingError(f"{partner.name} already has an onboarding plan.")

    monkeypatch.setattr(plans, "start_plan", failing_start)
    with acme.scope():
        error = refused(vetting.approve, ready, by=acme[Role.OPS_ADMIN])
        assert "onboarding plan" in str(error)
        assert made == [True]  # the partner existed when it failed
        nothing_made(acme, ready)


def test_a_company_already_a_partner_leaves_nothing(acme):
    """The partner directory refuses a duplicate name: named in the refusal."""
    with acme.scope():
        app = b.queued(acme, company="Acme Reseller One", website="https://elsewhere.test")
        error = refused(vetting.approve, app, by=acme[Role.OPS_ADMIN])
        assert "could not be created" in str(error) and "Acme Reseller One" in str(error)
        assert Partner.objects.filter(normalized_name=app.normalized_name).count() == 1
        assert not Invitation.objects.filter(email=app.contact_email).exists()
        assert Application.objects.get(pk=app.pk).status == Status.SUBMITTED


def test_without_a_plan_template_the_partner_is_made_with_no_plan(acme):
    with acme.scope():
        app = b.queued(acme, partner_type="msp")
        done = vetting.approve(app, by=acme[Role.OPS_ADMIN])
        assert done.status == Status.APPROVED and not Plan.objects.exists()
        event = ApplicationEvent.objects.get(application=done, kind="approved")
        assert "No plan template applies" in event.message

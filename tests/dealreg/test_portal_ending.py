"""Ending a registration from the portal: withdrawing asks first on a page
that states the consequence; a draft is deleted (not withdrawn), and staff
never see a registration that was never submitted."""

import importlib

import pytest
from django.apps import apps as django_apps

from dealreg import services
from dealreg.models import DealRegistration, RegistrationEvent
from dealreg.services import DealRegError
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import STAFF_ROLES, Role
from tests import factories

from .conftest import registration_input

pytestmark = pytest.mark.django_db

Status = DealRegistration.Status


def url(registration, action: str = "") -> str:
    return f"/deals/{registration.code}/" + (f"{action}/" if action else "")


def fresh(world, registration) -> DealRegistration | None:
    with world.scope():
        return DealRegistration.objects.filter(pk=registration.pk).first()


@pytest.fixture
def submitted(acme, submit_as):
    return submit_as(acme, customer_name="Initech Corporation")


@pytest.fixture
def approved(acme, submitted):
    with acme.scope():
        return services.approve(submitted, by=acme[Role.CHANNEL_MANAGER], reason="Fine")


@pytest.fixture
def draft(acme, products):
    with acme.scope():
        return services.save_draft(
            tenant=acme.tenant,
            by=acme[Role.PARTNER_USER],
            given=registration_input(products["acme"], customer_name="Umbrella Holdings"),
        )


class TestWithdrawConfirmation:
    def test_get_states_that_protection_ends_today(self, acme, approved):
        response = acme.client(Role.PARTNER_USER).get(url(approved, "withdraw"))
        assert response.status_code == 200
        page = response.content.decode()
        assert "Withdraw DR-" in page
        with acme.scope():
            today = acme.tenant.local_today()
            until = fresh(acme, approved).protected_until
        assert (
            f"Protection for Initech Corporation ends today ({today.day} {today:%b %Y}) "
            f"instead of on {until.day} {until:%b %Y}"
        ) in page
        assert "cannot be resubmitted" in page
        assert 'name="confirm" value="yes"' in page
        assert fresh(acme, approved).status == Status.APPROVED

    def test_a_pending_registration_says_the_review_stops(self, acme, submitted):
        page = acme.client(Role.PARTNER_USER).get(url(submitted, "withdraw")).content.decode()
        assert "stops reviewing it" in page
        assert "Protection for" not in page

    def test_post_without_confirm_does_nothing_and_repeats_the_reason(self, acme, approved):
        response = acme.client(Role.PARTNER_USER).post(
            url(approved, "withdraw"), {"reason": "Customer bought elsewhere"}
        )
        assert response.status_code == 200
        assert response.context["hidden"] == [("reason", "Customer bought elsewhere")]
        assert fresh(acme, approved).status == Status.APPROVED

    def test_post_with_confirm_withdraws(self, acme, approved):
        response = acme.client(Role.PARTNER_USER).post(
            url(approved, "withdraw"), {"reason": "Customer bought elsewhere", "confirm": "yes"}
        )
        assert response.status_code == 302
        assert fresh(acme, approved).status == Status.WITHDRAWN

    def test_other_tenant_404_and_staff_403(self, acme, globex, approved):
        assert globex.client(Role.PARTNER_USER).get(url(approved, "withdraw")).status_code == 404
        for role in STAFF_ROLES:
            response = acme.client(role).post(url(approved, "withdraw"), {"confirm": "yes"})
            assert response.status_code == 403, role
        assert fresh(acme, approved).status == Status.APPROVED

    def test_another_partner_gets_404(self, acme, approved):
        with acme.scope():
            rival = factories.make_member(
                acme.tenant, Role.PARTNER_USER, partner=acme.other_partner
            )
        client = acme.client()
        client.force_login(rival.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
        assert client.post(url(approved, "withdraw"), {"confirm": "yes"}).status_code == 404
        assert fresh(acme, approved).status == Status.APPROVED

    def test_a_draft_is_not_withdrawn(self, acme, draft):
        response = acme.client(Role.PARTNER_USER).post(url(draft, "withdraw"), {"confirm": "yes"})
        assert response.status_code == 302
        assert fresh(acme, draft).status == Status.DRAFT
        with acme.scope(), pytest.raises(DealRegError, match="delete it instead"):
            services.withdraw(draft, by=acme[Role.PARTNER_USER])


class TestDeleteDraft:
    def test_the_draft_page_offers_delete_not_withdraw(self, acme, draft):
        page = acme.client(Role.PARTNER_USER).get(url(draft)).content.decode()
        assert url(draft, "delete") in page
        assert "Withdraw registration" not in page

    def test_get_and_unconfirmed_post_ask_and_keep_it(self, acme, draft):
        client = acme.client(Role.PARTNER_ADMIN)
        page = client.get(url(draft, "delete")).content.decode()
        assert "The draft for Umbrella Holdings is deleted for good" in page
        assert "nobody at Acme Corp has seen it" in page
        assert client.post(url(draft, "delete")).status_code == 200
        assert fresh(acme, draft) is not None

    def test_confirmed_delete_removes_the_row_and_its_events(self, acme, draft):
        response = acme.client(Role.PARTNER_USER).post(url(draft, "delete"), {"confirm": "yes"})
        assert response.status_code == 302
        assert response["Location"] == "/deals/"
        assert fresh(acme, draft) is None
        with acme.scope():
            assert not RegistrationEvent.objects.filter(registration_id=draft.pk).exists()
            entry = AuditEntry.objects.get(action="dealreg.draft_deleted")
        assert entry.object_id == str(draft.pk)
        assert entry.data["code"] == draft.code
        assert entry.actor == acme[Role.PARTNER_USER].user

    def test_a_submitted_registration_is_not_deleted(self, acme, submitted):
        response = acme.client(Role.PARTNER_USER).post(url(submitted, "delete"), {"confirm": "yes"})
        assert response.status_code == 302
        assert fresh(acme, submitted).status == Status.SUBMITTED
        with acme.scope(), pytest.raises(DealRegError, match="withdraw it instead"):
            services.delete_draft(submitted, by=acme[Role.PARTNER_USER])

    def test_other_tenant_404_and_staff_403(self, acme, globex, draft):
        assert globex.client(Role.PARTNER_ADMIN).get(url(draft, "delete")).status_code == 404
        for role in STAFF_ROLES:
            response = acme.client(role).post(url(draft, "delete"), {"confirm": "yes"})
            assert response.status_code == 403, role
        assert fresh(acme, draft) is not None


class TestStaffNeverSeeDrafts:
    def _withdrawn_draft(self, acme, draft):
        # How a draft was "withdrawn" before drafts were deleted.
        with acme.scope():
            DealRegistration.objects.filter(pk=draft.pk).update(status=Status.WITHDRAWN)
        return draft

    def test_the_admin_list_and_page_leave_out_never_submitted(self, acme, draft, submitted):
        self._withdrawn_draft(acme, draft)
        client = acme.client(Role.OPS_ADMIN)
        listing = client.get("/admin/dealreg/dealregistration/?status=withdrawn")
        assert listing.status_code == 200
        codes = {r.code for r in listing.context["cl"].result_list}
        assert draft.code not in codes
        everything = client.get("/admin/dealreg/dealregistration/?all=1")
        assert draft.code not in {r.code for r in everything.context["cl"].result_list}
        assert submitted.code in {r.code for r in everything.context["cl"].result_list}
        change = client.get(f"/admin/dealreg/dealregistration/{draft.pk}/change/")
        assert change.status_code in (302, 404)

    def test_the_migration_deletes_withdrawn_drafts_only(self, acme, draft, submitted):
        self._withdrawn_draft(acme, draft)
        with acme.scope():
            services.withdraw(submitted, by=acme[Role.PARTNER_USER])
        migration = importlib.import_module("dealreg.migrations.0013_delete_withdrawn_drafts")
        migration.delete_withdrawn_drafts(django_apps, None)
        assert fresh(acme, draft) is None
        assert fresh(acme, submitted).status == Status.WITHDRAWN
        with acme.scope():
            entry = AuditEntry.objects.get(action="dealreg.draft_deleted")
        assert entry.data["code"] == draft.code

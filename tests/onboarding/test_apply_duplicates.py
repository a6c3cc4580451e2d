"""Duplicates named when an application is queued: an existing partner or
another open application of the same company (the partner directory's
normalized name, legal name or web domain)."""

import pytest
from django.utils import timezone

from onboarding import applications
from onboarding.models import Application
from tests import factories

from .builders_apply import confirmed, received

Status = Application.Status


def partner(world, name, **data):
    with world.scope():
        return factories.make_partner(world.tenant, name, **data)


@pytest.mark.django_db
class TestDuplicatePartner:
    def test_the_same_name_as_normalized(self, acme):
        existing = partner(acme, "Initech GmbH & Co. KG", website="https://initech-partner.example")
        application = confirmed(acme, company_name="INITECH", legal_name="", website="")
        assert application.duplicate_partner == existing
        with acme.scope():
            assert applications.duplicate_notes(application) == [
                "Already a partner: “Initech GmbH & Co. KG” (active), with the same name."
            ]

    def test_the_same_web_domain(self, acme):
        application = confirmed(
            acme,
            company_name="One Reseller",
            legal_name="",
            website="https://www.one.acme-partners.test/about",
        )
        assert application.domain == "one.acme-partners.test"
        assert application.duplicate_partner == acme.partner
        with acme.scope():
            [note] = applications.duplicate_notes(application)
        assert note == (
            f"Already a partner: “{acme.partner.name}” (active), "
            "with the same web domain, one.acme-partners.test."
        )

    def test_the_applications_legal_name_is_the_partners_name(self, acme):
        existing = partner(acme, "Initrode")
        application = confirmed(acme, company_name="Initech", legal_name="Initrode Inc.")
        assert application.duplicate_partner == existing

    def test_the_partners_legal_name_is_the_applications_name(self, acme):
        existing = partner(acme, "Chotchkie's", legal_name="Initech Holdings Ltd")
        application = confirmed(acme, company_name="Initech Holdings", legal_name="")
        assert application.duplicate_partner == existing
        with acme.scope():
            [note] = applications.duplicate_notes(application)
        assert note.endswith("with the same legal name.")

    def test_another_company_is_no_duplicate(self, acme):
        partner(acme, "Initrode", website="https://initrode.example")
        application = confirmed(acme)
        assert application.duplicate_partner is None
        assert application.duplicate_application is None
        with acme.scope():
            assert applications.duplicate_notes(application) == []

    def test_another_tenants_partner_is_no_duplicate(self, acme, globex):
        partner(globex, "Initech", website="https://initech.example")
        application = confirmed(acme)
        assert application.duplicate_partner is None


@pytest.mark.django_db
class TestDuplicateApplication:
    def test_an_open_application_of_the_same_company(self, acme):
        first = confirmed(acme, contact_email="peter@initech.example")
        second = confirmed(acme, company_name="Initech, Inc.", contact_email="bill@initech.example")
        assert second.duplicate_application == first
        assert second.duplicate_partner is None
        with acme.scope():
            [note] = applications.duplicate_notes(second)
        assert note.startswith(f"Already applied: {first.code} “Initech” on ")
        assert note.endswith("(waiting for review), with the same web domain, initech.example.")

    def test_one_waiting_for_the_applicants_answer_counts(self, acme):
        first = confirmed(acme, website="")
        with acme.scope():
            Application.objects.filter(pk=first.pk).update(status=Status.MORE_INFO)
        second = confirmed(acme, website="", legal_name="")
        assert second.duplicate_application == first

    @pytest.mark.parametrize("status", [Status.UNCONFIRMED, Status.REJECTED, Status.EXPIRED])
    def test_unconfirmed_rejected_or_expired_ones_do_not(self, acme, status):
        """A stranger's unconfirmed application (anyone may type any company
        name) or a closed one does not mark the next one."""
        first = received(acme)
        with acme.scope():
            Application.objects.filter(pk=first.pk).update(status=status, decided_at=timezone.now())
        second = confirmed(acme)
        assert second.duplicate_application is None

    def test_the_found_duplicate_is_fixed_when_it_is_queued(self, acme):
        """Found when the email is confirmed; a later applicant of the
        same company names the earlier one, not the other way round."""
        first = confirmed(acme)
        second = confirmed(acme)
        first.refresh_from_db()
        assert first.duplicate_application is None
        assert second.duplicate_application == first

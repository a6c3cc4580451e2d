"""Agreement versions and acceptances through the services: numbering,
content hashes, what an acceptance fixes, every refusal, and what an
acceptance sets off (audit, the channel manager told, the plan's
agreement step ticked)."""

import datetime as dt

import pytest

from onboarding import acceptance, agreements
from onboarding.errors import OnboardingError
from onboarding.models import (
    Acceptance,
    AgreementVersion,
    Owner,
    Plan,
    PlanStep,
    PlanTemplate,
    StepKind,
    TemplateStep,
)
from onboarding.plans import start_plan
from partners.models import Partner
from prm.tenancy.models import AuditEntry, Notification
from prm.tenancy.roles import Role

from . import builders_agreements as b

pytestmark = pytest.mark.django_db


# --- Versions ------------------------------------------------------------------------------


def test_versions_are_numbered_and_hashed(acme):
    with acme.scope():
        first = b.version(acme, days_ago=10)
        second = b.version(acme, first.agreement, body="Version two\r\n")
        third = b.version(acme, first.agreement, pdf=b.pdf_file())
        assert [first.number, second.number, third.number] == [1, 2, 3]
        assert first.content_sha256 == AgreementVersion.digest(b.TEXT.strip("\n").encode())
        # Line endings are stored uniformly: the hash is of what is shown.
        assert second.body == "Version two"
        assert second.content_sha256 == AgreementVersion.digest(b"Version two")
        assert third.content_sha256 == AgreementVersion.digest(b.PDF)
        # Stored under a random name, not the uploaded one.
        assert third.pdf.name.rsplit("/", 1)[1] != "agreement.pdf"
        assert acceptance.stored_hash(third) == third.content_sha256
        assert AuditEntry.objects.filter(action="onboarding.version_added").count() == 3


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"body": "", "pdf": None}, "body", "Write the agreement"),
        ({"pdf": "html"}, "pdf", "is not a PDF"),
        ({"pdf": "png"}, "pdf", "upload the agreement as a PDF"),
        ({"expires_on": "before"}, "expires_on", "expires after"),
    ],
)
def test_bad_versions_are_refused(acme, fields, field, words):
    html = b.pdf_file(b"<html><script>alert(1)</script></html>", "terms.pdf")
    png = b.pdf_file(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "terms.png")
    with acme.scope():
        source = b.agreement(acme)
        kwargs = {"body": fields.get("body", "Text")}
        if fields.get("pdf") == "html":
            kwargs = {"body": "", "pdf": html}
        elif fields.get("pdf") == "png":
            kwargs = {"body": "", "pdf": png}
        elif "pdf" in fields:
            kwargs["pdf"] = None
        if fields.get("expires_on") == "before":
            kwargs["expires_on"] = b.today(acme)
        with pytest.raises(OnboardingError) as refused:
            acceptance.add_version(
                source, by=acme[Role.OPS_ADMIN], effective_on=b.today(acme), **kwargs
            )
        assert refused.value.field == field
        assert words in str(refused.value)
        assert not AgreementVersion.objects.exists()


def test_text_and_pdf_together_are_refused(acme):
    with acme.scope(), pytest.raises(OnboardingError, match="not both"):
        acceptance.add_version(
            b.agreement(acme),
            by=acme[Role.OPS_ADMIN],
            body="Text",
            pdf=b.pdf_file(),
            effective_on=b.today(acme),
        )


def test_a_version_cannot_take_effect_before_the_last(acme):
    with acme.scope():
        first = b.version(acme)
        with pytest.raises(OnboardingError, match="cannot take effect before") as refused:
            b.version(acme, first.agreement, effective_on=b.today(acme) - dt.timedelta(days=1))
        assert refused.value.field == "effective_on"


@pytest.mark.parametrize("role", [Role.CHANNEL_MANAGER, Role.FINANCE, Role.PARTNER_ADMIN])
def test_only_ops_write_versions(acme, role):
    with acme.scope():
        source = b.agreement(acme)
        with pytest.raises(OnboardingError):
            acceptance.add_version(source, by=acme[role], body="x", effective_on=b.today(acme))
        version = b.version(acme, source)
        with pytest.raises(OnboardingError):
            acceptance.change_version(version, by=acme[role], body="y", effective_on=b.today(acme))
        with pytest.raises(OnboardingError):
            acceptance.delete_version(version, by=acme[role])
        assert AgreementVersion.objects.get().body == b.TEXT.strip("\n")


def test_an_unaccepted_version_changes_and_its_hash_follows(acme):
    with acme.scope():
        version = b.version(acme)
        later = b.today(acme) + dt.timedelta(days=5)
        changed = acceptance.change_version(
            version,
            by=acme[Role.OPS_ADMIN],
            body="New text",
            effective_on=later,
            grace_days=10,
            change_summary="Clause 2",
        )
        assert changed.body == "New text" and changed.effective_on == later
        assert changed.content_sha256 == AgreementVersion.digest(b"New text")
        entry = AuditEntry.objects.get(action="onboarding.version_changed")
        assert entry.data["body"] == "changed" and entry.data["grace_days"] == "10"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"body": "Sneaky edit"}, "body"),
        ({"effective_on": 1}, "effective_on"),
        ({"expires_on": 90}, "expires_on"),
    ],
)
def test_what_was_accepted_cannot_change(acme, change, field):
    with acme.scope():
        version = b.version(acme, days_ago=3)
        b.accept(acme, version)
        values = {
            "body": version.body,
            "effective_on": version.effective_on,
            "expires_on": version.expires_on,
        }
        if "body" in change:
            values["body"] = change["body"]
        if "effective_on" in change:
            values["effective_on"] = version.effective_on + dt.timedelta(days=1)
        if "expires_on" in change:
            values["expires_on"] = b.today(acme) + dt.timedelta(days=90)
        with pytest.raises(OnboardingError) as refused:
            acceptance.change_version(version, by=acme[Role.OPS_ADMIN], **values)
        assert refused.value.field == field
        assert "accepted by 1 partner" in str(refused.value)
        assert "Add a new version" in str(refused.value)
        fresh = AgreementVersion.objects.get(pk=version.pk)
        assert (fresh.body, fresh.effective_on, fresh.expires_on, fresh.content_sha256) == (
            version.body,
            version.effective_on,
            version.expires_on,
            version.content_sha256,
        )


def test_an_accepted_pdf_cannot_be_replaced_but_its_summary_can_change(acme):
    with acme.scope():
        version = b.version(acme, pdf=b.pdf_file(), days_ago=1)
        b.accept(acme, version)
        other = b.pdf_file(b.PDF + b"% other\n")
        with pytest.raises(OnboardingError, match="its PDF can no longer change"):
            acceptance.change_version(
                version, by=acme[Role.OPS_ADMIN], pdf=other, effective_on=version.effective_on
            )
        acceptance.change_version(
            version,
            by=acme[Role.OPS_ADMIN],
            effective_on=version.effective_on,
            grace_days=45,
            change_summary="Typo in the summary fixed",
        )
        version.refresh_from_db()
        assert version.grace_days == 45 and version.content_sha256 == AgreementVersion.digest(b.PDF)


def test_an_accepted_version_cannot_be_deleted(acme):
    with acme.scope():
        version = b.version(acme)
        spare = b.version(
            acme,
            version.agreement,
            body="Draft two",
            effective_on=b.today(acme) + dt.timedelta(days=10),
        )
        b.accept(acme, version)
        with pytest.raises(OnboardingError, match="cannot be deleted"):
            acceptance.delete_version(version, by=acme[Role.OPS_ADMIN])
        acceptance.delete_version(spare, by=acme[Role.OPS_ADMIN])
        assert list(AgreementVersion.objects.values_list("number", flat=True)) == [1]


# --- Acceptance ------------------------------------------------------------------------------


def test_a_partner_admin_accepts(acme, django_capture_on_commit_callbacks):
    with acme.scope():
        version = b.version(acme, days_ago=2)
        with django_capture_on_commit_callbacks(execute=True):
            done = acceptance.accept(
                version,
                by=acme[Role.PARTNER_ADMIN],
                typed_name="  Pat   Partner ",
                ip="198.51.100.7",
                user_agent="Mozilla/5.0 " + "x" * 400,
                shown_sha256=version.content_sha256,
            )
        assert done.partner == acme.partner and done.user == acme[Role.PARTNER_ADMIN].user
        assert done.typed_name == "Pat Partner"
        assert done.ip_address == "198.51.100.7"
        assert len(done.user_agent) == 300
        assert done.content_sha256 == version.content_sha256
        entry = AuditEntry.objects.get(action="onboarding.agreement_accepted")
        assert entry.data["typed_name"] == "Pat Partner" and entry.actor == done.user
        (note,) = Notification.objects.filter(kind="onboarding.agreement_accepted")
        assert note.user == acme[Role.CHANNEL_MANAGER].user
        assert acme.partner.name in note.title
        assert agreements.owed(acme.partner, day=b.today(acme)) == []


def test_a_partner_without_channel_manager_tells_ops(acme):
    with acme.scope():
        Partner.objects.filter(pk=acme.partner.pk).update(channel_manager=None)
        acme[Role.PARTNER_ADMIN].partner.refresh_from_db()
        version = b.version(acme)
        b.accept(acme, version)
        (note,) = Notification.objects.filter(kind="onboarding.agreement_accepted")
        assert note.user == acme[Role.OPS_ADMIN].user


def test_a_second_submit_is_told_it_was_accepted(acme):
    with acme.scope():
        version = b.version(acme)
        first = b.accept(acme, version)
        with pytest.raises(acceptance.AlreadyAccepted, match="already accepted version 1") as again:
            b.accept(acme, version, name="Someone Else")
        assert again.value.acceptance == first
        assert Acceptance.objects.count() == 1
        assert Notification.objects.filter(kind="onboarding.agreement_accepted").count() == 1


@pytest.mark.parametrize("name", ["", " ", "P", "  x  "])
def test_a_name_of_two_characters_or_more_is_typed(acme, name):
    with acme.scope():
        version = b.version(acme)
        with pytest.raises(OnboardingError, match="Type your full name") as refused:
            b.accept(acme, version, name=name)
        assert refused.value.field == "typed_name"
        assert not Acceptance.objects.exists()


def test_a_partner_user_cannot_accept(acme):
    with acme.scope():
        version = b.version(acme)
        with pytest.raises(OnboardingError, match="Only a partner admin"):
            acceptance.accept(
                version, by=acme[Role.PARTNER_USER], typed_name="Pat", ip=None, user_agent=""
            )
        with pytest.raises(OnboardingError, match="Only a partner admin"):
            acceptance.accept(
                version, by=acme[Role.OPS_ADMIN], typed_name="Pat", ip=None, user_agent=""
            )
        assert not Acceptance.objects.exists()


def test_content_that_no_longer_matches_its_hash_is_refused(acme):
    with acme.scope():
        version = b.version(acme)
        # Changed behind the services' back: what would be shown is not what was hashed.
        AgreementVersion.objects.filter(pk=version.pk).update(body="Tampered")
        with pytest.raises(OnboardingError, match="cannot be verified"):
            b.accept(acme, version)
        assert not Acceptance.objects.exists()


def test_a_version_changed_while_read_is_refused(acme):
    with acme.scope():
        version = b.version(acme)
        shown = version.content_sha256
        acceptance.change_version(
            version, by=acme[Role.OPS_ADMIN], body="Changed", effective_on=version.effective_on
        )
        with pytest.raises(OnboardingError, match="changed while you were reading"):
            acceptance.accept(
                version,
                by=acme[Role.PARTNER_ADMIN],
                typed_name="Pat Partner",
                ip=None,
                user_agent="",
                shown_sha256=shown,
            )
        assert not Acceptance.objects.exists()


def test_only_the_current_version_of_an_agreement_asked_of_the_partner(acme):
    with acme.scope():
        other_type = b.version(acme, b.agreement(acme, "Distributors", partner_types=["msp"]))
        with pytest.raises(OnboardingError, match="is not asked of"):
            b.accept(acme, other_type)
        old = b.version(acme, days_ago=20)
        b.version(acme, old.agreement, days_ago=5)
        with pytest.raises(OnboardingError, match="replaced by a newer version"):
            b.accept(acme, old)
        future = b.version(acme, b.agreement(acme, "Future"), days_ago=0)
        acceptance.change_version(
            future,
            by=acme[Role.OPS_ADMIN],
            body=future.body,
            effective_on=b.today(acme) + dt.timedelta(days=3),
        )
        with pytest.raises(OnboardingError, match="takes effect on"):
            b.accept(acme, future)
        expired = b.version(
            acme,
            b.agreement(acme, "Expired"),
            days_ago=30,
            expires_on=b.today(acme),
        )
        with pytest.raises(OnboardingError, match="no longer in force"):
            b.accept(acme, expired)
        assert not Acceptance.objects.exists()


def test_the_plans_agreement_step_ticks_itself(acme, django_capture_on_commit_callbacks):
    with acme.scope():
        version = b.version(acme)
        template = PlanTemplate.objects.create(
            tenant=acme.tenant, name="Resellers", partner_type=Partner.Type.RESELLER
        )
        TemplateStep.objects.create(
            tenant=acme.tenant,
            template=template,
            title="Accept the agreement",
            kind=StepKind.AGREEMENT,
            owner=Owner.PARTNER,
            agreement=version.agreement,
            due_days=7,
        )
        plan = start_plan(acme.partner, by=None)
        assert isinstance(plan, Plan)
        step = PlanStep.objects.get(plan=plan)
        assert step.completed_at is None
        with django_capture_on_commit_callbacks(execute=True):
            done = b.accept(acme, version)
        step.refresh_from_db()
        assert step.completed_at == done.accepted_at
        assert step.source == PlanStep.Source.AUTOMATIC

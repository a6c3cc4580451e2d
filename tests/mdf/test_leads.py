"""Leads of an activity from CSV (mdf.leads.import_leads): a dry run that
writes nothing, per-row errors, duplicates in the file and against the
activity's leads (case-insensitive), all or nothing."""

import pytest

from mdf import leads
from mdf.errors import MdfError
from mdf.models import ActivityLead, FundRequest
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role

from . import roi_factories as f

pytestmark = pytest.mark.django_db

GOOD = (
    "name,email,company,phone\n"
    "Ada Lovelace,ada@example.com,Analytical,+44 1\n"
    "Alan Turing,alan@example.com,,\n"
)


@pytest.fixture
def activity(acme):
    with acme.scope():
        allocation = f.make_allocation(acme, f.make_budget(acme, f.make_fund_type(acme)))
        return f.make_request(acme, allocation)


def run(world, activity, text, dry_run=False):
    with world.scope():
        return leads.import_leads(
            activity, text, by_user=world[Role.PARTNER_USER].user, dry_run=dry_run
        )


def stored(world):
    with world.scope():
        return sorted(ActivityLead.objects.values_list("email", flat=True))


def test_dry_run_checks_and_writes_nothing(acme, activity):
    result = run(acme, activity, GOOD, dry_run=True)
    assert result.ok and result.ready == 2 and result.created == 0
    assert stored(acme) == []


def test_import_writes_every_row_and_is_audited(acme, activity):
    result = run(acme, activity, GOOD.encode("utf-8-sig"))
    assert result.ok and result.created == 2
    assert stored(acme) == ["ada@example.com", "alan@example.com"]
    with acme.scope():
        lead = ActivityLead.objects.get(email="ada@example.com")
        assert (lead.name, lead.company, lead.phone) == ("Ada Lovelace", "Analytical", "+44 1")
        assert lead.uploaded_by == acme[Role.PARTNER_USER].user
        assert AuditEntry.objects.filter(action="mdf.leads_imported").count() == 1


def test_row_errors_and_duplicates_write_nothing(acme, activity):
    run(acme, activity, "name,email\nAda,ada@example.com\n")
    text = (
        "name,email,company\n"
        "Grace Hopper,grace@example.com,Navy\n"  # 2: fine
        ",nobody@example.com,\n"  # 3: no name
        "Bad,not-an-email,\n"  # 4
        "Grace again,GRACE@example.com,\n"  # 5: twice in the file
        "Ada Again,ADA@Example.com,\n"  # 6: already a lead
    )
    result = run(acme, activity, text)
    assert not result.ok and result.created == 0
    errors = {row.line: row.errors for row in result.rows}
    assert errors[2] == []
    assert errors[3] == ["name: this column is required."]
    assert errors[4] == ["email: “not-an-email” is not an email address."]
    assert errors[5] == ["email: GRACE@example.com is already on line 2 of this file."]
    assert errors[6] == ["email: ADA@Example.com is already a lead of this activity."]
    assert stored(acme) == ["ada@example.com"]  # all or nothing


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The file is empty."),
        ("name,email\n", "The file has a header but no rows."),
        ("name,company\nAda,X\n", "Missing column: email."),
        (
            "name,email,fax\nAda,a@example.com,1\n",
            "Unknown column: fax. Allowed: name, email, company, phone.",
        ),
    ],
)
def test_file_level_errors(acme, activity, text, message):
    result = run(acme, activity, text)
    assert result.errors == [message]
    assert stored(acme) == []


def test_not_utf8(acme, activity):
    with pytest.raises(MdfError, match="UTF-8"):
        run(acme, activity, "name,email\nRené,r@example.com\n".encode("latin-1"))


def test_only_funded_activities_take_leads(acme, activity):
    with acme.scope():
        FundRequest.objects.filter(pk=activity.pk).update(status=FundRequest.Status.DRAFT)
        activity.refresh_from_db()
    with pytest.raises(MdfError, match="approved activity"):
        run(acme, activity, GOOD)


def test_leads_count_for_cost_per_lead(acme, activity):
    from mdf import roi

    with acme.scope():
        f.make_claim(acme, activity, reimbursement="1000", leads=50)
    run(acme, activity, GOOD)
    with acme.scope():
        (row,) = roi.roi_rows(acme.tenant)
    assert row.leads == 2 and str(row.cost_per_lead) == "500.00"

"""Ops configure plans in the tenant admin: a plan, a version of its rule
with brackets, publishing; a published rule is read-only and one that has
paid is frozen (the database refuses too), changed through a new version;
the what-if preview page; the settings row. Finance and executives look,
other roles and other tenants do not get in."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incentives import admin_plans, ledger, plans
from incentives.models import IncentiveSettings, LedgerEntry, Plan, PlanVersion
from partners.models import Tier
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role

from .conftest import make_plan, make_won_deal

D = Decimal
RT = PlanVersion.RateType
pytestmark = pytest.mark.django_db


def url(model: str, view: str, *args, query: str = "") -> str:
    return reverse(f"tenant_admin:incentives_{model}_{view}", args=args) + query


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def version_data(plan, **overrides) -> dict:
    """A valid add/change POST for a plan version (percent rule, no brackets)."""
    data = {
        "plan": str(plan.pk),
        "rate_type": RT.PERCENT,
        "rate_percent": "8.5",
        "fixed_amount": "",
        "quota": "",
        "accelerator": "",
        "cap_per_deal": "",
        "cap_per_period": "",
        "period": "quarter",
        "effective_from": "2025-01-01",
        "effective_to": "",
        "notes": "",
        "form_token": str(uuid.uuid4()),
        "brackets-TOTAL_FORMS": "0",
        "brackets-INITIAL_FORMS": "0",
        "brackets-MIN_NUM_FORMS": "0",
        "brackets-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def with_brackets(data: dict, *brackets, existing=()) -> dict:
    data = dict(data)
    rows = [*existing, *brackets]
    data["brackets-TOTAL_FORMS"] = str(len(rows))
    data["brackets-INITIAL_FORMS"] = str(len(existing))
    for i, (lower, percent, *pk) in enumerate(rows):
        data[f"brackets-{i}-lower"] = lower
        data[f"brackets-{i}-rate_percent"] = percent
        data[f"brackets-{i}-id"] = str(pk[0]) if pk else ""
    return data


@pytest.fixture
def plan(acme):
    with acme.scope():
        return Plan.objects.create(tenant=acme.tenant, name="Resale commission", kind="commission")


def paid_version(world, **rule):
    """A published version that has accrued on one deal."""
    version = make_plan(world, effective_from=date(2024, 1, 1), **rule)
    ledger.sync_deal(make_won_deal(world, "1000", close_date=date(2025, 2, 3)))
    assert LedgerEntry.objects.filter(plan_version=version).count() == 1
    return version


# --- Building a plan -------------------------------------------------------------------


def test_ops_creates_a_plan_and_a_bracketed_version_and_publishes_it(acme):
    client = acme.client(Role.OPS_ADMIN)
    response = client.post(
        url("plan", "add"),
        {"name": "Resale commission", "kind": "commission", "description": "", "is_active": "on"},
    )
    assert response.status_code == 302
    with acme.scope():
        plan = Plan.objects.get(name="Resale commission")
        silver = Tier.objects.get(name="Silver")
    page = client.get(url("plan", "change", plan.pk))
    assert "No versions yet" in page.content.decode()
    assert url("planversion", "add", query=f"?plan={plan.pk}") in page.content.decode()

    form = client.get(url("planversion", "add", query=f"?plan={plan.pk}"))
    assert form.status_code == 200
    assert form.context["adminform"].form.initial["plan"] == str(plan.pk)

    data = with_brackets(
        version_data(
            plan,
            rate_type=RT.BRACKETS_MARGINAL,
            rate_percent="",
            tiers=[str(silver.pk)],
            partner_types=["reseller", "msp"],
        ),
        ("0", "2"),
        ("10000", "4"),
    )
    response = client.post(url("planversion", "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    with acme.scope():
        version = PlanVersion.objects.get(plan=plan)
        assert (version.number, version.status) == (1, PlanVersion.Status.DRAFT)
        assert version.created_by == acme[Role.OPS_ADMIN].user
        assert sorted(version.partner_types) == ["msp", "reseller"]
        assert list(version.tiers.all()) == [silver]
        assert [(b.lower, b.rate_percent) for b in version.brackets.all()] == [
            (D("0"), D("2")),
            (D("10000"), D("4")),
        ]
        assert AuditEntry.objects.filter(action="incentives.version_added").count() == 1

    # The same form sent twice saves once.
    again = client.post(url("planversion", "add"), data)
    assert again.status_code == 302
    assert again["Location"] == url("planversion", "change", version.pk)
    with acme.scope():
        assert PlanVersion.objects.filter(plan=plan).count() == 1

    page = client.get(url("planversion", "change", version.pk)).content.decode()
    assert 'name="_publish"' in page
    assert "brackets (marginal) 0+: 2%, 10,000+: 4%" in page
    with acme.scope():
        existing = [(b.lower, b.rate_percent, b.pk) for b in version.brackets.all()]
    change = with_brackets(
        version_data(plan, rate_type=RT.BRACKETS_MARGINAL, rate_percent=""), existing=existing
    )
    change["_publish"] = "Save and publish"
    # Saved as a draft, then asked first: the rule freezes once published.
    asked = client.post(url("planversion", "change", version.pk), change)
    assert asked.status_code == 200
    assert asked.templates[0].name == "admin/confirm.html"
    assert "Its rule becomes read-only" in asked.content.decode()
    with acme.scope():
        version.refresh_from_db()
        assert version.status == PlanVersion.Status.DRAFT
        assert version.rate_type == RT.BRACKETS_MARGINAL  # the changes are saved
    response = client.post(
        url("planversion", "change", version.pk), {"_action": "publish", "confirm": "yes"}
    )
    assert response.status_code == 302
    assert any("is published" in m for m in messages_of(response))
    with acme.scope():
        version.refresh_from_db()
        assert version.status == PlanVersion.Status.PUBLISHED
        assert version.published_by == acme[Role.OPS_ADMIN].user
        # A second version of the same plan is numbered 2.
        client.post(url("planversion", "add"), version_data(plan, effective_from="2026-01-01"))
        assert sorted(PlanVersion.objects.values_list("number", flat=True)) == [1, 2]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"rate_percent": ""}, "rate_percent", "Required for this rate type."),
        ({"quota": "1000"}, "accelerator", "Give both a quota and an accelerator"),
        (
            {"effective_to": "2024-12-31"},
            "effective_to",
            "Must be on or after the effective-from date.",
        ),
        ({"fixed_amount": "100"}, "fixed_amount", "Only the fixed rate type uses an amount"),
        ({"rate_type": RT.FIXED, "fixed_amount": "10"}, "rate_percent", "Only the percentage"),
        ({"accelerator": "0.5", "quota": "10"}, "accelerator", "greater than or equal to 1"),
    ],
)
def test_rule_errors_are_shown_on_their_fields(acme, plan, changes, field, message):
    response = acme.client(Role.OPS_ADMIN).post(
        url("planversion", "add"), version_data(plan, **changes)
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors.get(field, [])), errors
    with acme.scope():
        assert not PlanVersion.objects.exists()


def test_brackets_belong_to_bracket_rate_types(acme, plan):
    client = acme.client(Role.OPS_ADMIN)
    response = client.post(
        url("planversion", "add"),
        version_data(plan, rate_type=RT.BRACKETS_WHOLE, rate_percent=""),
    )
    assert response.status_code == 200
    assert "needs at least one bracket" in response.content.decode()
    response = client.post(url("planversion", "add"), with_brackets(version_data(plan), ("0", "3")))
    assert response.status_code == 200
    assert "Only the bracket rate types use brackets" in response.content.decode()
    response = client.post(
        url("planversion", "add"),
        with_brackets(
            version_data(plan, rate_type=RT.BRACKETS_WHOLE, rate_percent=""),
            ("100", "3"),
            ("100", "4"),
        ),
    )
    assert response.status_code == 200
    with acme.scope():
        assert not PlanVersion.objects.exists()


def test_a_fixed_rebate_may_have_a_quota_without_an_accelerator(acme):
    with acme.scope():
        rebate = Plan.objects.create(tenant=acme.tenant, name="Volume rebate", kind="rebate")
    client = acme.client(Role.OPS_ADMIN)
    data = version_data(
        rebate, rate_type=RT.FIXED, rate_percent="", fixed_amount="1000", quota="50000"
    )
    assert client.post(url("planversion", "add"), data).status_code == 302
    refused = client.post(
        url("planversion", "add"),
        {**data, "accelerator": "1.5", "cap_per_deal": "10", "form_token": str(uuid.uuid4())},
    )
    errors = refused.context["adminform"].form.errors
    assert "it has no accelerator" in errors["accelerator"][0]
    assert "use the cap per period" in errors["cap_per_deal"][0]


def test_publish_refusals_are_messages_and_the_draft_stays(acme, plan):
    with acme.scope():
        current = PlanVersion.objects.create(
            tenant=acme.tenant,
            plan=plan,
            number=1,
            effective_from=date(2025, 6, 1),
            rate_type=RT.PERCENT,
            rate_percent=D("5"),
        )
        plans.publish(current, by=acme[Role.OPS_ADMIN])
        draft = PlanVersion.objects.create(
            tenant=acme.tenant,
            plan=plan,
            number=2,
            effective_from=date(2025, 1, 1),
            rate_type=RT.PERCENT,
            rate_percent=D("6"),
        )
    data = version_data(plan, rate_percent="6", effective_from="2025-01-01", _publish="1")
    client = acme.client(Role.OPS_ADMIN)
    assert client.post(url("planversion", "change", draft.pk), data).status_code == 200  # asks
    response = client.post(
        url("planversion", "change", draft.pk), {"_action": "publish", "confirm": "yes"}
    )
    assert response.status_code == 302
    (message,) = messages_of(response)
    assert "Saved as a draft, not published: Version 1 already takes effect on" in message
    with acme.scope():
        draft.refresh_from_db()
        assert draft.status == PlanVersion.Status.DRAFT


# --- Published and paid versions ---------------------------------------------------------


def test_a_published_version_may_be_ended_but_its_rule_is_read_only(acme):
    with acme.scope():
        version = make_plan(acme, rate_percent=D("10"), effective_from=date(2025, 1, 1))
    client = acme.client(Role.OPS_ADMIN)
    page = client.get(url("planversion", "change", version.pk)).content.decode()
    assert 'name="rate_percent"' not in page
    assert 'name="effective_to"' in page
    assert "Published: its rule is read-only" in page
    assert 'name="_publish"' not in page
    response = client.post(
        url("planversion", "change", version.pk),
        version_data(version.plan, rate_percent="50", effective_to="2025-12-31"),
    )
    assert response.status_code == 302
    with acme.scope():
        version.refresh_from_db()
        assert (version.effective_to, version.rate_percent) == (date(2025, 12, 31), D("10"))
    # Only drafts are deleted.
    assert client.get(url("planversion", "delete", version.pk)).status_code == 403


def test_ending_a_version_may_not_overlap_the_next(acme):
    with acme.scope():
        first = make_plan(acme, rate_percent=D("10"), effective_from=date(2025, 1, 1))
        second = plans.new_draft(first, by=acme[Role.OPS_ADMIN], effective_from=date(2025, 7, 1))
        plans.publish(second, by=acme[Role.OPS_ADMIN])
        first.refresh_from_db()
        assert first.effective_to == date(2025, 6, 30)
    client = acme.client(Role.OPS_ADMIN)
    for end in ("", "2025-07-15"):
        response = client.post(
            url("planversion", "change", first.pk),
            version_data(first.plan, effective_to=end),
        )
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors
        assert "Version 2 takes effect on 1 Jul 2025" in errors["effective_to"][0]
    with acme.scope():
        first.refresh_from_db()
        assert first.effective_to == date(2025, 6, 30)


def test_a_version_that_has_paid_is_read_only_and_the_database_agrees(acme):
    with acme.scope():
        version = paid_version(
            acme,
            rate_type=RT.BRACKETS_WHOLE,
            rate_percent=None,
            brackets=[("0", "5"), ("5000", "7")],
        )
    client = acme.client(Role.OPS_ADMIN)
    response = client.get(url("planversion", "change", version.pk))
    page = response.content.decode()
    assert "This version has paid 1 entry; to change the rule create a new version" in page
    assert 'name="_save"' not in page
    assert 'name="effective_to"' not in page
    assert 'name="brackets-0-lower"' not in page
    assert "Create new version" in page
    assert (
        client.post(
            url("planversion", "change", version.pk), version_data(version.plan, rate_percent="1")
        ).status_code
        == 403
    )
    assert client.get(url("planversion", "delete", version.pk)).status_code == 403
    assert client.post(url("planversion", "delete", version.pk), {"post": "yes"}).status_code == 403
    with acme.scope():
        for sql in (
            "UPDATE incentives_planversion SET rate_type = 'percent' WHERE id = %s",
            "DELETE FROM incentives_bracket WHERE version_id = %s",
            "DELETE FROM incentives_planversion WHERE id = %s",
        ):
            with (
                pytest.raises(IntegrityError, match="cannot change"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(sql, [version.pk])
        assert version.brackets.count() == 2


def test_a_race_with_the_first_entry_shows_a_message_not_an_error(acme, monkeypatch):
    """The page was opened (and the form built) before the version's first
    entry: the trigger refuses the save and the person is told why."""
    with acme.scope():
        version = paid_version(acme, rate_percent=D("10"))
        PlanVersion.objects.filter(pk=version.pk).update(status=PlanVersion.Status.DRAFT)
    monkeypatch.setattr(admin_plans, "_count_entries", lambda v: 0)
    response = acme.client(Role.OPS_ADMIN).post(
        url("planversion", "change", version.pk),
        version_data(version.plan, rate_percent="12", effective_from="2024-01-01"),
    )
    assert response.status_code == 302
    assert response["Location"] == url("planversion", "change", version.pk)
    assert admin_plans.FROZEN_MESSAGE in messages_of(response)
    with acme.scope():
        version.refresh_from_db()
        assert version.rate_percent == D("10")


def test_a_new_version_from_a_paid_one_copies_the_rule_once(acme):
    with acme.scope():
        version = paid_version(
            acme,
            rate_type=RT.BRACKETS_WHOLE,
            rate_percent=None,
            brackets=[("0", "5"), ("5000", "7")],
        )
    client = acme.client(Role.OPS_ADMIN)
    token = str(uuid.uuid4())
    post = {"_action": "new_version", "token": token}
    refused = client.post(
        url("planversion", "change", version.pk),
        {**post, "effective_from": "2023-12-31"},
    )
    assert refused.status_code == 200
    assert "the new version must take effect after that" in refused.content.decode()
    response = client.post(
        url("planversion", "change", version.pk), {**post, "effective_from": "2026-01-01"}
    )
    with acme.scope():
        copy = PlanVersion.objects.get(plan=version.plan, number=2)
    assert response["Location"] == url("planversion", "change", copy.pk)
    again = client.post(
        url("planversion", "change", version.pk), {**post, "effective_from": "2026-01-01"}
    )
    assert again["Location"] == url("planversion", "change", copy.pk)
    with acme.scope():
        assert PlanVersion.objects.filter(plan=version.plan).count() == 2
        assert copy.status == PlanVersion.Status.DRAFT
        assert copy.effective_from == date(2026, 1, 1)
        assert [(b.lower, b.rate_percent) for b in copy.brackets.all()] == [
            (D("0"), D("5")),
            (D("5000"), D("7")),
        ]
    # The copy is an ordinary draft: editable, deletable.
    page = client.get(url("planversion", "change", copy.pk)).content.decode()
    assert 'name="brackets-0-lower"' in page and 'name="_publish"' in page
    assert (
        client.post(url("planversion", "change", version.pk), {"_action": "x"}).status_code == 400
    )


def test_ops_deletes_a_draft(acme, plan):
    with acme.scope():
        draft = make_plan(acme, publish=False, brackets=[])
    client = acme.client(Role.OPS_ADMIN)
    assert client.post(url("planversion", "delete", draft.pk), {"post": "yes"}).status_code == 302
    with acme.scope():
        assert not PlanVersion.objects.filter(pk=draft.pk).exists()


def test_the_plan_page_lists_versions_with_their_entries(acme):
    with acme.scope():
        version = paid_version(acme)
        plans.new_draft(version, by=acme[Role.OPS_ADMIN], effective_from=date(2026, 1, 1))
    response = acme.client(Role.EXECUTIVE).get(url("plan", "change", version.plan.pk))
    rows = {v.number: v.entry_total for v in response.context["versions"]}
    assert rows == {1: 1, 2: 0}
    assert "New version" not in response.content.decode()  # executives look
    listing = acme.client(Role.EXECUTIVE).get(url("plan", "changelist"))
    (shown,) = listing.context["cl"].result_list
    assert shown.version_total == 2


def test_a_plan_that_has_paid_keeps_its_kind(acme):
    with acme.scope():
        version = paid_version(acme)
    page = acme.client(Role.OPS_ADMIN).get(url("plan", "change", version.plan.pk))
    assert "kind" not in page.context["adminform"].form.fields


# --- Who may do what ---------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.FINANCE, Role.EXECUTIVE])
def test_finance_and_executives_look_only(acme, role):
    with acme.scope():
        draft = make_plan(acme, publish=False)
    client = acme.client(role)
    assert client.get(url("plan", "changelist")).status_code == 200
    assert client.get(url("planversion", "changelist")).status_code == 200
    page = client.get(url("planversion", "change", draft.pk))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert 'name="_publish"' not in page.content.decode()
    assert client.get(url("planversion", "add")).status_code == 403
    data = version_data(draft.plan, _publish="1", rate_percent="99")
    assert client.post(url("planversion", "change", draft.pk), data).status_code == 403
    confirmed = {"_action": "publish", "confirm": "yes"}
    assert client.post(url("planversion", "change", draft.pk), confirmed).status_code == 403
    assert client.post(url("planversion", "delete", draft.pk), {"post": "yes"}).status_code == 403
    preview = client.get(url("planversion", "preview", query=f"?version={draft.pk}"))
    assert preview.status_code == (200 if role == Role.FINANCE else 403)
    with acme.scope():
        draft.refresh_from_db()
        assert (draft.status, draft.rate_percent) == (PlanVersion.Status.DRAFT, D("10"))


@pytest.mark.parametrize("role", [Role.CHANNEL_MANAGER, Role.PARTNER_ADMIN, Role.PARTNER_USER])
def test_other_roles_get_403(acme, role):
    with acme.scope():
        draft = make_plan(acme, publish=False)
    client = acme.client(role)
    for target in (
        url("plan", "changelist"),
        url("planversion", "changelist"),
        url("planversion", "change", draft.pk),
        url("planversion", "preview", query=f"?version={draft.pk}"),
        url("incentivesettings", "changelist"),
    ):
        assert client.get(target).status_code == 403, target


def test_another_tenants_versions_are_404(acme, globex):
    with acme.scope():
        version = paid_version(acme)
    intruder = globex.client(Role.OPS_ADMIN)
    assert intruder.get(url("planversion", "change", version.pk)).status_code == 404
    assert intruder.get(url("plan", "change", version.plan.pk)).status_code == 404
    posted = intruder.post(
        url("planversion", "change", version.pk),
        {"_action": "new_version", "effective_from": "2030-01-01", "token": str(uuid.uuid4())},
    )
    assert posted.status_code == 404
    preview = intruder.get(url("planversion", "preview", query=f"?version={version.pk}"))
    assert preview.status_code == 404
    garbage = intruder.get(url("planversion", "preview", query="?version=nonsense"))
    assert garbage.status_code == 200
    assert "“nonsense” is not a plan version; choose one." in garbage.content.decode()
    with globex.scope():
        assert not PlanVersion.objects.exists()
    listed = intruder.get(url("planversion", "changelist")).context["cl"].result_list
    assert list(listed) == []
    with acme.scope():
        assert PlanVersion.objects.filter(plan=version.plan).count() == 1


def test_a_new_version_refuses_another_tenants_plan(acme, globex):
    with acme.scope():
        acme_plan = Plan.objects.create(tenant=acme.tenant, name="Acme plan", kind="commission")
    response = globex.client(Role.OPS_ADMIN).post(
        url("planversion", "add"), version_data(acme_plan)
    )
    assert response.status_code == 200
    assert "plan" in response.context["adminform"].form.errors
    with acme.scope():
        assert not PlanVersion.objects.exists()


# --- The what-if preview page ------------------------------------------------------------


def test_the_preview_page_and_its_csv(acme):
    with acme.scope():
        version = make_plan(acme, rate_percent=D("10"), publish=False)
        today = acme.tenant.local_today()
        last_quarter_day = date(today.year, (today.month - 1) // 3 * 3 + 1, 1) - timedelta(days=1)
        make_won_deal(acme, "1234.56", close_date=last_quarter_day)
    client = acme.client(Role.OPS_ADMIN)
    page = client.get(url("planversion", "preview", query=f"?version={version.pk}"))
    assert page.status_code == 200
    result = page.context["result"]
    assert result.end == last_quarter_day
    (row,) = result.rows
    assert (row.deals, row.would_pay) == (1, D("123.46"))
    assert "preview-table" in page.content.decode()

    query = f"?version={version.pk}&start={result.start}&end={result.end}&format=csv"
    csv_response = client.get(url("planversion", "preview", query=query))
    assert csv_response["Content-Type"].startswith("text/csv")
    lines = csv_response.content.decode().splitlines()
    assert lines[0].startswith("partner,deals,won volume,would pay")
    assert lines[1] == f"{acme.partner.name},1,1234.56,123.46,0,123.46,USD,"
    assert lines[-1].startswith("Total,1,1234.56,123.46")


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        ("2020-01-01", "2099-01-01", "end", "must end today"),
        ("2020-01-01", "2023-01-01", "start", "at most two years"),
        ("2023-02-01", "2023-01-01", "end", "not be before its start"),
        ("2023-02-30", "2023-03-01", "start", "Enter a valid date"),
    ],
)
def test_the_preview_refuses_bad_ranges(acme, start, end, field, message):
    with acme.scope():
        version = make_plan(acme, publish=False)
    page = acme.client(Role.FINANCE).get(
        url("planversion", "preview", query=f"?version={version.pk}&start={start}&end={end}")
    )
    assert page.status_code == 200
    assert page.context["result"] is None
    assert message in " ".join(page.context["form"].errors[field])


def test_the_preview_page_without_a_version(acme):
    client = acme.client(Role.OPS_ADMIN)
    page = client.get(url("planversion", "preview"))
    assert page.status_code == 200
    assert "There are no plan versions yet" in page.content.decode()
    with acme.scope():
        version = make_plan(acme, publish=False)
    page = client.get(url("planversion", "preview"))
    assert page.context["form"].initial["version"] == version.pk
    assert page.context["result"] is None


# --- Settings ----------------------------------------------------------------------------


def test_the_settings_row(acme, globex):
    client = acme.client(Role.FINANCE)
    page = client.get(url("incentivesettings", "changelist"))
    assert page.status_code == 200
    with acme.scope():
        row = IncentiveSettings.objects.get()
    response = client.post(
        url("incentivesettings", "changelist"),
        {
            "statement_period": "quarter",
            "holding_days": "45",
            "minimum_payout": "100.00",
            "payout_target_days": "30",
        },
    )
    assert response.status_code == 302
    with acme.scope():
        row.refresh_from_db()
        assert (row.statement_period, row.holding_days, row.minimum_payout) == (
            "quarter",
            45,
            D("100.00"),
        )
        assert AuditEntry.objects.filter(action="incentives.settings_changed").exists()
    refused = client.post(
        url("incentivesettings", "changelist"),
        {
            "statement_period": "quarter",
            "holding_days": "-1",
            "minimum_payout": "-5",
            "payout_target_days": "30",
        },
    )
    assert set(refused.context["adminform"].form.errors) == {"holding_days", "minimum_payout"}
    assert (
        acme.client(Role.EXECUTIVE).get(url("incentivesettings", "changelist")).status_code == 403
    )
    assert (
        globex.client(Role.OPS_ADMIN).get(url("incentivesettings", "change", row.pk)).status_code
        == 404
    )


def test_the_lists_read_a_constant_number_of_queries(acme):
    client = acme.client(Role.EXECUTIVE)

    def queries(target) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(target).status_code == 200
        return len(captured)

    def add_plans(count):
        with acme.scope():
            for _ in range(count):
                make_plan(
                    acme,
                    rate_type=RT.BRACKETS_WHOLE,
                    rate_percent=None,
                    brackets=[("0", "1"), ("100", "2")],
                )

    add_plans(2)
    targets = [
        url("plan", "changelist"),
        url("planversion", "changelist"),
        reverse("tenant_admin:incentives_ledgerentry_changelist"),
    ]
    for target in targets:  # the settings row is made on first use
        client.get(target)
    before = [queries(t) for t in targets]
    add_plans(8)
    assert [queries(t) for t in targets] == before

"""Fund types, MDF settings, budgets and allocations in the tenant admin:
every write through the funds services, tenant isolation, roles, the rule
allocation (plan, then apply) and moving unspent funds."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from mdf.models import Allocation, AllocationChange, Budget, FundType, MdfSettings
from prm.tenancy.models import AuditEntry
from tests import factories

from . import builders as b

pytestmark = pytest.mark.django_db
D = Decimal
STAFF = ["ops_admin", "channel_manager", "finance", "executive"]


def url(name, *args):
    return reverse(f"tenant_admin:mdf_{name}", args=args)


def rule_url(budget):
    return url("budget_rule") + f"?budget={budget.pk}"


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def form_errors(response, name="form"):
    return response.context[name].errors


# --- Fund types and settings ---------------------------------------------------------------


@pytest.mark.parametrize("role", STAFF)
def test_every_staff_role_reads_fund_types(acme, role):
    with acme.scope():
        fund = b.fund_type(acme)
    client = acme.client(role)
    assert client.get(url("fundtype_changelist")).status_code == 200
    assert client.get(url("fundtype_change", fund.pk)).status_code == 200


@pytest.mark.parametrize("role", ["channel_manager", "finance", "executive"])
def test_only_ops_add_or_change_fund_types(acme, role):
    with acme.scope():
        fund = b.fund_type(acme)
    client = acme.client(role)
    assert client.get(url("fundtype_add")).status_code == 403
    response = client.post(url("fundtype_change", fund.pk), {"name": "Changed"})
    assert response.status_code == 403


@pytest.mark.parametrize("role", ["partner_admin", "partner_user"])
def test_partner_users_cannot_reach_the_admin(acme, role):
    client = acme.client(role)
    assert client.get(url("fundtype_changelist")).status_code == 403
    assert client.get(url("budget_changelist")).status_code == 403
    assert client.get(url("fundrequest_changelist")).status_code == 403
    assert client.get(url("claim_changelist")).status_code == 403


def fund_type_post(**extra):
    data = {
        "name": "Co-op",
        "description": "",
        "active": "on",
        "funding": "allocated",
        "reimbursement_percent": "50",
        "accrual_percent": "",
        "second_approval_above": "",
        "request_lead_days": "14",
        "claim_window_days": "60",
        "activity_types": ["event", "webinar"],
        "required_documents": ["invoice", "photo"],
    }
    data.update(extra)
    return data


def test_ops_add_a_fund_type_with_checkboxes(acme):
    client = acme.client("ops_admin")
    page = client.get(url("fundtype_add"))
    assert 'type="checkbox" name="activity_types" value="trade_show"' in page.content.decode()
    response = client.post(url("fundtype_add"), fund_type_post())
    assert response.status_code == 302, form_errors(response, "adminform").form.errors
    with acme.scope():
        fund = FundType.objects.get(name="Co-op")
        assert fund.activity_types == ["event", "webinar"]
        assert fund.required_documents == ["invoice", "photo"]
        assert AuditEntry.objects.filter(action="mdf.fund_type_added").exists()


def test_the_accrual_percent_is_for_co_op_funds_only(acme):
    client = acme.client("ops_admin")
    response = client.post(url("fundtype_add"), fund_type_post(accrual_percent="2"))
    assert response.status_code == 200
    assert "Only co-op" in str(response.context["adminform"].form.errors["accrual_percent"])
    response = client.post(url("fundtype_add"), fund_type_post(funding="accrual"))
    assert "enter it" in str(response.context["adminform"].form.errors["accrual_percent"])
    response = client.post(url("fundtype_add"), fund_type_post(activity_types=[]))
    assert "at least one" in str(response.context["adminform"].form.errors["activity_types"])


def test_the_settings_row_opens_directly_and_is_audited(acme):
    client = acme.client("ops_admin")
    response = client.get(url("mdfsettings_changelist"))
    assert response.status_code == 200
    response = client.post(
        url("mdfsettings_changelist"),
        {"request_decision_days": "5", "claim_decision_days": "10", "reminder_hours_before": "8"},
    )
    assert response.status_code == 302
    with acme.scope():
        assert MdfSettings.for_tenant(acme.tenant).request_decision_days == 5
        assert AuditEntry.objects.filter(action="mdf.settings_changed").exists()
    assert acme.client("executive").post(url("mdfsettings_changelist"), {}).status_code == 403


# --- Budgets --------------------------------------------------------------------------------


def budget_post(fund, **extra):
    data = {
        "fund_type": str(fund.pk),
        "span": "quarter",
        "fiscal_year": "2031",
        "number": "2",
        "region": "",
        "tier": "",
        "amount": "50000",
        "notes": "",
    }
    data.update(extra)
    return data


def test_ops_add_a_budget_through_the_service(acme):
    with acme.scope():
        fund = b.fund_type(acme)
    client = acme.client("ops_admin")
    assert client.get(url("budget_add")).status_code == 200
    response = client.post(url("budget_add"), budget_post(fund))
    assert response.status_code == 302
    with acme.scope():
        budget = Budget.objects.get()
        assert (budget.span, budget.number, budget.amount) == ("quarter", 2, D("50000"))
        assert budget.starts_on is not None and budget.created_by == acme["ops_admin"].user
        assert AuditEntry.objects.filter(action="mdf.budget_created").exists()
    # The same budget twice: the service's refusal on the form.
    response = client.post(url("budget_add"), budget_post(fund))
    assert response.status_code == 200
    assert "already a budget" in str(form_errors(response)["fund_type"])
    # A quarter 5 is no quarter.
    response = client.post(url("budget_add"), budget_post(fund, number="3", span="half"))
    assert "valid period" in str(form_errors(response)["number"])


def test_budget_choices_are_the_tenants(acme, globex):
    with globex.scope():
        foreign = b.fund_type(globex, name="Globex fund")
    client = acme.client("ops_admin")
    response = client.post(url("budget_add"), budget_post(foreign))
    assert "fund_type" in form_errors(response)
    with acme.scope():
        assert not Budget.objects.exists()


@pytest.mark.parametrize("role", ["channel_manager", "executive"])
def test_only_ops_and_finance_add_budgets(acme, role):
    assert acme.client(role).get(url("budget_add")).status_code == 403


def test_the_budget_list_has_its_totals_in_one_query(acme, django_assert_max_num_queries):
    with acme.scope():
        fund = b.fund_type(acme)
        alloc = b.allocation(acme, D("5000"), fund=fund)
        b.approved(acme, alloc, amount=D("2000"))
    client = acme.client("finance")
    client.get(url("budget_changelist"))  # warm caches (session, membership)
    with django_assert_max_num_queries(12) as few:
        response = client.get(url("budget_changelist"))
    with acme.scope():
        for year in range(2030, 2036):
            b.budget(acme, fund, D("1000"), today=dt.date(year, 1, 1))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url("budget_changelist"))
    page = response.content.decode()
    row = response.context["cl"].result_list
    assert len(row) == 7
    listed = next(r for r in row if r.pk == alloc.budget_id)
    assert listed.reserved_total == D("2000")
    assert listed.unallocated_total == D("95000")
    assert "95,000.00" in page


def test_other_tenants_budgets_are_404(acme, globex):
    with globex.scope():
        foreign = b.budget(globex, b.fund_type(globex))
        foreign_alloc = b.allocation(globex, D("10"), fund=foreign.fund_type, bud=foreign)
    client = acme.client("ops_admin")
    assert client.get(url("budget_change", foreign.pk)).status_code == 404
    assert client.get(rule_url(foreign)).status_code == 404
    assert client.get(url("allocation_change", foreign_alloc.pk)).status_code == 404
    assert client.get(url("allocation_import") + f"?budget={foreign.pk}").status_code == 404
    assert client.get(url("budget_changelist")).context["cl"].result_count == 0


def test_the_budget_amount_changes_with_a_reason(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("4000"))
    client = acme.client("ops_admin")
    page = client.get(url("budget_change", alloc.budget_id))
    assert acme.partner.name in page.content.decode()  # its allocations, inline
    post = {"_action": "amount", "amount-amount": "3000", "amount-reason": "cut"}
    response = client.post(url("budget_change", alloc.budget_id), post)
    assert response.status_code == 200
    assert "already allocated" in str(response.context["forms"]["amount"].errors["amount"])
    post["amount-amount"] = "120000"
    response = client.post(url("budget_change", alloc.budget_id), {**post, "amount-reason": ""})
    assert "reason" in response.context["forms"]["amount"].errors
    response = client.post(url("budget_change", alloc.budget_id), post)
    assert response.status_code == 302
    with acme.scope():
        assert Budget.objects.get().amount == D("120000")
    executive = acme.client("executive")
    assert executive.post(url("budget_change", alloc.budget_id), post).status_code == 403


# --- Allocations ------------------------------------------------------------------------------


def test_allocate_by_hand_and_the_budget_is_never_overallocated(acme):
    with acme.scope():
        budget = b.budget(acme, b.fund_type(acme), D("1000"))
    client = acme.client("ops_admin")
    page = client.get(url("allocation_add") + f"?budget={budget.pk}")
    assert page.context["form"].initial["budget"] == str(budget.pk)
    data = {"budget": str(budget.pk), "partner": str(acme.partner.pk), "amount": "600"}
    response = client.post(url("allocation_add"), data)
    assert response.status_code == 302
    data.update(partner=str(acme.other_partner.pk), amount="401")
    response = client.post(url("allocation_add"), data)
    assert response.status_code == 200
    assert "400.00" in str(form_errors(response)["amount"])
    with acme.scope():
        assert Allocation.objects.get().source == "manual"
    assert acme.client("finance").get(url("allocation_add")).status_code == 403


def test_allocation_choices_are_the_tenants(acme, globex):
    with acme.scope():
        budget = b.budget(acme, b.fund_type(acme))
    data = {"budget": str(budget.pk), "partner": str(globex.partner.pk), "amount": "10"}
    response = acme.client("ops_admin").post(url("allocation_add"), data)
    assert "partner" in form_errors(response)
    choices = {str(p.pk) for p in response.context["form"].fields["partner"].queryset}
    assert str(acme.partner.pk) in choices and str(globex.partner.pk) not in choices


def test_the_allocation_list_is_filtered_and_constant(acme, django_assert_max_num_queries):
    with acme.scope():
        fund = b.fund_type(acme)
        budget = b.budget(acme, fund)
        first = b.allocation(acme, D("100"), fund=fund, bud=budget)
    client = acme.client("ops_admin")
    client.get(url("allocation_changelist"))
    with django_assert_max_num_queries(14) as few:
        client.get(url("allocation_changelist"))
    with acme.scope():
        for n in range(5):
            partner = factories.make_partner(acme.tenant, f"Extra {n}")
            b.allocation(acme, D("10"), partner=partner, fund=fund, bud=budget)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url("allocation_changelist"))
    assert response.context["cl"].result_count == 6
    response = client.get(url("allocation_changelist") + f"?partner={acme.partner.pk}")
    assert [a.pk for a in response.context["cl"].result_list] == [first.pk]
    response = client.get(url("allocation_changelist") + f"?budget={budget.pk}")
    assert response.context["cl"].result_count == 6
    response = client.get(url("allocation_changelist") + f"?fund_type={fund.pk}")
    assert response.context["cl"].result_count == 6
    period = f"{budget.starts_on:%Y-%m-%d}_{budget.ends_on:%Y-%m-%d}"
    response = client.get(url("allocation_changelist") + f"?period={period}")
    assert response.context["cl"].result_count == 6
    response = client.get(url("allocation_changelist") + "?period=nonsense")
    assert response.context["cl"].result_count == 0


def test_change_an_allocation_and_see_its_history(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("5000"))
        b.approved(acme, alloc, amount=D("2000"))
    client = acme.client("ops_admin")
    post = {"_action": "amount", "amount-amount": "1500", "amount-reason": "cut"}
    response = client.post(url("allocation_change", alloc.pk), post)
    assert "already reserved" in str(response.context["forms"]["amount"].errors["amount"])
    post["amount-amount"] = "6000"
    assert client.post(url("allocation_change", alloc.pk), post).status_code == 302
    page = client.get(url("allocation_change", alloc.pk))
    changes = list(page.context["changes"])
    assert [c.kind for c in changes] == ["adjusted", "reserved", "allocated"]
    assert "cut" in page.content.decode()


def test_move_unspent_funds(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("5000"))
    client = acme.client("ops_admin")
    post = {
        "_action": "move",
        "move-partner": str(acme.other_partner.pk),
        "move-amount": "6000",
        "move-reason": "They will not use it",
    }
    response = client.post(url("allocation_change", alloc.pk), post)
    assert "is unspent" in str(response.context["forms"]["move"].errors["amount"])
    post["move-amount"] = "1500"
    response = client.post(url("allocation_change", alloc.pk), post)
    assert response.status_code == 302
    with acme.scope():
        target = Allocation.objects.get(partner=acme.other_partner)
        assert target.amount == D("1500")
        assert Allocation.objects.get(pk=alloc.pk).amount == D("3500")
        kinds = set(AllocationChange.objects.values_list("kind", flat=True))
        assert {"moved_in", "moved_out"} <= kinds
    # Channel managers read allocations but do not move them.
    cm = acme.client("channel_manager")
    assert cm.get(url("allocation_change", alloc.pk)).status_code == 200
    assert cm.post(url("allocation_change", alloc.pk), post).status_code == 403


# --- Allocation by a rule -------------------------------------------------------------------


def test_rule_allocation_shows_the_plan_then_applies_it(acme):
    with acme.scope():
        budget = b.budget(acme, b.fund_type(acme), D("1000"))
        gold = acme.partner.tier
        silver = factories.make_tier(acme.tenant, "Bronze", 1)
        factories.make_partner(acme.tenant, "Bronze Partner", tier=silver)
    client = acme.client("ops_admin")
    page = client.get(rule_url(budget))
    assert page.status_code == 200
    data = {"rule": "per_tier", f"tier_{gold.pk}": "300", "total": "", "reason": "Q plan"}
    response = client.post(rule_url(budget), {**data, "preview": "1"})
    plan = response.context["plan"]
    assert plan.total == D("600") and len(plan.rows) == 2
    assert [p.name for p, _ in plan.skipped] == ["Bronze Partner"]
    with acme.scope():
        assert not Allocation.objects.exists()  # a dry run
    # Too much: refused, nothing written.
    too_much = {**data, f"tier_{gold.pk}": "600", "apply": "1"}
    response = client.post(rule_url(budget), too_much)
    assert response.status_code == 200 and response.context["too_much"]
    assert "more than the" in str(response.context["form"].non_field_errors())
    with acme.scope():
        assert not Allocation.objects.exists()
    response = client.post(rule_url(budget), {**data, "apply": "1"})
    assert response.status_code == 302
    with acme.scope():
        assert set(Allocation.objects.values_list("source", flat=True)) == {"rule"}
        assert Budget.objects.get().allocated == D("600")
    assert acme.client("finance").get(rule_url(budget)).status_code == 403


def test_rule_allocation_by_revenue_needs_a_total(acme):
    with acme.scope():
        budget = b.budget(acme, b.fund_type(acme), D("1000"))
    client = acme.client("ops_admin")
    response = client.post(rule_url(budget), {"rule": "revenue_share", "preview": "1"})
    assert "total" in response.context["form"].errors
    response = client.post(
        rule_url(budget), {"rule": "revenue_share", "total": "500", "preview": "1"}
    )
    plan = response.context["plan"]
    assert plan.rows == [] and len(plan.skipped) == 2  # nobody won anything last period
    assert messages_of(response) == []


def test_without_a_budget_the_rule_and_import_pages_ask_which(acme):
    with acme.scope():
        budget = b.budget(acme, b.fund_type(acme))
    client = acme.client("ops_admin")
    for page in (url("budget_rule"), url("allocation_import")):
        response = client.get(page)
        assert response.status_code == 200
        assert f"?budget={budget.pk}" in response.content.decode()
    assert acme.client("finance").get(url("allocation_import")).status_code == 403
    assert acme.client("finance").get(url("budget_rule")).status_code == 403

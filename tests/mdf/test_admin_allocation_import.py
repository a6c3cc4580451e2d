"""Allocations of a budget from a CSV file: the dry run's per-row errors
(nothing written), the all-or-nothing import through funds.allocate, and
the admin's upload → preview → confirm flow."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mdf import allocation_import, funds
from mdf.models import Allocation, AllocationChange, Budget
from prm.tenancy.roles import Role
from tests import factories

from . import builders as b

pytestmark = pytest.mark.django_db
D = Decimal


def import_url(budget):
    return reverse("tenant_admin:mdf_allocation_import") + f"?budget={budget.pk}"


@pytest.fixture
def budget(acme):
    with acme.scope():
        return b.budget(acme, b.fund_type(acme), D("1000"))


def errors_by_line(result):
    return {row.line: row.errors for row in result.rows if row.errors}


def test_a_clean_file_is_checked_without_writing(acme, budget):
    text = f"partner,amount,reason\n{acme.partner.name},600,Q2 plan\ntwo.acme-partners.test,100,\n"
    with acme.scope():
        result = allocation_import.parse_allocations_csv(budget, text)
        assert result.ok, (result.errors, errors_by_line(result))
        assert result.total == D("700")
        assert [r.partner for r in result.rows] == [acme.partner, acme.other_partner]
        assert not Allocation.objects.exists()


def test_the_dry_run_names_each_rows_problem(acme, globex, budget):
    with acme.scope():
        silver = factories.make_tier(acme.tenant, "Bronze", 1)
        scoped = funds.create_budget(
            acme.tenant,
            by=acme[Role.OPS_ADMIN],
            fund_type=budget.fund_type,
            span="year",
            fiscal_year=budget.fiscal_year,
            number=1,
            amount=D("500"),
            tier=acme.partner.tier,
        )
        factories.make_partner(acme.tenant, "Bronze Reseller", tier=silver)
        text = (
            "partner,amount,reason\n"
            f"{acme.partner.name},100,\n"  # 2: fine
            "Nobody Ltd,10,\n"  # 3: unknown
            f"{globex.partner.name},10,\n"  # 4: another tenant's partner is unknown here
            "Bronze Reseller,10,\n"  # 5: outside the budget's tier
            f"{acme.other_partner.name},ten,\n"  # 6: bad amount
            f"{acme.other_partner.name},0,\n"  # 7: not positive (and a duplicate)
            f"{acme.partner.pk},50,\n"  # 8: the partner of line 2 again (by id)
            "Acme Distributor Two,,\n"  # 9: amount required (duplicate too)
        )
        result = allocation_import.parse_allocations_csv(scoped, text)
        lines = errors_by_line(result)
        assert not result.ok
        assert 2 not in lines
        assert "no partner here" in lines[3][0]
        assert "no partner here" in lines[4][0]
        assert "tier" in lines[5][0]
        assert "not an amount" in " ".join(lines[6])
        assert "greater than zero" in " ".join(lines[7])
        assert "already on line 2" in " ".join(lines[8])
        assert "required" in " ".join(lines[9])
        assert not Allocation.objects.exists()


def test_a_total_past_the_budget_is_refused(acme, budget):
    text = f"partner,amount\n{acme.partner.name},600\n{acme.other_partner.name},401\n"
    with acme.scope():
        result = allocation_import.parse_allocations_csv(budget, text)
        assert not result.ok
        assert "more than the" in result.errors[0] and "1,000.00" in result.errors[0]


def test_bad_headers_are_file_errors(acme, budget):
    with acme.scope():
        result = allocation_import.parse_allocations_csv(budget, "name,sum\nx,1\n")
    assert "Missing columns: amount, partner." in result.errors
    assert any("Unknown columns" in e for e in result.errors)


def test_the_import_is_all_or_nothing_through_the_service(acme, budget):
    text = f"partner,amount,reason\n{acme.partner.name},600,plan\n{acme.other_partner.name},300,\n"
    with acme.scope():
        # Someone allocates meanwhile: the second row no longer fits.
        check = allocation_import.parse_allocations_csv(budget, text)
        assert check.ok
        funds.allocate(budget, acme.other_partner, D("200"), by=acme[Role.OPS_ADMIN])
        result = allocation_import.import_allocations(budget, text, by=acme[Role.OPS_ADMIN])
        assert not result.ok and result.created == 0
        assert Allocation.objects.get().amount == D("200")  # only the other change
        text = text.replace(",300,", ",200,")
        result = allocation_import.import_allocations(budget, text, by=acme[Role.OPS_ADMIN])
        assert result.ok and result.created == 2
        mine = Allocation.objects.get(partner=acme.partner)
        assert (mine.amount, mine.source) == (D("600"), "csv")
        assert Allocation.objects.get(partner=acme.other_partner).amount == D("400")
        assert Budget.objects.get().allocated == D("1000")
        assert AllocationChange.objects.filter(reason="plan").count() == 1


def upload(client, budget, text):
    return client.post(
        import_url(budget),
        {"file": SimpleUploadedFile("alloc.csv", text.encode(), content_type="text/csv")},
    )


def test_the_admin_flow_previews_then_imports(acme, budget):
    client = acme.client("ops_admin")
    page = client.get(import_url(budget))
    assert page.status_code == 200 and "left to allocate" in page.content.decode()
    bad = upload(client, budget, "partner,amount\nNobody,5\n")
    assert "token" not in bad.context and "no partner here" in bad.content.decode()
    good = upload(client, budget, f"partner,amount\n{acme.partner.name},250\n")
    token = good.context["token"]
    with acme.scope():
        assert not Allocation.objects.exists()
    done = client.post(import_url(budget), {"confirm": "1", "token": token})
    assert done.status_code == 302
    with acme.scope():
        assert Allocation.objects.get().amount == D("250")
    # The token is used once.
    again = client.post(import_url(budget), {"confirm": "1", "token": token})
    assert again.status_code == 302
    with acme.scope():
        assert Allocation.objects.get().amount == D("250")


def test_a_preview_is_confirmed_into_its_own_budget_only(acme, budget):
    with acme.scope():
        other = b.budget(acme, b.fund_type(acme, name="Co-op"), D("1000"))
    client = acme.client("ops_admin")
    token = upload(client, budget, f"partner,amount\n{acme.partner.name},250\n").context["token"]
    response = client.post(import_url(other), {"confirm": "1", "token": token})
    assert response.status_code == 302
    with acme.scope():
        assert not Allocation.objects.exists()


@pytest.mark.parametrize("role", ["channel_manager", "finance", "executive"])
def test_only_ops_import(acme, budget, role):
    assert acme.client(role).get(import_url(budget)).status_code == 403


def test_the_import_needs_a_budget_of_the_tenant(acme):
    client = acme.client("ops_admin")
    url = reverse("tenant_admin:mdf_allocation_import")
    assert client.get(url + "?budget=not-a-uuid").status_code == 404


def test_a_refused_row_rolls_back_the_rows_before_it(acme, budget, monkeypatch):
    """The check passes, then the service refuses the second row (a change
    that came in between): the first row's allocation is rolled back."""
    real = funds.allocate
    calls = []

    def refusing(budget, partner, amount, **kw):
        calls.append(partner)
        if len(calls) == 2:
            raise funds.MdfError("The budget has 0.00 left to allocate.", "amount")
        return real(budget, partner, amount, **kw)

    monkeypatch.setattr(funds, "allocate", refusing)
    text = f"partner,amount\n{acme.partner.name},100\n{acme.other_partner.name},100\n"
    with acme.scope():
        result = allocation_import.import_allocations(budget, text, by=acme[Role.OPS_ADMIN])
        assert result.created == 0 and not result.ok
        assert "left to allocate" in " ".join(result.rows[1].errors)
        assert not Allocation.objects.exists()
        assert Budget.objects.get().allocated == 0

"""The ledger in the admin: read-only for everyone, filters and search, a
streamed CSV export of the filtered list, each entry's page with its chain,
and manual adjustments by finance (once per form, a rate for foreign
currencies or the missing-rate message). Stuck accruals and "Retry now"."""

import csv
import io
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from dealreg.models import DealRegistration
from incentives import adjustments, ledger
from incentives.models import DealAccrualState, ExchangeRate, LedgerEntry
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role
from tests import factories

from .conftest import make_plan, make_won_deal

D = Decimal
Kind = LedgerEntry.Kind
pytestmark = pytest.mark.django_db


def url(view: str, *args, query: str = "") -> str:
    return reverse(f"tenant_admin:incentives_ledgerentry_{view}", args=args) + query


def listed(response) -> list[LedgerEntry]:
    return list(response.context["cl"].result_list)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def adjust(world, amount="10.00", *, partner=None, currency=None, reason="Goodwill", day=None):
    return adjustments.manual_adjustment(
        world.tenant,
        by=world[Role.FINANCE],
        partner=partner or world.partner,
        amount=D(amount),
        currency=currency or world.tenant.base_currency,
        effective_date=day or date.today() - timedelta(days=1),
        reason=reason,
        token=str(uuid.uuid4()),
    )


@pytest.fixture
def booked(acme):
    """An accrual and its clawback on one deal, and a manual adjustment for
    the other partner."""
    with acme.scope():
        make_plan(acme, rate_percent=D("10"), effective_from=date(2024, 1, 1))
        deal = make_won_deal(acme, "1000", close_date=date(2025, 2, 3))
        (accrual,) = ledger.sync_deal(deal)
        DealRegistration.objects.filter(pk=deal.pk).update(status=DealRegistration.Status.REVERSED)
        (clawback,) = ledger.sync_deal(deal)
        manual = adjust(acme, "-25.50", partner=acme.other_partner, reason="=cmd|' /C calc'!A0")
    return {"deal": deal, "accrual": accrual, "clawback": clawback, "manual": manual}


def adjustment_post(world, **overrides):
    data = {
        "partner": str(world.partner.pk),
        "amount": "150.00",
        "currency": world.tenant.base_currency,
        "effective_date": (date.today() - timedelta(days=2)).isoformat(),
        "reason": "Missed SPIFF for the spring campaign",
        "token": str(uuid.uuid4()),
    }
    data.update(overrides)
    return data


# --- The list -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.FINANCE, Role.OPS_ADMIN, Role.EXECUTIVE])
def test_readers_see_the_list_and_nobody_changes_an_entry(acme, booked, role):
    client = acme.client(role)
    response = client.get(url("changelist"))
    assert response.status_code == 200
    assert len(listed(response)) == 3
    page = response.content.decode()
    assert ("Record a manual adjustment" in page) == (role == Role.FINANCE)
    entry = booked["accrual"]
    detail = client.get(url("change", entry.pk))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert client.post(url("change", entry.pk), {"amount": "0"}).status_code == 403
    assert client.get(url("delete", entry.pk)).status_code == 403
    assert client.post(url("delete", entry.pk), {"post": "yes"}).status_code == 403
    with acme.scope():
        assert LedgerEntry.objects.get(pk=entry.pk).amount == D("100.00")


@pytest.mark.parametrize("role", [Role.CHANNEL_MANAGER, Role.PARTNER_ADMIN, Role.PARTNER_USER])
def test_other_roles_get_403(acme, booked, role):
    client = acme.client(role)
    for target in (
        url("changelist"),
        url("change", booked["accrual"].pk),
        url("export"),
        url("add"),
    ):
        assert client.get(target).status_code == 403, target


def test_filters_and_search(acme, booked):
    client = acme.client(Role.FINANCE)

    def keys(query):
        response = client.get(url("changelist", query=query))
        assert response.status_code == 200, query
        return {e.pk for e in listed(response)}

    accrual, clawback, manual = booked["accrual"], booked["clawback"], booked["manual"]
    assert keys("?kind__exact=accrual") == {accrual.pk}
    assert keys("?source__exact=manual") == {manual.pk}
    assert keys("?currency=USD") == {accrual.pk, clawback.pk, manual.pk}
    assert keys("?currency=EUR") == set()
    assert keys(f"?partner={acme.other_partner.pk}") == {manual.pk}
    assert keys("?partner=not-a-uuid") == set()
    assert keys(f"?statement={accrual.statement_start.isoformat()}") == {
        accrual.pk,
        clawback.pk,
        manual.pk,
    }
    assert keys("?statement=2001-01-01") == set()
    assert keys(f"?version={accrual.plan_version_id}") == {
        accrual.pk,
        clawback.pk,
    }
    assert keys(f"?q={booked['deal'].code}") == {accrual.pk, clawback.pk}
    assert keys("?q=Distributor") == {manual.pk}
    assert keys(f"?q={manual.idempotency_key}") == {manual.pk}
    page = client.get(url("changelist")).content.decode()
    assert "Acme Distributor Two" in page and "-25.50 USD" in page


def test_the_list_reads_a_constant_number_of_queries(acme, booked, django_assert_max_num_queries):
    client = acme.client(Role.FINANCE)
    client.get(url("changelist"))  # warm up (settings row, session)
    with django_assert_max_num_queries(16):
        client.get(url("changelist"))
    with acme.scope():
        for n in range(40):
            adjust(acme, f"{n + 1}.00")
    with django_assert_max_num_queries(16):
        response = client.get(url("changelist"))
    assert len(listed(response)) == 43


def test_another_tenants_entries_are_404(acme, globex, booked):
    intruder = globex.client(Role.FINANCE)
    assert intruder.get(url("change", booked["accrual"].pk)).status_code == 404
    assert listed(intruder.get(url("changelist"))) == []
    export = intruder.get(url("export"))
    assert len(b"".join(export.streaming_content).decode().splitlines()) == 1
    refused = intruder.post(url("add"), adjustment_post(acme))
    assert refused.status_code == 200
    assert "partner" in refused.context["form"].errors
    with globex.scope():
        assert not LedgerEntry.objects.exists()


# --- Export ---------------------------------------------------------------------------------


def test_export_is_the_filtered_list_and_safe_for_spreadsheets(acme, booked):
    client = acme.client(Role.EXECUTIVE)
    response = client.get(url("export", query=f"?partner={acme.other_partner.pk}"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:6] == ["id", "created at", "partner", "kind", "source", "amount"]
    (row,) = rows[1:]
    record = dict(zip(rows[0], row, strict=True))
    manual = booked["manual"]
    assert record["id"] == str(manual.pk)
    assert (record["kind"], record["source"], record["amount"]) == (
        "adjustment",
        "manual",
        "-25.500",
    )
    assert record["description"].startswith("'") is False  # "Adjustment: =cmd..." is text
    assert record["created by"] == acme[Role.FINANCE].user.email
    everything = client.get(url("export"))
    assert len(b"".join(everything.streaming_content).decode().splitlines()) == 4
    assert client.get(url("export", query="?nonsense=1")).status_code == 400


def test_a_formula_in_a_cell_is_quoted(acme):
    with acme.scope():
        sly = factories.make_partner(acme.tenant, "=HYPERLINK(1)")
        adjust(acme, partner=sly)
    response = acme.client(Role.FINANCE).get(url("export"))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1][2] == "'=HYPERLINK(1)"


# --- An entry's page -----------------------------------------------------------------------


def test_the_page_shows_the_chain(acme, booked):
    client = acme.client(Role.FINANCE)
    accrual, clawback = booked["accrual"], booked["clawback"]
    page = client.get(url("change", accrual.pk)).content.decode()
    assert url("change", clawback.pk) in page  # reversed by
    assert "not paid yet" in page
    assert "matches what the entry says" in page
    assert booked["deal"].code in page
    page = client.get(url("change", clawback.pk)).content.decode()
    assert url("change", accrual.pk) in page  # reverses
    manual = client.get(url("change", booked["manual"].pk)).content.decode()
    assert "Record an adjustment for" in manual


# --- Manual adjustments ---------------------------------------------------------------------


def test_finance_records_an_adjustment_once(acme):
    client = acme.client(Role.FINANCE)
    form = client.get(url("add", query=f"?partner={acme.partner.pk}"))
    assert form.status_code == 200
    assert form.context["form"].initial["partner"] == acme.partner.pk
    data = adjustment_post(acme)
    response = client.post(url("add"), data)
    with acme.scope():
        entry = LedgerEntry.objects.get(source=LedgerEntry.Source.MANUAL)
    assert response.status_code == 302
    assert response["Location"] == url("change", entry.pk)
    assert "Adjustment of 150.00 USD recorded" in messages_of(response)[0]
    assert (entry.kind, entry.amount, entry.amount_base, entry.fx_rate) == (
        Kind.ADJUSTMENT,
        D("150.00"),
        D("150.00"),
        D("1"),
    )
    assert entry.created_by == acme[Role.FINANCE].user
    assert entry.available_on == acme.tenant.local_today()
    assert entry.effective_date == date.today() - timedelta(days=2)
    assert entry.description == "Adjustment: Missed SPIFF for the spring campaign"
    assert entry.created_via == "admin:manual_adjustment"
    again = client.post(url("add"), data)
    assert again["Location"] == url("change", entry.pk)
    assert messages_of(again)[-1] == "That adjustment was already recorded (once)."
    with acme.scope():
        assert LedgerEntry.objects.filter(source=LedgerEntry.Source.MANUAL).count() == 1
        (audit,) = AuditEntry.objects.filter(action="incentives.manual_adjustment")
        assert audit.data["reason"] == "Missed SPIFF for the spring campaign"
        assert audit.actor == acme[Role.FINANCE].user


def test_a_foreign_currency_uses_the_rate_in_force_or_says_it_is_missing(acme):
    client = acme.client(Role.FINANCE)
    with acme.scope():
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="EUR", valid_from=date(2030, 1, 1), rate=D("1.1")
        )
    day = date.today() - timedelta(days=1)
    refused = client.post(
        url("add"), adjustment_post(acme, currency="EUR", effective_date=day.isoformat())
    )
    assert refused.status_code == 200
    message = f"No EUR exchange rate is in force on {day:%Y-%m-%d}"
    assert message in " ".join(refused.context["form"].non_field_errors())
    with acme.scope():
        assert not LedgerEntry.objects.exists()
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="EUR", valid_from=day, rate=D("1.0837")
        )
    response = client.post(
        url("add"),
        adjustment_post(acme, currency="EUR", amount="-99.99", effective_date=day.isoformat()),
    )
    assert response.status_code == 302
    with acme.scope():
        entry = LedgerEntry.objects.get()
    # -99.99 x 1.0837 = -108.359163
    assert (entry.currency, entry.fx_rate, entry.amount_base) == ("EUR", D("1.0837"), D("-108.36"))


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"amount": "0"}, "amount", "An adjustment of zero changes nothing"),
        ({"amount": "12.345"}, "amount", "USD amounts have 2 decimals"),
        ({"amount": "abc"}, "amount", "Enter a number"),
        ({"reason": "   "}, "reason", "This field is required"),
        ({"currency": "XXX"}, "currency", "Select a valid choice"),
        ({"partner": str(uuid.uuid4())}, "partner", "Select a valid choice"),
        (
            {"effective_date": (date.today() + timedelta(days=5)).isoformat()},
            "effective_date",
            "takes effect today",
        ),
        ({"effective_date": "2026-02-30"}, "effective_date", "Enter a valid date"),
    ],
)
def test_bad_adjustments_are_refused_with_a_reason(acme, changes, field, message):
    response = acme.client(Role.FINANCE).post(url("add"), adjustment_post(acme, **changes))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors.get(field, [])), response.context[
        "form"
    ].errors
    with acme.scope():
        assert not LedgerEntry.objects.exists()


def test_a_token_reused_for_another_adjustment_is_refused(acme):
    with acme.scope():
        token = str(uuid.uuid4())
        first = adjustments.manual_adjustment(
            acme.tenant,
            by=acme[Role.FINANCE],
            partner=acme.partner,
            amount=D("5"),
            currency="USD",
            effective_date=date.today(),
            reason="first",
            token=token,
        )
        with pytest.raises(ledger.IncentiveError, match="already used for another adjustment"):
            adjustments.manual_adjustment(
                acme.tenant,
                by=acme[Role.FINANCE],
                partner=acme.other_partner,
                amount=D("5"),
                currency="USD",
                effective_date=date.today(),
                reason="second",
                token=token,
            )
        assert list(LedgerEntry.objects.all()) == [first]
        with pytest.raises(ledger.IncentiveError, match="Only finance"):
            adjust_by = acme[Role.OPS_ADMIN]
            adjustments.manual_adjustment(
                acme.tenant,
                by=adjust_by,
                partner=acme.partner,
                amount=D("5"),
                currency="USD",
                effective_date=date.today(),
                reason="ops",
                token=str(uuid.uuid4()),
            )


def test_ops_may_not_record_adjustments(acme):
    client = acme.client(Role.OPS_ADMIN)
    assert client.get(url("add")).status_code == 403
    assert client.post(url("add"), adjustment_post(acme)).status_code == 403
    with acme.scope():
        assert not LedgerEntry.objects.exists()


# --- Stuck accruals ----------------------------------------------------------------------------


def state_url(view: str, *args) -> str:
    return reverse(f"tenant_admin:incentives_dealaccrualstate_{view}", args=args)


def test_stuck_accruals_are_listed_and_retried(acme, globex):
    with acme.scope():
        make_plan(acme, rate_percent=D("10"), effective_from=date(2024, 1, 1))
        gbp = make_won_deal(acme, "500", currency="GBP", close_date=date(2025, 3, 3))
        chf = make_won_deal(acme, "700", currency="CHF", close_date=date(2025, 3, 4))
        fine = make_won_deal(acme, "100", close_date=date(2025, 3, 5))
        ledger.sync_deal(fine)
        for deal in (gbp, chf):
            with pytest.raises(ledger.NoRate) as problem:
                ledger.sync_deal(deal)
            ledger.record_problem(deal, str(problem.value))
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="GBP", valid_from=date(2025, 1, 1), rate=D("1.25")
        )
    client = acme.client(Role.FINANCE)
    response = client.get(state_url("changelist"))
    assert response.status_code == 200
    shown = [s.registration_id for s in response.context["cl"].result_list]
    assert shown == [gbp.pk, chf.pk]  # the deal without a problem is not listed
    assert "No GBP exchange rate is in force on 2025-03-03" in response.content.decode()
    with acme.scope():
        states = {s.registration_id: s.pk for s in DealAccrualState.objects.all()}
    assert globex.client(Role.FINANCE).get(state_url("change", states[gbp.pk])).status_code == 404
    response = client.post(
        state_url("changelist"),
        {"action": "retry_selected", "_selected_action": [states[gbp.pk], states[chf.pk]]},
    )
    assert response.status_code == 302
    notes = messages_of(response)
    assert f"In line now: {gbp.code} (1 entry written)." in notes
    assert any(n.startswith(f"Still stuck: {chf.code}: No CHF exchange rate") for n in notes)
    with acme.scope():
        (entry,) = LedgerEntry.objects.filter(registration=gbp)
        assert (entry.amount, entry.amount_base) == (D("50.00"), D("62.50"))
        assert DealAccrualState.objects.get(registration=gbp).problem == ""
        assert DealAccrualState.objects.get(registration=chf).problem.startswith("No CHF")
    assert acme.client(Role.EXECUTIVE).get(state_url("changelist")).status_code == 403
    assert client.get(state_url("change", states[chf.pk])).status_code == 200
    assert client.post(state_url("delete", states[chf.pk]), {"post": "yes"}).status_code == 403

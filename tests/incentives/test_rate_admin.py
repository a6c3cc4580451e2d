"""Exchange rates in the admin: finance and ops keep the dated table
(executives look), with clear errors; the CSV import checks the whole file
first (dry run, each row's problems, new/update/unchanged) and then writes
all rows or none."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from incentives import rate_import
from incentives.models import ExchangeRate
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role

D = Decimal
pytestmark = pytest.mark.django_db


def url(view: str, *args) -> str:
    return reverse(f"tenant_admin:incentives_exchangerate_{view}", args=args)


def rates(world) -> dict:
    with world.scope():
        return {
            (r.currency, r.valid_from): r.rate
            for r in ExchangeRate.objects.filter(tenant=world.tenant)
        }


def upload(text: str, name: str = "rates.csv"):
    return {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv")}


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- The table ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.FINANCE, Role.OPS_ADMIN])
def test_finance_and_ops_keep_the_table(acme, role):
    client = acme.client(role)
    response = client.post(
        url("add"), {"currency": "eur", "valid_from": "2025-01-01", "rate": "1.0837"}
    )
    assert response.status_code == 302
    with acme.scope():
        rate = ExchangeRate.objects.get()
        assert (rate.currency, rate.rate, rate.created_by) == (
            "EUR",
            D("1.0837"),
            acme[role].user,
        )
        assert AuditEntry.objects.filter(action="incentives.rate_added").count() == 1
    response = client.post(
        url("change", rate.pk), {"currency": "EUR", "valid_from": "2025-01-01", "rate": "1.09"}
    )
    assert response.status_code == 302
    assert rates(acme) == {("EUR", date(2025, 1, 1)): D("1.09")}
    assert client.post(url("delete", rate.pk), {"post": "yes"}).status_code == 302
    assert rates(acme) == {}
    with acme.scope():
        assert AuditEntry.objects.filter(action="incentives.rate_deleted").count() == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"currency": "USD", "valid_from": "2025-01-01", "rate": "1"},
            "currency",
            "USD is the base currency",
        ),
        ({"currency": "EURO", "valid_from": "2025-01-01", "rate": "1"}, "currency", "at most 3"),
        ({"currency": "E1R", "valid_from": "2025-01-01", "rate": "1"}, "currency", "three-letter"),
        ({"currency": "EUR", "valid_from": "2025-01-01", "rate": "0"}, "rate", "greater than"),
        ({"currency": "EUR", "valid_from": "2025-01-01", "rate": "-1"}, "rate", "greater than"),
        ({"currency": "EUR", "valid_from": "2025-13-01", "rate": "1"}, "valid_from", "valid date"),
        (
            {"currency": "EUR", "valid_from": "2024-06-01", "rate": "1.1"},
            None,
            "already exists",
        ),
    ],
)
def test_bad_rates_are_refused_on_their_fields(acme, data, field, message):
    with acme.scope():
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="EUR", valid_from=date(2024, 6, 1), rate=D("1.05")
        )
    response = acme.client(Role.FINANCE).post(url("add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    text = " ".join(errors.get(field or "__all__", []))
    assert message in text, errors
    assert rates(acme) == {("EUR", date(2024, 6, 1)): D("1.05")}


def test_the_list_filters_by_currency_and_executives_only_look(acme, globex):
    with acme.scope():
        for currency, day, rate in (
            ("EUR", date(2025, 1, 1), "1.08"),
            ("EUR", date(2025, 2, 1), "1.09"),
            ("GBP", date(2025, 1, 1), "1.25"),
        ):
            ExchangeRate.objects.create(
                tenant=acme.tenant, currency=currency, valid_from=day, rate=D(rate)
            )
        eur = ExchangeRate.objects.filter(currency="EUR").first()
    client = acme.client(Role.EXECUTIVE)
    response = client.get(url("changelist") + "?currency=GBP")
    assert [r.currency for r in response.context["cl"].result_list] == ["GBP"]
    page = client.get(url("changelist")).content.decode()
    assert "Import CSV" not in page
    assert client.get(url("add")).status_code == 403
    assert client.get(url("import")).status_code == 403
    assert client.post(url("change", eur.pk), {"rate": "9"}).status_code == 403
    assert acme.client(Role.CHANNEL_MANAGER).get(url("changelist")).status_code == 403
    intruder = globex.client(Role.FINANCE)
    assert intruder.get(url("change", eur.pk)).status_code == 404
    assert list(intruder.get(url("changelist")).context["cl"].result_list) == []


# --- The import -------------------------------------------------------------------------------

GOOD = (
    "currency,valid_from,rate\nEUR,2025-01-01,1.0837\neur,2025-02-01,1.0911\nGBP,2025-01-01,1.25\n"
)


def test_dry_run_then_all_rows(acme):
    with acme.scope():
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="GBP", valid_from=date(2025, 1, 1), rate=D("1.2")
        )
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="EUR", valid_from=date(2025, 1, 1), rate=D("1.0837")
        )
    client = acme.client(Role.FINANCE)
    assert client.get(url("import")).status_code == 200
    checked = client.post(url("import"), upload(GOOD))
    result = checked.context["result"]
    assert result.ok
    assert [r.action for r in result.rows] == ["unchanged", "new", "update"]
    assert "Ready to import 1 new and update 1 existing rates (1 unchanged)" in (
        checked.content.decode()
    )
    assert len(rates(acme)) == 2  # nothing written yet
    token = checked.context["token"]
    done = client.post(url("import"), {"confirm": "1", "token": token})
    assert done.status_code == 302
    assert "Imported 1 new and updated 1 exchange rates." in messages_of(done)
    assert rates(acme) == {
        ("EUR", date(2025, 1, 1)): D("1.0837"),
        ("EUR", date(2025, 2, 1)): D("1.0911"),
        ("GBP", date(2025, 1, 1)): D("1.25"),
    }
    with acme.scope():
        audit = AuditEntry.objects.get(action="incentives.rates_imported")
        assert (audit.data["created"], audit.data["updated"]) == (1, 1)
    # The token works once.
    again = client.post(url("import"), {"confirm": "1", "token": token})
    assert again.status_code == 302
    assert "expired or was already imported" in messages_of(again)[-1]


def test_a_file_with_a_bad_row_imports_nothing(acme):
    text = (
        "currency,valid_from,rate\n"
        "EUR,2025-01-01,1.0837\n"
        "USD,2025-01-01,1\n"
        "EURO,2025-01-01,1\n"
        "GBP,01/02/2025,1.2\n"
        "CHF,2025-01-01,1,05\n"
        "JPY,2025-01-01,0\n"
        "SEK,2025-01-01,0.123456789\n"
        "EUR,2025-01-01,1.09\n"
        ",,\n"
        "NOK,2025-01-01,\n"
    )
    response = acme.client(Role.OPS_ADMIN).post(url("import"), upload(text))
    result = response.context["result"]
    assert not result.ok
    assert "token" not in response.context
    errors = {row.line: " ".join(row.errors) for row in result.rows}
    assert errors[2] == ""
    assert "USD is the base currency" in errors[3]
    assert "not a three-letter ISO 4217 code" in errors[4]
    assert "is not a date; write it as 2026-09-30" in errors[5]
    assert "more cells than the header" in errors[6]
    assert "must be greater than zero" in errors[7]
    assert "at most eight decimals" in errors[8]
    assert "already on line 2 of this file" in errors[9]
    assert 10 not in errors  # an empty line is skipped
    assert "rate: this column is required" in errors[11]
    assert rates(acme) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The file is empty."),
        ("currency,valid_from\nEUR,2025-01-01\n", "Missing column: rate."),
        ("currency,valid_from,rate,source\n", "Unknown column: source."),
        ("currency,valid_from,rate\n", "The file has a header but no rows."),
        ("currency,valid_from,rate\x00\n", "NUL characters"),
    ],
)
def test_file_level_problems(acme, text, message):
    result = rate_import.parse_rates_csv(acme.tenant, text)
    assert not result.ok
    assert any(message in e for e in result.errors), result.errors


def test_the_upload_must_be_utf8_text(acme):
    response = acme.client(Role.FINANCE).post(
        url("import"), {"file": SimpleUploadedFile("r.csv", "currency\n€".encode("utf-16"))}
    )
    assert "not UTF-8 text" in " ".join(response.context["form"].errors["file"])


def test_a_rate_added_between_check_and_confirm_is_reported(acme):
    client = acme.client(Role.FINANCE)
    checked = client.post(url("import"), upload("currency,valid_from,rate\nEUR,2025-01-01,1.08\n"))
    token = checked.context["token"]
    with acme.scope():
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="EUR", valid_from=date(2025, 1, 1), rate=D("1.5")
        )
    # The file is checked again on confirm: now the row updates the rate.
    done = client.post(url("import"), {"confirm": "1", "token": token})
    assert done.status_code == 302
    assert rates(acme) == {("EUR", date(2025, 1, 1)): D("1.08")}

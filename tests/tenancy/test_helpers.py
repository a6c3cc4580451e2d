"""The shared helpers of prm/: refusals on forms, advisory locks, the
tenant's local time, public codes, "the member's own object or 404" and
formula-safe CSV responses."""

import re
import threading
from datetime import UTC, date, datetime

import pytest
from django import forms
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.http import Http404
from django.test import RequestFactory

from dealreg.services import DealRegError
from incentives.ledger import IncentiveError
from partners.services import PartnerError
from prm import csvio
from prm.tenancy import codes
from prm.tenancy.access import member_object, own_or_404
from prm.tenancy.errors import ServiceError, add_service_error
from prm.tenancy.locks import advisory_xact_lock, try_advisory_xact_lock
from prm.tenancy.models import Tenant
from prm.tenancy.roles import Role
from prm.tenancy.services import TenancyError

# --- ServiceError ----------------------------------------------------------------------


class NameForm(forms.Form):
    name = forms.CharField()


@pytest.mark.parametrize("error_class", [PartnerError, DealRegError, IncentiveError, TenancyError])
def test_every_apps_refusal_is_a_service_error(error_class):
    error = error_class("No.", "name")
    assert isinstance(error, ServiceError)
    assert (str(error), error.field) == ("No.", "name")


def test_a_refusal_shows_on_its_field_else_above_the_form():
    form = NameForm({"name": "x"})
    assert form.is_valid()
    add_service_error(form, ServiceError("Taken.", "name"))
    add_service_error(form, ServiceError("Not a field here.", "nonexistent"))
    add_service_error(form, ServiceError("General."))
    assert form.errors["name"] == ["Taken."]
    assert form.non_field_errors() == ["Not a field here.", "General."]


# --- Locks ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_advisory_lock_needs_a_transaction():
    with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"):
        advisory_xact_lock("test:outside")


@pytest.mark.django_db(transaction=True)
def test_an_advisory_lock_is_held_until_the_transaction_ends():
    taken_elsewhere = []

    def other_connection():
        try:
            with transaction.atomic():
                taken_elsewhere.append(try_advisory_xact_lock("test:held"))
        finally:
            connection.close()

    with transaction.atomic():
        advisory_xact_lock("test:held")
        thread = threading.Thread(target=other_connection)
        thread.start()
        thread.join()
    thread = threading.Thread(target=other_connection)
    thread.start()
    thread.join()
    assert taken_elsewhere == [False, True]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        assert cursor.fetchone()[0] == 0


# --- Local time ------------------------------------------------------------------------


def test_local_today_and_now_are_in_the_tenants_zone():
    tenant = Tenant(timezone="Pacific/Auckland")
    moment = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)  # 1 April, 01:00 in Auckland
    assert tenant.local_today(moment) == date(2026, 4, 1)
    assert tenant.local_now(moment).hour == 1
    assert Tenant(timezone="America/Los_Angeles").local_today(moment) == date(2026, 3, 31)
    assert tenant.local_now().tzinfo == tenant.tzinfo


# --- Codes -----------------------------------------------------------------------------


def test_public_codes_are_prefixed_readable_and_random():
    made = {codes.public_code("DR") for _ in range(200)}
    assert len(made) == 200
    assert all(re.fullmatch(r"DR-[2-9A-HJ-NP-Z]{8}", code) for code in made)
    assert codes.normalize_code(" dr-7kq2m9xa ") == "DR-7KQ2M9XA"


# --- Own or 404 ------------------------------------------------------------------------


def _request(world, role):
    request = RequestFactory().get("/")
    request.membership = world[role]
    request.tenant = world.tenant
    request.user = world[role].user
    return request


def test_own_or_404(acme):
    with acme.scope():
        own = acme.partner
        other = acme.other_partner
        request = _request(acme, Role.PARTNER_ADMIN)
        assert own_or_404(request, own, perm="portal.dealreg", owner="pk") is own
        with pytest.raises(Http404):
            own_or_404(request, other, perm="portal.dealreg", owner="pk")
        with pytest.raises(PermissionDenied):
            own_or_404(_request(acme, Role.OPS_ADMIN), own, perm="portal.dealreg", owner="pk")


def test_member_object_looks_up_in_scope_and_hands_over_the_object(acme, globex):
    from partners.models import Partner

    @member_object(lambda: Partner.objects.all(), perm="portal.dealreg", owner="pk")
    def view(request, partner):
        return partner

    with acme.scope():
        request = _request(acme, Role.PARTNER_ADMIN)
        assert view(request, pk=acme.partner.pk) == acme.partner
        assert view(request, acme.partner.pk) == acme.partner
        for missing in (acme.other_partner.pk, globex.partner.pk):
            with pytest.raises(Http404):
                view(request, pk=missing)


# --- CSV -------------------------------------------------------------------------------


def test_csv_response_writes_formula_safe_cells():
    response = csvio.csv_response(
        'x"y.csv',
        [["=1+1", "+49 30 1234", None, 3], ["@SUM(A1)", "-x", "ok", date(2026, 1, 2)]],
        ["a", "b", "c", "d"],
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="xy.csv"'
    assert response.content.decode().splitlines() == [
        "a,b,c,d",
        "'=1+1,+49 30 1234,,3",
        "'@SUM(A1),'-x,ok,2026-01-02",
    ]


def test_streamed_csv_response_is_the_same_text():
    rows = [["=A", "b"], ["c", "d"]]
    streamed = csvio.csv_response("f.csv", iter(rows), ["h1", "h2"], stream=True)
    assert b"".join(streamed.streaming_content).decode() == csvio.csv_text(rows, ["h1", "h2"])


def test_export_filename_is_stamped_in_the_tenants_zone():
    tenant = Tenant(slug="acme", timezone="Pacific/Auckland")
    moment = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    assert csvio.export_filename(tenant, "partners", moment) == "acme-partners-20260401-0100.csv"

"""The agreements gate end to end (prm.tenancy.middleware's
PortalGateMiddleware with onboarding.agreements.GATE): a partner with a
required agreement it never accepted is kept to the onboarding pages
(GET elsewhere: redirected there, with the banner; POST elsewhere: 403,
nothing changed) until a partner admin accepts it; a new version leaves
partners that accepted an earlier one their days to accept; agreements of
other partner types and expired versions hold nobody; staff are never
held; and the gate costs one query per partner request."""

import datetime as dt
import uuid

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dealreg.models import DealRegistration, ProductLine
from onboarding import agreements
from onboarding.models import AgreementVersion
from prm.tenancy import registry
from prm.tenancy.roles import Role

from . import builders_agreements as b

pytestmark = pytest.mark.django_db
AGREEMENTS = "/onboarding/agreements/"


def noon(world, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=world.tenant.tzinfo)


def deal_form(world) -> dict:
    with world.scope():
        product = ProductLine.objects.create(tenant=world.tenant, name="Firewall", code="fw")
    return {
        "client_token": str(uuid.uuid4()),
        "customer_name": "Initech Corporation",
        "customer_domain": "https://www.initech.example/about",
        "customer_country": "US",
        "customer_region": "",
        "customer_contact_name": "Bill Lumbergh",
        "customer_contact_email": "bill@initech.example",
        "customer_contact_phone": "+1 555 0100",
        "product_lines": [str(product.pk)],
        "estimated_value": "25000.50",
        "currency": "usd",
        "expected_close_date": (dt.date.today() + dt.timedelta(days=45)).isoformat(),
        "description": "Firewall refresh",
        "action": "submit",
    }


def held(client) -> bool:
    """Whether the member is sent from the home page to the agreements."""
    response = client.get("/")
    return response.status_code == 302 and response["Location"] == AGREEMENTS


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.PARTNER_USER])
def test_a_never_accepted_agreement_keeps_the_partner_to_onboarding(acme, role):
    with acme.scope():
        version = b.version(acme, days_ago=1)
    client = acme.client(role)
    # Home and the deal pages send the member to the agreements, once (no loop).
    for path in ("/", "/deals/", "/deals/new/", "/funds/"):
        response = client.get(path)
        assert (response.status_code, response["Location"]) == (302, AGREEMENTS), path
    landing = client.get(AGREEMENTS)
    assert landing.status_code == 200
    banner = landing.content.decode()
    assert 'data-testid="portal-gate"' in banner and "agreement to accept" in banner
    # A form elsewhere is refused and changes nothing.
    response = client.post("/deals/new/", deal_form(acme))
    assert response.status_code == 403
    assert "agreement to accept" in response.content.decode()
    with acme.scope():
        assert not DealRegistration.objects.exists()
    # The onboarding pages, the account and signing out stay open.
    assert client.get(reverse("onboarding:agreement", args=[version.pk])).status_code == 200
    assert client.get("/account/").status_code == 200
    assert client.get("/notifications/").status_code == 200
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302
    assert client.get("/")["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "role", [Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE]
)
def test_staff_are_not_held(acme, role):
    with acme.scope():
        b.version(acme)
    client = acme.client(role)
    response = client.get("/")
    assert response.status_code == 200
    assert 'data-testid="portal-gate"' not in response.content.decode()


def test_after_acceptance_everything_opens(acme):
    with acme.scope():
        version = b.version(acme)
    admin, user = acme.client(Role.PARTNER_ADMIN), acme.client(Role.PARTNER_USER)
    assert held(admin) and held(user)
    response = admin.post(
        reverse("onboarding:agreement", args=[version.pk]),
        {"agree": "on", "typed_name": "Pat Partner", "content_sha256": version.content_sha256},
    )
    assert response.status_code == 302
    for client in (admin, user):
        home = client.get("/")
        assert home.status_code == 200
        assert 'data-testid="portal-gate"' not in home.content.decode()
        assert client.get("/deals/").status_code == 200
    response = user.post("/deals/new/", deal_form(acme))
    assert response.status_code == 302
    with acme.scope():
        assert DealRegistration.objects.count() == 1


def test_a_new_version_leaves_its_days_to_accept_then_holds(acme):
    with acme.scope():
        first = b.version(acme, days_ago=100)
        b.accept(acme, first)
        second = b.version(acme, first.agreement, days_ago=0, grace_days=14)
    deadline = second.effective_on + dt.timedelta(days=14)
    with time_machine.travel(noon(acme, second.effective_on), tick=False):
        client = acme.client(Role.PARTNER_USER)
        assert not held(client)
        home = client.get("/")
        assert 'data-testid="portal-gate"' not in home.content.decode()
        page = client.get(AGREEMENTS).content.decode()
        assert 'data-testid="reminder"' in page and 'data-testid="portal-gate"' not in page
    # (A new sign-in each time: a session does not last weeks.)
    with time_machine.travel(noon(acme, deadline), tick=False):
        assert not held(acme.client(Role.PARTNER_USER))  # the last day to accept
    with time_machine.travel(noon(acme, deadline + dt.timedelta(days=1)), tick=False):
        assert held(acme.client(Role.PARTNER_USER))
        with acme.scope():
            # With the other partner, which never accepted any version.
            assert set(agreements.held_partners(deadline + dt.timedelta(days=1))) == {
                acme.partner,
                acme.other_partner,
            }
            assert list(agreements.held_partners(deadline)) == [acme.other_partner]


def test_the_settings_default_days_to_accept_apply(acme):
    from onboarding.models import OnboardingSettings

    with acme.scope():
        row = OnboardingSettings.for_tenant(acme.tenant)
        row.agreement_grace_days = 3
        row.save()
        first = b.version(acme, days_ago=50)
        b.accept(acme, first)
        second = b.version(acme, first.agreement, days_ago=3)
        assert agreements.owed(acme.partner, day=b.today(acme))[0].blocking is False
        later = b.today(acme) + dt.timedelta(days=1)
        assert agreements.owed(acme.partner, day=later)[0].blocking is True
        assert second.grace_days is None


def test_an_agreement_for_another_partner_type_holds_nobody_here(acme):
    with acme.scope():
        b.version(acme, b.agreement(acme, "MSP terms", partner_types=["msp", "si"]))
        assert acme.partner.partner_type == "reseller"
    assert not held(acme.client(Role.PARTNER_ADMIN))
    with acme.scope():
        b.version(acme, b.agreement(acme, "Reseller terms", partner_types=["reseller"]))
    assert held(acme.client(Role.PARTNER_ADMIN))


def test_expired_versions_and_inactive_agreements_hold_nobody(acme):
    with acme.scope():
        expired = b.version(acme, days_ago=30, expires_on=b.today(acme))
        inactive = b.version(acme, b.agreement(acme, "Retired", is_active=False))
        future = b.version(acme, b.agreement(acme, "Next year"))
        AgreementVersion.objects.filter(pk=future.pk).update(
            effective_on=b.today(acme) + dt.timedelta(days=1)
        )
        assert expired and inactive
    client = acme.client(Role.PARTNER_ADMIN)
    assert not held(client)
    with time_machine.travel(noon(acme, b.today(acme) + dt.timedelta(days=1)), tick=False):
        assert held(client)  # the scheduled one is in force now


@pytest.mark.parametrize("holds", [False, True], ids=["not held", "held"])
def test_the_gate_costs_one_query(acme, holds, monkeypatch, django_assert_num_queries):
    """The same page for the same partner admin, without and with the
    agreements gate declared: one query apart, whether it holds or not
    (the account page stays open while held)."""
    with acme.scope():
        types = None if holds else ["msp"]
        b.version(acme, b.agreement(acme, "Terms", **({"partner_types": types} if types else {})))
    client = acme.client(Role.PARTNER_ADMIN)
    client.get("/account/")
    declared = registry.gates
    monkeypatch.setattr(registry, "gates", lambda: ())
    with CaptureQueriesContext(connection) as without:
        response = client.get("/account/")
    assert response.status_code == 200
    assert 'data-testid="portal-gate"' not in response.content.decode()
    monkeypatch.setattr(registry, "gates", declared)
    with django_assert_num_queries(len(without.captured_queries) + 1) as with_gate:
        response = client.get("/account/")
    assert response.status_code == 200
    assert ('data-testid="portal-gate"' in response.content.decode()) is holds
    gate_queries = [
        q["sql"] for q in with_gate.captured_queries if "onboarding_agreementversion" in q["sql"]
    ]
    assert len(gate_queries) == 1

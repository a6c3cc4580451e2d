"""The foundation's portal gates (``PortalGate``, ``PortalGateMiddleware``)
with a gate of the test's own: what a held partner member may open, where
the rest sends them, that a POST behind the gate changes nothing, and that
staff and members not held never notice it."""

import pytest

from dealreg.models import DealRegistration
from prm.tenancy import registry
from prm.tenancy.declarations import Gate, PortalGate
from prm.tenancy.roles import Role

HELD_BY = {Role.PARTNER_USER}


def _holds(membership):
    if membership.role not in HELD_BY:
        return None
    return Gate(message="Finish the thing first.", url="/account/", action="Do it")


TEST_GATE = PortalGate(key="tests.gate", holds=_holds, open_names=("dealreg:list",))


@pytest.fixture
def gated(monkeypatch):
    monkeypatch.setattr(registry, "gates", lambda: (TEST_GATE,))


@pytest.mark.django_db
def test_a_held_member_is_sent_to_the_gate_page_with_its_banner(acme, gated):
    client = acme.client(Role.PARTNER_USER)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/account/"
    page = client.get("/account/")  # open: the foundation's own page, no loop
    assert page.status_code == 200
    assert b"Finish the thing first." in page.content
    assert b'data-testid="portal-gate"' in page.content


@pytest.mark.django_db
def test_the_gate_leaves_its_open_pages_and_signing_out_open(acme, gated):
    client = acme.client(Role.PARTNER_USER)
    listed = client.get("/deals/")
    assert listed.status_code == 200
    assert b"Finish the thing first." in listed.content
    assert client.get("/accounts/logout/").status_code == 200
    # An unknown address is the 404 page, as for anyone.
    assert client.get("/no-such-page/").status_code == 404


@pytest.mark.django_db
def test_a_post_behind_the_gate_is_refused_and_changes_nothing(acme, gated):
    client = acme.client(Role.PARTNER_USER)
    with acme.scope():
        before = DealRegistration.objects.count()
    response = client.post("/deals/new/", {"customer_name": "Initech"})
    assert response.status_code == 403
    assert b"Finish the thing first." in response.content
    with acme.scope():
        assert DealRegistration.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted({Role.OPS_ADMIN, Role.PARTNER_ADMIN}))
def test_members_the_gate_does_not_hold_never_see_it(acme, gated, role):
    response = acme.client(role).get("/")
    assert response.status_code == 200
    assert b'data-testid="portal-gate"' not in response.content


@pytest.mark.django_db
def test_staff_are_never_held_even_by_a_gate_that_would(acme, gated, monkeypatch):
    monkeypatch.setattr(
        "tests.tenancy.test_portal_gate.HELD_BY", {Role.OPS_ADMIN, Role.PARTNER_USER}
    )
    assert acme.client(Role.OPS_ADMIN).get("/").status_code == 200
    assert acme.client(Role.PARTNER_USER).get("/").status_code == 302

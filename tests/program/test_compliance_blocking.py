"""Out of compliance blocks new deal registrations when ops choose it:
the form answers 403 saying why and what to do, the list shows the
reason, the submit service refuses and nothing is saved. Signing the
review off, or switching the setting off, lifts it. The refusal is one
query."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealreg import services
from dealreg.models import DealRegistration
from prm.tenancy import registry
from prm.tenancy.roles import Role
from program import compliance

from . import builders_compliance as b

pytestmark = pytest.mark.django_db
NEW = "/deals/new/"
MESSAGE = "new deal registrations are on hold"


@pytest.fixture
def late(acme):
    with acme.scope():
        review = b.overdue(acme)
        b.policy(acme, blocks_registrations=True)
        return review


def submit(acme, products):
    with acme.scope():
        from tests.dealreg.conftest import registration_input

        return services.submit(
            tenant=acme.tenant,
            by=acme[Role.PARTNER_USER],
            given=registration_input(products["acme"]),
            client_token=uuid.uuid4(),
        )


@pytest.fixture
def products(acme, globex):
    from dealreg.models import ProductLine

    with acme.scope():
        return {
            "acme": {"fw": ProductLine.objects.create(tenant=acme.tenant, name="FW", code="fw")}
        }


def test_a_blocked_partner_is_told_why_and_nothing_is_saved(acme, late, products):
    client = acme.client(Role.PARTNER_USER)
    page = client.get(NEW)
    assert page.status_code == 403
    text = page.content.decode()
    assert MESSAGE in text and "/program/compliance/" in text
    assert client.post(NEW, {"customer_name": "Initech", "action": "submit"}).status_code == 403
    listing = client.get("/deals/").content.decode()
    assert 'data-testid="registration-refused"' in listing and MESSAGE in listing
    with pytest.raises(services.DealRegError, match=MESSAGE):
        submit(acme, products)
    with acme.scope():
        assert not DealRegistration.objects.exists()


def test_the_other_partner_and_other_tenant_are_not_blocked(acme, globex, late):
    with acme.scope():
        assert registry.refusal("dealreg.register", acme.other_partner) is None
    assert globex.client(Role.PARTNER_USER).get(NEW).status_code == 200


def test_signing_off_lifts_the_block(acme, late, products):
    with acme.scope():
        b.ready(acme, late)
        done = compliance.submit(late, by=acme[Role.PARTNER_ADMIN])
        # Submitted but still past its due date: still out of compliance.
        assert registry.refusal("dealreg.register", acme.partner) is not None
        compliance.sign_off(done, by=acme[Role.CHANNEL_MANAGER])
    assert acme.client(Role.PARTNER_USER).get(NEW).status_code == 200
    assert submit(acme, products).status == DealRegistration.Status.SUBMITTED


def test_the_setting_off_lifts_the_block(acme, late, products):
    with acme.scope():
        b.policy(acme, blocks_registrations=False)
    assert acme.client(Role.PARTNER_USER).get(NEW).status_code == 200
    assert (
        "registration-refused" not in acme.client(Role.PARTNER_USER).get("/deals/").content.decode()
    )
    assert submit(acme, products).status == DealRegistration.Status.SUBMITTED


def test_the_refusal_is_one_query(acme, late):
    with acme.scope():
        partner = type(acme.partner).objects.select_related("tenant").get(pk=acme.partner.pk)
        with CaptureQueriesContext(connection) as queries:
            found = registry.refusal("dealreg.register", partner)
        assert found is not None and len(queries) == 1

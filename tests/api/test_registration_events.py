"""Deal registration's webhook events: each written in the transaction of the
change it reports (through the API, the admin's services or a sweep), its
data the registration (or conflict) as the API reads it, with a pending
delivery to each endpoint that wants it; a refused change sends nothing."""

from datetime import date, timedelta

import pytest

from dealreg import sla, tasks
from dealreg.models import DealRegistration
from prm.tenancy.roles import Role
from prm.webhooks.models import WebhookDelivery, WebhookEvent
from tests.webhooks.conftest import make_endpoint

from .dealreg_support import REGISTRATIONS, body, make_lines, rival_member, submitted, url

pytestmark = pytest.mark.django_db
REGISTRATION_EVENTS = (
    "registration.submitted",
    "registration.information_requested",
    "registration.approved",
    "registration.rejected",
    "registration.expired",
    "registration.won",
    "registration.lost",
)


@pytest.fixture
def lines(acme):
    return make_lines(acme)


@pytest.fixture
def endpoint(acme):
    with acme.scope():
        return make_endpoint(acme.tenant, events=(*REGISTRATION_EVENTS, "conflict.found"))


def sent(world, type_: str) -> list[WebhookEvent]:
    with world.scope():
        return list(WebhookEvent.objects.filter(type=type_).order_by("created_at", "id"))


def delivered(world, event: WebhookEvent, endpoint) -> bool:
    with world.scope():
        return WebhookDelivery.objects.filter(
            event=event, endpoint=endpoint, state=WebhookDelivery.State.PENDING
        ).exists()


def test_the_workflow_sends_each_move_with_the_registration_as_staff_read_it(
    acme, api, lines, endpoint
):
    partner = api(acme, Role.PARTNER_USER)
    staff = api(acme, Role.CHANNEL_MANAGER)
    created = partner.post(REGISTRATIONS, body(lines)).json()
    [submitted_event] = sent(acme, "registration.submitted")
    reg_url = f"{REGISTRATIONS}{created['id']}/"
    assert submitted_event.data == staff.get(reg_url).json()
    assert submitted_event.data["approver"]["email"] == acme[Role.CHANNEL_MANAGER].user.email
    assert delivered(acme, submitted_event, endpoint)

    staff.post(f"{reg_url}request-information/", {"message": "Which offices?"})
    [asked] = sent(acme, "registration.information_requested")
    assert asked.data["status"] == "more_info_requested"
    assert asked.data["information_request"]["message"] == "Which offices?"
    partner.post(f"{reg_url}answer/", {"message": "All three."})
    # Answering is not an event of its own: nothing else was sent.
    assert len(sent(acme, "registration.submitted")) == 1

    approved = staff.post(f"{reg_url}approve/", {"reason": "Go."}).json()
    [approved_event] = sent(acme, "registration.approved")
    assert approved_event.data == approved
    assert delivered(acme, approved_event, endpoint)
    # Refused (already approved): nothing sent.
    assert staff.post(f"{reg_url}approve/", {}).status_code == 409
    assert len(sent(acme, "registration.approved")) == 1

    won = partner.post(
        f"{reg_url}outcome/",
        {"outcome": "won", "amount": "20000.00", "close_date": date.today().isoformat()},
    )
    assert won.status_code == 200
    [won_event] = sent(acme, "registration.won")
    assert won_event.data["won_amount"] == "20000.00"
    assert won_event.data == staff.get(reg_url).json()


def test_rejected_and_lost(acme, api, lines, endpoint):
    staff = api(acme, Role.OPS_ADMIN)
    first = submitted(acme, lines)
    assert staff.post(url(first, "reject"), {}).status_code == 422
    assert sent(acme, "registration.rejected") == []
    staff.post(url(first, "reject"), {"reason": "Existing direct deal."})
    [rejected] = sent(acme, "registration.rejected")
    assert rejected.data["id"] == str(first.pk)
    assert rejected.data["decision_reason"] == "Existing direct deal."
    second = submitted(acme, lines, customer_name="Hooli", customer_domain="hooli.example")
    staff.post(url(second, "approve"))
    staff.post(url(second, "outcome"), {"outcome": "lost", "reason": "Budget cut"})
    [lost] = sent(acme, "registration.lost")
    assert lost.data["status"] == "lost" and lost.data["lost_reason"] == "Budget cut"


def test_the_expiry_sweep_sends_one_event_per_registration(acme, api, lines, endpoint):
    staff = api(acme, Role.OPS_ADMIN)
    regs = [
        submitted(acme, lines, customer_name=f"Customer {n}", customer_domain=f"c{n}.example")
        for n in range(3)
    ]
    for registration in regs:
        assert staff.post(url(registration, "approve")).status_code == 200
    with acme.scope():
        DealRegistration.objects.filter(pk__in=[r.pk for r in regs[:2]]).update(
            protected_until=date.today() - timedelta(days=2)
        )
        result = sla.sweep_protection(acme.tenant, batch_size=1)
    assert result.expired == 2
    expired = sent(acme, "registration.expired")
    assert sorted(e.data["id"] for e in expired) == sorted(str(r.pk) for r in regs[:2])
    assert all(e.data["status"] == "expired" for e in expired)
    assert all(delivered(acme, e, endpoint) for e in expired)
    with acme.scope():
        sla.sweep_protection(acme.tenant)
    assert len(sent(acme, "registration.expired")) == 2


def test_a_conflict_found_is_sent_once(
    acme, api, lines, endpoint, django_capture_on_commit_callbacks
):
    first = submitted(acme, lines)
    with django_capture_on_commit_callbacks(execute=True):
        second = submitted(acme, lines, member=rival_member(acme), customer_name="Initech Corp")
    [found] = sent(acme, "conflict.found")
    assert found.data["registration"]["id"] == str(second.pk)
    assert found.data["other_registration"]["id"] == str(first.pk)
    assert found.data["kind"] == "registration"
    listed = api(acme, Role.OPS_ADMIN).get(url(second, "conflicts")).json()
    assert found.data == listed[0]
    assert delivered(acme, found, endpoint)
    # Checked again, the same conflict is not news.
    assert tasks.check_conflicts(tenant_id=str(acme.tenant.pk), registration_id=str(second.pk))
    assert len(sent(acme, "conflict.found")) == 1


def test_no_endpoint_no_event_and_only_what_an_endpoint_wants(acme, api, lines):
    client = api(acme, Role.PARTNER_USER)
    client.post(REGISTRATIONS, body(lines))
    with acme.scope():
        assert not WebhookEvent.objects.exists()
        make_endpoint(acme.tenant, events=("registration.approved",))
        make_endpoint(acme.tenant, events=("registration.submitted",), is_active=False)
    client.post(REGISTRATIONS, body(lines, customer_name="Hooli", customer_domain="hooli.example"))
    with acme.scope():
        assert not WebhookEvent.objects.exists()

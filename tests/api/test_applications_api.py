"""Partner applications through the API: staff read them; ops, or the
channel manager an application is routed to, approve or reject it through
the vetting services; and the application.* webhook events."""

import datetime as dt

import pytest
from django.utils import timezone

from onboarding import applications, vetting
from onboarding.errors import OnboardingError
from onboarding.models import Application
from partners.models import Partner
from prm.tenancy.roles import Role
from tests.onboarding import builders_vetting as vb

from .conftest import ApiClient, make_key
from .hooks_onboarding import sent, subscribe

pytestmark = pytest.mark.django_db

URL = "/api/v1/applications/"


def queued(world, **extra) -> Application:
    with world.scope():
        return vb.queued(world, **extra)


def routed_to_cm(world) -> Application:
    app = queued(world)
    with world.scope():
        Application.objects.filter(pk=app.pk).update(reviewer=world[Role.CHANNEL_MANAGER].user)
    return app


def status_of(world, app) -> str:
    with world.scope():
        return Application.objects.get(pk=app.pk).status


def test_staff_read_applications_with_filters_partners_may_not(acme, api):
    mine = routed_to_cm(acme)
    other = queued(acme, company="Contoso Cloud")
    with acme.scope():
        vb.application(acme, status=Application.Status.REJECTED, decided_at=timezone.now())
    finance = api(acme, Role.FINANCE)
    listed = finance.get(URL).json()["results"]
    assert len(listed) == 3
    assert {a["status"] for a in listed} == {"submitted", "rejected"}
    assert "ip_address" not in listed[0]
    one = finance.get(f"{URL}{mine.pk}/")
    assert one.status_code == 200
    body = one.json()
    assert body["code"] == mine.code and body["applicant"]["email"] == mine.contact_email
    assert body["reviewer"]["email"] == acme[Role.CHANNEL_MANAGER].user.email
    cm = api(acme, Role.CHANNEL_MANAGER)
    assert [a["id"] for a in cm.get(URL, {"assigned": "me"}).json()["results"]] == [str(mine.pk)]
    ops = api(acme, Role.OPS_ADMIN)
    routed_to_ops = ops.get(URL, {"assigned": "ops", "status": "submitted"}).json()["results"]
    assert [a["id"] for a in routed_to_ops] == [str(other.pk)]
    assert [a["id"] for a in ops.get(URL, {"company": "contoso"}).json()["results"]] == [
        str(other.pk)
    ]
    bad = ops.get(URL, {"status": "pending"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"
    for role in (Role.PARTNER_ADMIN, Role.PARTNER_USER):
        assert api(acme, role).get(URL).status_code == 403


def test_another_tenants_application_is_404(acme, globex, api):
    app = queued(acme)
    _, token = make_key(globex, Role.OPS_ADMIN)
    intruder = ApiClient(globex.host, token)
    assert intruder.get(f"{URL}{app.pk}/").status_code == 404
    assert intruder.post(f"{URL}{app.pk}/reject/", {"reason": "No"}).status_code == 404
    assert status_of(acme, app) == "submitted"


def test_the_assigned_channel_manager_approves_and_the_event_carries_the_object(acme, api):
    subscribe(acme, "application.approved", "application.rejected")
    app = routed_to_cm(acme)
    with acme.scope():
        vb.template(acme)
    client = api(acme, Role.CHANNEL_MANAGER)
    response = client.post(f"{URL}{app.pk}/approve/", {}, **{"Idempotency-Key": "approve-1"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "approved" and body["partner"]
    assert body["decided_by"]["email"] == acme[Role.CHANNEL_MANAGER].user.email
    with acme.scope():
        partner = Partner.objects.get(pk=body["partner"])
        assert partner.name == app.company_name and partner.status == Partner.Status.ONBOARDING
    again = client.post(f"{URL}{app.pk}/approve/", {}, **{"Idempotency-Key": "approve-1"})
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == body
    [event] = sent(acme, "application.approved")
    assert event.data == client.get(f"{URL}{app.pk}/").json() == body
    assert sent(acme, "application.rejected") == []
    # Decided: a second decision is refused by the application's state.
    late = client.post(f"{URL}{app.pk}/reject/", {"reason": "Changed our mind"})
    assert late.status_code == 409
    assert "approved" in late.json()["detail"]
    assert sent(acme, "application.rejected") == []


def test_a_channel_manager_may_not_decide_what_is_not_routed_to_them(acme, api):
    subscribe(acme, "application.approved", "application.rejected")
    app = queued(acme)  # routed to nobody: ops decide it
    client = api(acme, Role.CHANNEL_MANAGER)
    assert client.post(f"{URL}{app.pk}/approve/", {}).status_code == 403
    assert client.post(f"{URL}{app.pk}/reject/", {"reason": "No"}).status_code == 403
    assert status_of(acme, app) == "submitted"
    assert sent(acme, "application.approved") == sent(acme, "application.rejected") == []
    for role in (Role.FINANCE, Role.EXECUTIVE):
        assert api(acme, role).post(f"{URL}{app.pk}/reject/", {"reason": "No"}).status_code == 403


def test_reject_needs_a_reason_then_tells_the_endpoint(acme, api):
    subscribe(acme, "application.rejected")
    app = queued(acme)
    client = api(acme, Role.OPS_ADMIN)
    empty = client.post(f"{URL}{app.pk}/reject/", {"reason": "  "})
    assert empty.status_code == 422
    reason = {"field": "reason", "message": "Give the applicant a reason."}
    assert empty.json()["errors"] == [reason]
    assert status_of(acme, app) == "submitted"
    assert sent(acme, "application.rejected") == []
    done = client.post(f"{URL}{app.pk}/reject/", {"reason": "Not a fit for the program."})
    assert done.status_code == 200
    assert done.json()["decision_reason"] == "Not a fit for the program."
    [event] = sent(acme, "application.rejected")
    assert event.data["status"] == "rejected" and event.data["id"] == str(app.pk)
    assert event.data == done.json()


def test_approval_refusals_name_the_field_and_change_nothing(acme, globex, api):
    subscribe(acme, "application.approved")
    app = queued(acme)
    with globex.scope():
        foreign_tier = globex.partner.tier
    client = api(acme, Role.OPS_ADMIN)
    wrong = client.post(
        f"{URL}{app.pk}/approve/",
        {"tier": str(foreign_tier.pk), "channel_manager": "nobody@acme.test"},
    )
    assert wrong.status_code == 422
    assert {e["field"] for e in wrong.json()["errors"]} == {"tier", "channel_manager"}
    with acme.scope():
        required = vb.check(acme, "References checked")
    unticked = client.post(f"{URL}{app.pk}/approve/", {})
    assert unticked.status_code == 422
    assert unticked.json()["errors"][0]["field"] == "checks"
    assert "References checked" in unticked.json()["errors"][0]["message"]
    assert status_of(acme, app) == "submitted"
    assert sent(acme, "application.approved") == []
    with acme.scope():
        assert not Partner.objects.filter(name=app.company_name).exists()
        vetting.tick_check(app, required, by=acme[Role.OPS_ADMIN])
        tier = acme.partner.tier
    manager = acme[Role.CHANNEL_MANAGER].user.email
    done = client.post(
        f"{URL}{app.pk}/approve/", {"tier": str(tier.pk), "channel_manager": manager.upper()}
    )
    assert done.status_code == 200, done.content
    with acme.scope():
        partner = Partner.objects.get(pk=done.json()["partner"])
        assert partner.tier_id == tier.pk and partner.channel_manager.email == manager
    assert len(sent(acme, "application.approved")) == 1


def test_confirming_an_application_sends_application_received(acme):
    subscribe(acme, "application.received")
    now = timezone.now()
    with acme.scope():
        fresh = vb.application(
            acme, status=Application.Status.UNCONFIRMED, confirm_by=now + dt.timedelta(hours=2)
        )
        stale = vb.application(
            acme, status=Application.Status.UNCONFIRMED, confirm_by=now - dt.timedelta(hours=1)
        )
        with pytest.raises(OnboardingError):
            applications.confirm(stale, now=now)
        assert sent(acme, "application.received") == []
        assert applications.confirm(fresh, now=now) is True
        assert applications.confirm(fresh, now=now) is False  # a second click: nothing new
    [event] = sent(acme, "application.received")
    assert event.data["id"] == str(fresh.pk)
    assert event.data["status"] == "submitted" and event.data["due_at"]
    assert "ip_address" not in event.data


def test_the_list_is_constant_in_queries(acme, api, django_assert_max_num_queries):
    for _ in range(2):
        routed_to_cm(acme)
    client = api(acme, Role.OPS_ADMIN)
    with django_assert_max_num_queries(12) as few:
        assert len(client.get(URL).json()["results"]) == 2
    for _ in range(4):
        routed_to_cm(acme)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get(URL).json()["results"]) == 6

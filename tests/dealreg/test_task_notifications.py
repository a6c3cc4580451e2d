"""Notifications about a registration that ask someone to do something close
themselves once it is done, whoever does it (prm.tenancy.services.finish_tasks)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dealreg import services
from prm.tenancy.models import Notification
from prm.tenancy.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db


def open_tasks(world, task) -> dict:
    """kind -> users of the open notifications asking for ``task``."""
    with world.scope():
        found: dict = {}
        for n in Notification.objects.filter(task=task, done_at__isnull=True):
            found.setdefault(n.kind, set()).add(n.user)
        return found


def closed(world, kind) -> list:
    with world.scope():
        return list(Notification.objects.filter(kind=kind, done_at__isnull=False))


@pytest.fixture
def submitted(acme, submit_as):
    return submit_as(acme)


def test_the_approver_is_asked_to_decide_and_it_closes_when_anyone_decides(acme, submitted):
    cm = acme[Role.CHANNEL_MANAGER]
    assert open_tasks(acme, "decide") == {"dealreg.assigned": {cm.user}}
    with acme.scope():
        services.approve(submitted, by=acme[Role.OPS_ADMIN])
    assert open_tasks(acme, "decide") == {}
    [note] = closed(acme, "dealreg.assigned")
    assert note.read_at is not None and note.url.endswith(f"/{submitted.pk}/change/")


def test_rejecting_closes_the_task_too(acme, submitted):
    with acme.scope():
        services.reject(submitted, by=acme[Role.CHANNEL_MANAGER], reason="Not qualified")
    assert open_tasks(acme, "decide") == {}


def test_withdrawing_closes_the_approver_s_task(acme, submitted):
    with acme.scope():
        services.withdraw(submitted, by=acme[Role.PARTNER_USER])
    assert open_tasks(acme, "decide") == {}


def test_more_information_is_the_partner_s_task_until_answered(acme, submitted):
    with acme.scope():
        services.request_info(submitted, by=acme[Role.CHANNEL_MANAGER], message="Seats?")
    partner = {acme[Role.PARTNER_USER].user, acme[Role.PARTNER_ADMIN].user}
    assert open_tasks(acme, "answer") == {"dealreg.info_requested": partner}
    with acme.scope():
        services.provide_info(submitted, by=acme[Role.PARTNER_ADMIN], message="500 seats")
    assert open_tasks(acme, "answer") == {}
    # The answer is back with the approver, who is asked to decide.
    assert open_tasks(acme, "decide")["dealreg.info_provided"] == {acme[Role.CHANNEL_MANAGER].user}


def test_reassigning_moves_the_task_to_the_new_approver(acme, submitted):
    with acme.scope():
        other = factories.make_member(acme.tenant, Role.CHANNEL_MANAGER, email="cm2@acme.test")
        services.reassign(submitted, by=acme[Role.OPS_ADMIN], approver=other.user)
    assert open_tasks(acme, "decide") == {"dealreg.assigned": {other.user}}


def test_an_extension_request_closes_when_decided(acme, submitted):
    with acme.scope():
        approved = services.approve(submitted, by=acme[Role.CHANNEL_MANAGER])
        extension = services.request_extension(
            approved, by=acme[Role.PARTNER_USER], reason="Board meets next month."
        )
    assert set(open_tasks(acme, "decide_extension")) == {"dealreg.extension_requested"}
    with acme.scope():
        services.decide_extension(extension, by=acme[Role.OPS_ADMIN], approve=True)
    assert open_tasks(acme, "decide_extension") == {}


def test_another_registration_s_task_stays_open(acme, submit_as, submitted):
    second = submit_as(acme, customer_name="Umbrella Corp", customer_domain="umbrella.example")
    with acme.scope():
        services.approve(submitted, by=acme[Role.CHANNEL_MANAGER])
        still = Notification.objects.get(kind="dealreg.assigned", done_at__isnull=True)
    assert still.subject == f"dealreg.dealregistration:{second.pk}"


def test_sla_reminders_close_with_the_decision(acme, submitted):
    from dealreg import sla

    with acme.scope():
        sla.sweep(acme.tenant, now=timezone.now() + timedelta(days=30))
        asked = {n.kind for n in Notification.objects.filter(task="decide")}
    assert asked - {"dealreg.assigned"}, "the sweep sent a reminder or an escalation"
    with acme.scope():
        services.reject(submitted, by=acme[Role.CHANNEL_MANAGER], reason="Late and unqualified")
    assert open_tasks(acme, "decide") == {}


def test_an_extension_nobody_decided_closes_when_protection_ends(acme, submitted):
    from dealreg import sla

    with acme.scope():
        approved = services.approve(submitted, by=acme[Role.CHANNEL_MANAGER])
        services.request_extension(approved, by=acme[Role.PARTNER_USER], reason="Board delays.")
        assert open_tasks(acme, "decide_extension")
        later = timezone.now() + timedelta(days=400)
        assert sla.sweep_protection(acme.tenant, now=later).expired == 1
    assert open_tasks(acme, "decide_extension") == {}

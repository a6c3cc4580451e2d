"""Deal registration's home cards (dealreg/declare.py): each staff role sees
what waits for them, and every count links to the admin list filtered to
exactly the rows it counts."""

from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from dealreg.models import DealRegistration, ExtensionRequest
from prm.tenancy.roles import Role
from prm.tenancy.views import home_cards


def card_counts(world, role) -> list:
    with world.scope():
        cards = {c["card"].key: c for c in home_cards(world[role])}
    return cards["dealreg.queue"]["counts"] if "dealreg.queue" in cards else None


def listed(world, role, url) -> int:
    """How many rows the admin list at ``url`` shows this member."""
    response = world.client(role).get(unescape(url))
    assert response.status_code == 200, url
    return response.context["cl"].result_count


@pytest.fixture
def queue(acme, globex, submit_as):
    """Three registrations of acme's partner (its channel manager decides
    them), one past its deadline, one with an extension request; and one
    of globex's."""
    regs = [submit_as(acme, customer_name=f"Queue {i} Ltd", customer_domain="") for i in range(3)]
    submit_as(globex)
    with acme.scope():
        assert {r.approver_id for r in regs} == {acme[Role.CHANNEL_MANAGER].user_id}
        DealRegistration.objects.filter(pk=regs[0].pk).update(
            sla_due_at=timezone.now() - timedelta(hours=1)
        )
        ExtensionRequest.objects.create(
            tenant=acme.tenant,
            registration=regs[1],
            requested_by=acme[Role.PARTNER_USER].user,
            reason="Customer board meets next month.",
            days=30,
        )
    return regs


@pytest.mark.django_db
def test_channel_manager_sees_their_queue_and_what_is_late(acme, queue):
    counts = card_counts(acme, Role.CHANNEL_MANAGER)
    assert [(c.text, c.urgent) for c in counts] == [
        ("3 registrations waiting for you", False),
        ("1 registration past its deadline", True),
        ("1 registration asking for more time", False),
    ]
    assert [listed(acme, Role.CHANNEL_MANAGER, c.url) for c in counts] == [3, 1, 1]
    assert all("assigned=me" in c.url for c in counts)


@pytest.mark.django_db
def test_ops_sees_everybody_s_queue_and_registrations_nobody_decides(acme, queue):
    with acme.scope():
        DealRegistration.objects.filter(pk=queue[2].pk).update(approver=None)
    counts = card_counts(acme, Role.OPS_ADMIN)
    assert [c.text for c in counts] == [
        "3 registrations waiting for a decision",
        "1 registration past its deadline",
        "1 registration with no approver",
        "1 registration asking for more time",
    ]
    assert [listed(acme, Role.OPS_ADMIN, c.url) for c in counts] == [3, 1, 1, 1]


@pytest.mark.django_db
def test_another_channel_manager_s_queue_is_not_mine(acme, queue):
    with acme.scope():
        DealRegistration.objects.filter(pk__in=[r.pk for r in queue]).update(
            approver=acme[Role.OPS_ADMIN].user
        )
    counts = card_counts(acme, Role.CHANNEL_MANAGER)
    assert [c.text for c in counts] == ["0 registrations waiting for you"]


@pytest.mark.django_db
def test_the_card_is_on_the_staff_home_page_and_not_the_partners(acme, queue):
    page = acme.client(Role.CHANNEL_MANAGER).get("/").content.decode()
    assert 'data-testid="card-dealreg.queue"' in page
    assert (
        'class="urgent"><a href="/admin/dealreg/dealregistration/?sla=breached&amp;assigned=me"'
        in page
    )
    assert card_counts(acme, Role.PARTNER_USER) is None

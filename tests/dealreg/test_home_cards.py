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
        ("3 registrations to decide, oldest due first", False),
        ("1 registration past its deadline", True),
        ("1 registration asking for more time", False),
    ]
    assert [listed(acme, Role.CHANNEL_MANAGER, c.url) for c in counts] == [3, 1, 1]


@pytest.mark.django_db
def test_information_answered_by_the_partner_is_back_with_the_approver(acme, queue):
    from dealreg import services

    with acme.scope():
        services.request_info(queue[2], by=acme[Role.CHANNEL_MANAGER], message="Seats?")
    counts = card_counts(acme, Role.CHANNEL_MANAGER)
    assert counts[0].text == "2 registrations to decide, oldest due first"
    assert "answered" not in " ".join(c.text for c in counts)
    with acme.scope():
        services.provide_info(queue[2], by=acme[Role.PARTNER_USER], message="500 seats")
    counts = card_counts(acme, Role.CHANNEL_MANAGER)
    answered = [c for c in counts if "answered" in c.text]
    assert [c.text for c in answered] == ["1 registration with information answered by the partner"]
    assert listed(acme, Role.CHANNEL_MANAGER, answered[0].url) == 1
    assert listed(acme, Role.CHANNEL_MANAGER, counts[0].url) == 3


@pytest.mark.django_db
def test_the_queue_link_lists_oldest_due_first(acme, queue):
    url = card_counts(acme, Role.CHANNEL_MANAGER)[0].url
    response = acme.client(Role.CHANNEL_MANAGER).get(unescape(url))
    due = [r.sla_due_at for r in response.context["cl"].result_list]
    assert due == sorted(due) and due[0] < timezone.now()


@pytest.mark.django_db
def test_ops_sees_their_queue_and_registrations_nobody_decides(acme, queue):
    with acme.scope():
        DealRegistration.objects.filter(pk=queue[2].pk).update(approver=None)
    counts = card_counts(acme, Role.OPS_ADMIN)
    assert [c.text for c in counts] == [
        "1 registration to decide, oldest due first",
        "1 registration past its deadline",
        "1 registration with no approver",
        "1 registration asking for more time",
    ]
    assert [listed(acme, Role.OPS_ADMIN, c.url) for c in counts] == [1, 1, 1, 1]


@pytest.mark.django_db
def test_another_channel_manager_s_queue_is_not_mine(acme, queue):
    with acme.scope():
        DealRegistration.objects.filter(pk__in=[r.pk for r in queue]).update(
            approver=acme[Role.OPS_ADMIN].user
        )
    counts = card_counts(acme, Role.CHANNEL_MANAGER)
    assert [c.text for c in counts] == ["Nothing waits for your decision"]
    assert listed(acme, Role.CHANNEL_MANAGER, counts[0].url) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.FINANCE])
def test_those_who_do_not_decide_see_the_pipeline_read_only(acme, queue, role):
    from dealreg import services

    with acme.scope():
        services.approve(queue[2], by=acme[Role.CHANNEL_MANAGER])
    counts = card_counts(acme, role)
    assert [(c.text, c.urgent) for c in counts] == [
        ("2 registrations waiting for a decision", False),
        ("1 registration past its deadline", True),
        ("1 approved registration protecting a deal", False),
        ("0 won deals", False),
    ]
    assert [listed(acme, role, c.url) for c in counts] == [2, 1, 1, 0]


@pytest.mark.django_db
def test_the_card_is_on_the_staff_home_page_and_not_the_partners(acme, queue):
    page = acme.client(Role.CHANNEL_MANAGER).get("/").content.decode()
    assert 'data-testid="card-dealreg.queue"' in page
    assert (
        'class="urgent"><a href="/admin/dealreg/dealregistration/?sla=breached&amp;assigned=me"'
        in page
    )
    assert card_counts(acme, Role.PARTNER_USER) is None


@pytest.mark.django_db
def test_ops_see_routing_rules_that_name_nobody_who_can_decide(acme, globex):
    from dealreg.models import RoutingRule
    from prm.tenancy.models import Membership

    with acme.scope():
        cm = acme[Role.CHANNEL_MANAGER]
        RoutingRule.objects.create(tenant=acme.tenant, name="Fine", approver=cm.user)
        pooled = RoutingRule.objects.create(tenant=acme.tenant, name="Pooled")
        pooled.pool.set([cm.user])
        RoutingRule.objects.create(tenant=acme.tenant, name="Left", approver=cm.user)
        RoutingRule.objects.create(tenant=acme.tenant, name="Nobody")
        RoutingRule.objects.create(tenant=acme.tenant, name="Off", is_active=False)
    with globex.scope():
        RoutingRule.objects.create(tenant=globex.tenant, name="Globex nobody")
    with acme.scope():
        cards = {c["card"].key: c for c in home_cards(acme[Role.OPS_ADMIN])}
    assert [c.text for c in cards["dealreg.routing_gaps"]["counts"]] == [
        "1 active routing rule naming nobody who can decide"
    ]
    # The channel manager leaves: every rule naming only them is a gap.
    with acme.scope():
        Membership.objects.filter(pk=cm.pk).update(is_active=False)
        cards = {c["card"].key: c for c in home_cards(acme[Role.OPS_ADMIN])}
    (count,) = cards["dealreg.routing_gaps"]["counts"]
    assert count.text == "4 active routing rules naming nobody who can decide" and count.urgent
    response = acme.client(Role.OPS_ADMIN).get(count.url)
    assert {r.name for r in response.context["cl"].result_list} == {
        "Fine",
        "Pooled",
        "Left",
        "Nobody",
    }
    with acme.scope():
        assert "dealreg.routing_gaps" not in {
            c["card"].key for c in home_cards(acme[Role.CHANNEL_MANAGER])
        }

"""The registrations' admin list opens on the member's work queue ("needs my
decision", oldest due first) with tabs to its other views; the value column
is formatted; the change page shows each fact once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from dealreg import services
from dealreg.models import DealRegistration
from prm.tenancy.roles import Role
from tests import factories

from .test_admin_registrations import change_url, client_for, fresh, listed_codes

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("tenant_admin:dealreg_dealregistration_changelist")


def due_in(world, registration, hours) -> None:
    with world.scope():
        DealRegistration.objects.filter(pk=registration.pk).update(
            sla_due_at=timezone.now() + timedelta(hours=hours)
        )


@pytest.fixture
def queue(acme, submit_as):
    """acme's channel manager decides the partner's registrations: three
    submitted (due in 30 h, overdue by 2 h, due in 5 h), one sent back to
    the partner, one approved; and one routed to nobody at a partner
    without a manager."""
    regs = {
        name: submit_as(acme, customer_name=f"{name} Ltd", customer_domain=f"{name}.example")
        for name in ("later", "late", "soon", "asked", "done")
    }
    due_in(acme, regs["later"], 30)
    due_in(acme, regs["late"], -2)
    due_in(acme, regs["soon"], 5)
    with acme.scope():
        services.request_info(regs["asked"], by=acme[Role.CHANNEL_MANAGER], message="Seats?")
        services.approve(regs["done"], by=acme[Role.CHANNEL_MANAGER])
        rival = factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="r@acme.test"
        )
    regs["nobody"] = submit_as(
        acme, member=rival, customer_name="Orphan Co", customer_domain="orphan.example"
    )
    with acme.scope():
        DealRegistration.objects.filter(pk=regs["nobody"].pk).update(approver=None)
    return regs


def codes(regs, *names) -> list[str]:
    return [regs[n].code for n in names]


def test_a_channel_manager_opens_on_their_decisions_oldest_due_first(acme, queue):
    response = acme.client(Role.CHANNEL_MANAGER).get(CHANGELIST)
    assert listed_codes(response) == codes(queue, "late", "soon", "later")
    page = response.content.decode()
    assert 'data-testid="queue-decide" aria-current="page"' not in page  # href comes first
    assert '<a href="?queue=decide" aria-current="page" data-testid="queue-decide">' in page


def test_ops_decide_what_is_routed_to_nobody(acme, queue):
    response = acme.client(Role.OPS_ADMIN).get(CHANGELIST)
    assert listed_codes(response) == codes(queue, "nobody")


def test_a_channel_manager_does_not_get_an_unrouted_registration_of_another_s_partner(acme, queue):
    with acme.scope():
        other = factories.make_member(acme.tenant, Role.CHANNEL_MANAGER, email="cm9@acme.test")
    assert listed_codes(client_for(acme, other).get(CHANGELIST)) == []


@pytest.mark.parametrize(
    "view, expected",
    [
        ("overdue", ["late"]),
        ("partner", ["asked"]),
        ("mine", None),  # every registration routed to the channel manager
        ("all", None),
    ],
)
def test_the_other_views(acme, queue, view, expected):
    response = acme.client(Role.CHANNEL_MANAGER).get(CHANGELIST, {"queue": view})
    listed = listed_codes(response)
    if view == "mine":
        assert sorted(listed) == sorted(codes(queue, "later", "late", "soon", "asked", "done"))
    elif view == "all":
        assert sorted(listed) == sorted(r.code for r in queue.values())
        # Newest first, as before.
        assert listed[0] == queue["nobody"].code
    else:
        assert listed == codes(queue, *expected)


def test_answered_by_the_partner(acme, queue):
    with acme.scope():
        services.provide_info(queue["asked"], by=acme[Role.PARTNER_USER], message="500 seats")
    client = acme.client(Role.CHANNEL_MANAGER)
    assert listed_codes(client.get(CHANGELIST, {"queue": "answered"})) == codes(queue, "asked")
    assert queue["asked"].code in listed_codes(client.get(CHANGELIST))


def test_another_filter_or_search_lists_all_that_match(acme, queue):
    client = acme.client(Role.CHANNEL_MANAGER)
    assert listed_codes(client.get(CHANGELIST, {"status": "approved"})) == codes(queue, "done")
    assert listed_codes(client.get(CHANGELIST, {"q": "orphan"})) == codes(queue, "nobody")


def test_those_who_do_not_decide_open_on_all(acme, queue):
    for role in (Role.FINANCE, Role.EXECUTIVE):
        response = acme.client(role).get(CHANGELIST)
        assert len(listed_codes(response)) == 6
        page = response.content.decode()
        assert "queue-decide" not in page and 'data-testid="queue-all"' in page


def test_an_unknown_view_says_so(acme, queue):
    response = acme.client(Role.CHANNEL_MANAGER).get(CHANGELIST, {"queue": "garbage"})
    assert response.status_code == 200
    assert len(listed_codes(response)) == 6
    assert "There is no view" in response.content.decode()


def test_sorting_a_column_still_works(acme, queue):
    response = acme.client(Role.CHANNEL_MANAGER).get(CHANGELIST, {"queue": "decide", "o": "-2"})
    values = [r.estimated_value for r in response.context["cl"].result_list]
    assert values == sorted(values, reverse=True) and len(values) == 3


def test_five_columns_with_the_value_formatted(acme, submit_as):
    submit_as(acme, estimated_value=Decimal("1234567.50"))
    response = acme.client(Role.CHANNEL_MANAGER).get(CHANGELIST)
    page = response.content.decode()
    assert "1,234,567.50 USD" in page
    assert response.context["cl"].list_display == [
        "action_checkbox",
        "registration",
        "value",
        "status_badge",
        "sla_due",
        "approver",
    ]
    assert "Acme Reseller One" in page  # the partner, under the customer


class TestChangePage:
    def test_the_summary_is_not_repeated_and_no_sla_question_mark(self, acme, submit_as):
        registration = submit_as(acme, estimated_value=Decimal("120000"))
        page = acme.client(Role.CHANNEL_MANAGER).get(change_url(registration)).content.decode()
        assert "120,000.00 USD" in page
        assert page.count("United States of America") == 1  # in the summary only
        # Before a decision there is no decision section at all.
        assert "Decided within SLA" not in page and "icon-unknown" not in page
        # Every field of the summary is gone from the read-only section.
        for field in ("customer_name", "estimated_value", "partner", "status", "sla_met"):
            assert f"field-{field}" not in page

    def test_a_decision_in_time_reads_yes(self, acme, submit_as):
        registration = submit_as(acme)
        with acme.scope():
            services.reject(registration, by=acme[Role.CHANNEL_MANAGER], reason="No budget")
        page = acme.client(Role.OPS_ADMIN).get(change_url(registration)).content.decode()
        assert fresh(acme, registration).sla_met is True
        assert '<div class="readonly">Yes</div>' in page
        assert "Decided within SLA" in page


def test_show_all_opens_the_view_of_all(acme, queue):
    page = acme.client(Role.CHANNEL_MANAGER).get(CHANGELIST).content.decode()
    assert '3 results (<a href="?queue=all" data-testid="show-all">Show all</a>)' in page


def test_a_decision_without_an_sla_measure_says_so(acme, submit_as):
    registration = submit_as(acme)
    with acme.scope():
        services.reject(registration, by=acme[Role.CHANNEL_MANAGER], reason="Too small")
        DealRegistration.objects.filter(pk=registration.pk).update(sla_met=None)
    page = acme.client(Role.OPS_ADMIN).get(change_url(registration)).content.decode()
    assert '<div class="readonly">Not measured</div>' in page
    assert "icon-unknown" not in page

"""Compliance reviews for staff: the review's admin page (the partner's
channel manager and ops sign off or return; another channel manager and
other roles may not), the list's overdue filter, the "Compliance" panel
on the partner's page, the metric "Partners out of compliance" and its
drill, the home cards, and the demo data."""

import datetime as dt
from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from prm.tenancy import registry
from prm.tenancy.declarations import NO_FILTERS, Period
from prm.tenancy.drill import link
from prm.tenancy.roles import Role
from program import compliance
from program.compliance_cards import partner_counts, staff_counts
from program.models import ComplianceReview
from tests import factories

from . import builders_compliance as b

pytestmark = pytest.mark.django_db
Status = ComplianceReview.Status
LIST = "/admin/program/compliancereview/"


def change_url(review):
    return reverse("tenant_admin:program_compliancereview_change", args=[review.pk])


@pytest.fixture
def submitted(acme):
    with acme.scope():
        return b.submitted(acme)


def test_the_partners_cm_signs_off_from_the_admin(acme, submitted):
    client = acme.client(Role.CHANNEL_MANAGER)
    page = client.get(change_url(submitted)).content.decode()
    assert 'value="sign_off"' in page and 'value="return"' in page
    response = client.post(change_url(submitted), {"_action": "sign_off", "sign_off-note": "OK"})
    assert response.status_code == 302
    with acme.scope():
        submitted.refresh_from_db()
        assert submitted.status == Status.SIGNED_OFF and submitted.note == "OK"


def test_returning_needs_a_reason(acme, submitted):
    client = acme.client(Role.OPS_ADMIN)
    response = client.post(change_url(submitted), {"_action": "return", "return-reason": ""})
    assert (
        response.status_code == 200
        and "Say what the partner must change." in response.content.decode()
    )
    with acme.scope():
        submitted.refresh_from_db()
        assert submitted.status == Status.SUBMITTED


def test_another_cm_and_other_roles_may_not_decide(acme, globex, submitted):
    with acme.scope():
        other = factories.make_member(acme.tenant, Role.CHANNEL_MANAGER, email="cm2@acme.test")
    client = acme.client()
    client.force_login(other.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
    page = client.get(change_url(submitted)).content.decode()
    assert 'value="sign_off"' not in page
    assert client.post(change_url(submitted), {"_action": "sign_off"}).status_code == 403
    assert (
        acme.client(Role.EXECUTIVE).post(change_url(submitted), {"_action": "sign_off"}).status_code
        == 403
    )
    assert globex.client(Role.OPS_ADMIN).get(change_url(submitted)).status_code == 404
    with acme.scope():
        submitted.refresh_from_db()
        assert submitted.status == Status.SUBMITTED


def test_the_list_filters_overdue_reviews_and_the_panel_flags_them(acme):
    with acme.scope():
        late = b.overdue(acme)
        b.review(acme, acme.other_partner)
    response = acme.client(Role.EXECUTIVE).get(LIST + "?state=overdue")
    assert [r.pk for r in response.context["cl"].result_list] == [late.pk]
    assert 'data-testid="overdue"' in response.content.decode()
    partner_page = (
        acme.client(Role.CHANNEL_MANAGER)
        .get(reverse("tenant_admin:partners_partner_change", args=[acme.partner.pk]))
        .content.decode()
    )
    assert 'data-testid="compliance-panel"' in partner_page
    assert 'data-testid="out-of-compliance"' in partner_page and change_url(late) in partner_page


def test_the_metric_counts_partners_out_of_compliance_at_the_periods_end(acme):
    metric = registry.metrics()["program.out_of_compliance"]
    with acme.scope():
        late = b.overdue(acme)
        today = acme.tenant.local_today()
        period = Period(today - dt.timedelta(days=30), today)
        assert metric.compute(acme.tenant, period, NO_FILTERS) == 1
        before_due = Period(period.start, late.due_on)
        assert metric.compute(acme.tenant, before_due, NO_FILTERS) == 0
        url = link(metric, acme.tenant, period, NO_FILTERS)
        b.ready(acme, late)
        compliance.sign_off(
            compliance.submit(late, by=acme[Role.PARTNER_ADMIN]), by=acme[Role.OPS_ADMIN]
        )
        assert metric.compute(acme.tenant, period, NO_FILTERS) == 0
        # Counted for the days it was late, though signed off since.
        assert (
            metric.compute(
                acme.tenant, Period(period.start, today - dt.timedelta(days=1)), NO_FILTERS
            )
            == 1
        )
    assert url.startswith(LIST + "?drill=")
    assert acme.client(Role.OPS_ADMIN).get(url).status_code == 200


def test_the_home_cards(acme, django_assert_max_num_queries):
    with acme.scope():
        b.overdue(acme)
        with django_assert_max_num_queries(2):
            mine = partner_counts(acme[Role.PARTNER_ADMIN])
        assert mine[0].urgent and "out of compliance" in mine[0].text
        counts = staff_counts(acme[Role.CHANNEL_MANAGER])
        assert counts[0].text == "1 review overdue (partners out of compliance)"
        assert counts[0].url == LIST + "?state=overdue&manager=me"
    home = acme.client(Role.PARTNER_ADMIN).get("/").content.decode()
    assert "Compliance review overdue" in home and 'href="/program/compliance/"' in home


DAY = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)


def test_the_demo_has_reviews_signed_off_one_waiting_and_one_overdue(acme):
    from prm.tenancy.demo import tenant_context
    from program import demo_compliance

    with time_machine.travel(DAY), acme.scope():
        ctx = tenant_context(acme.tenant, scale=0.2)
        steps = dict(registry.demo_steps())
        for label in ("partners", "dealreg", "onboarding"):
            steps[label](ctx)
        demo_compliance.seed(ctx)
        demo_compliance.seed(ctx)  # safe to run again
        rows = list(ComplianceReview.objects.select_related("partner"))
        statuses = [r.status for r in rows]
        today = acme.tenant.local_today()
        assert statuses.count(Status.SUBMITTED) == 1
        assert sum(r.is_overdue(today) for r in rows) == 1
        assert statuses.count(Status.SIGNED_OFF) >= len(rows) - 3
        first = ctx.objects["partners.partners"][0]
        assert not next(r for r in rows if r.partner_id == first.pk).is_overdue(today)
        assert not b.policy(acme).blocks_registrations

"""Every figure an app declares with ``rows`` drills into the admin list of
exactly those rows (prm.tenancy.drill), on a tenant with the demo data;
a bad link says what is wrong and lists nothing; a link opened on another
tenant's host lists that tenant's rows only."""

from datetime import date, timedelta

import pytest
from django.contrib.messages import get_messages

from dealreg.url_matrix import registration
from prm.tenancy import registry
from prm.tenancy.declarations import NO_FILTERS, Filters, Period
from prm.tenancy.demo import tenant_context
from prm.tenancy.drill import BadDrill, decode, encode, link
from prm.tenancy.roles import Role

DEMO = ("partners", "dealreg", "incentives")
LIST = "/admin/dealreg/dealregistration/"


@pytest.fixture
def demo(acme):
    """acme with the partner directory's, deal registration's and
    incentives' demo data (a fifth of the demo's year of history)."""
    with acme.scope():
        ctx = tenant_context(acme.tenant, scale=0.2)
        for label, step in registry.demo_steps():
            if label in DEMO:
                step(ctx)
    return acme


def the_year(world) -> Period:
    today = world.tenant.local_today()
    return Period(today - timedelta(days=365), today)


def shown(world, url) -> tuple[int, set]:
    response = world.client(Role.OPS_ADMIN).get(url)
    assert response.status_code == 200, url
    changelist = response.context["cl"]
    return changelist.result_count, {row.pk for row in changelist.result_list}


@pytest.mark.django_db
def test_every_figure_with_rows_lists_exactly_them(demo):
    period = the_year(demo)
    checked, nonempty = [], []
    for key, metric in registry.metrics().items():
        if metric.rows is None:
            continue
        with demo.scope():
            expected = set(
                metric.rows(demo.tenant, period, NO_FILTERS).values_list("pk", flat=True)
            )
            url = link(metric, demo.tenant, period, NO_FILTERS)
        count, page = shown(demo, url)
        assert count == len(expected), key
        assert page <= expected, key
        checked.append(key)
        if expected:
            nonempty.append(key)
    assert len(checked) >= 18
    # The demo data gives most figures rows to show.
    assert {"dealreg.submitted", "dealreg.win_rate", "incentives.paid", "partners.active"} <= set(
        nonempty
    )


@pytest.mark.django_db
def test_filters_travel_in_the_link(demo):
    period = the_year(demo)
    metric = registry.metrics()["dealreg.submitted"]
    with demo.scope():
        partner = demo.partner
        every = metric.rows(demo.tenant, period, NO_FILTERS).count()
        tier = Filters(tier=partner.tier_id)
        expected = set(metric.rows(demo.tenant, period, tier).values_list("pk", flat=True))
    count, page = shown(demo, link(metric, demo.tenant, period, tier))
    assert (count, page) == (len(expected), expected)
    assert 0 < count < every


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nope", "should name a metric, a first and a last day"),
        ("no.such,2026-01-01,2026-01-31", "no metric 'no.such'"),
        ("dealreg.submitted,2026-02-01,2026-01-01", "not a pair of dates in order"),
        ("dealreg.submitted,2026-01-01,2026-01-31,x y", "region filter 'x y' is not an id"),
        ("dealreg.submitted,2026-01-01,2026-01-31,,not-a-tier", "name no region, tier"),
        ("partners.active,2026-01-01,2026-01-31", "counts other rows than this list"),
    ],
)
def test_a_bad_link_says_what_is_wrong_and_lists_nothing(acme, value, message):
    registration(acme)  # the list has a row to hide
    everything = acme.client(Role.OPS_ADMIN).get(LIST, {"queue": "all"})
    assert everything.context["cl"].result_count == 1
    response = acme.client(Role.OPS_ADMIN).get(f"{LIST}?drill={value}", follow=True)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0
    assert any(message in str(m) for m in get_messages(response.wsgi_request)), value


@pytest.mark.django_db
def test_a_link_opened_on_another_tenants_host_lists_that_tenants_rows(demo, globex):
    metric = registry.metrics()["dealreg.submitted"]
    with demo.scope():
        url = link(metric, demo.tenant, the_year(demo), NO_FILTERS)
    assert shown(demo, url)[0] > 0
    response = globex.client(Role.OPS_ADMIN).get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


def test_the_link_reads_back_what_it_wrote():
    metric = registry.metrics()["dealreg.submitted"]
    period = Period(date(2026, 3, 1), date(2026, 3, 1))
    filters = Filters(region="r1", partner_type="msp")
    assert encode(metric, period, filters) == "dealreg.submitted,2026-03-01,2026-03-01,r1,,msp"
    assert decode(encode(metric, period, filters)) == (metric, period, filters)
    with pytest.raises(BadDrill):
        decode("dealreg.submitted,2026-03-01")

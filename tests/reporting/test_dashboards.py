"""The dashboards: every figure equals its metric computed from the apps'
tables, every drill link lists exactly what the figure counts, a constant
number of queries whatever the filters, each role sees its own dashboard,
exports and bad filters."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from partners.models import Region
from prm.tenancy.declarations import Rate, Unit
from prm.tenancy.roles import Role
from reporting.dashboards.common import totals

from .dashboard_data import seed, won

pytestmark = pytest.mark.django_db

# The field a money figure's list adds up (its sign: payouts are negative).
SUMMED = {
    "dealreg.partner_sourced_pipeline": ("estimated_value", 1),
    "dealreg.partner_sourced_revenue": ("won_amount", 1),
    "incentives.accrued": ("amount_base", 1),
    "incentives.paid": ("amount_base", -1),
    "incentives.outstanding": ("amount_base", 1),
}


@pytest.fixture
def data(acme, globex):
    seed(acme)
    won(globex, days_ago=3, amount="99999.00")
    seed(globex)


def _figures(response):
    return [tile.figure for section in response.context["board"].sections for tile in section.tiles]


def test_every_figure_equals_its_metric_on_the_apps_tables(acme, data):
    response = acme.client(Role.EXECUTIVE).get("/reports/")
    assert response.status_code == 200
    figures = _figures(response)
    assert {f.metric.key for f in figures} >= {
        "dealreg.partner_sourced_revenue",
        "dealreg.win_rate",
        "incentives.accrued",
        "partners.active",
    }
    period = response.context["period"]
    with acme.scope():
        for figure in figures:
            raw = figure.metric.compute(acme.tenant, period, response.context["form"].filters)
            assert figure.value == raw, figure.metric.key
            filters = response.context["form"].filters
            previous = figure.metric.compute(acme.tenant, period.previous(), filters)
            assert figure.previous == previous, figure.metric.key
    outcomes = next(s for s in response.context["board"].sections if s.key == "outcomes")
    assert "onboarding.activation_rate" in {f.metric.key for f in outcomes.figures}
    by_key = {f.metric.key: f for f in figures}
    # Hand-computed: 12,000 + 4,000 won in the base currency this quarter; the
    # euro win and the reversed one do not count. Last quarter: 20,000.
    assert by_key["dealreg.partner_sourced_revenue"].value == Decimal("16000.00")
    assert by_key["dealreg.partner_sourced_revenue"].previous == Decimal("20000.00")
    # Won 3 of 5 closed (two won, the euro win, a reversed win, a loss).
    assert by_key["dealreg.win_rate"].value == Decimal("60.0")


def test_every_drill_lists_what_its_figure_counts(acme, data):
    page = acme.client(Role.EXECUTIVE).get("/reports/")
    period, filters = page.context["period"], page.context["form"].filters
    ops = acme.client(Role.OPS_ADMIN)
    drilled = 0
    for figure in _figures(page):
        if not figure.url or figure.metric.key.startswith("declared_sample."):
            continue  # tests/declared_app's sample metric drills to a sample page
        response = ops.get(figure.url)
        assert response.status_code == 200, figure.url
        assert response.context and "cl" in response.context, figure.url
        listed = list(response.context["cl"].queryset)
        rollup = figure.metric.rollup
        if figure.metric.unit == Unit.COUNT:
            assert len(listed) == figure.value, figure.metric.key
        elif figure.metric.key in SUMMED:
            field, sign = SUMMED[figure.metric.key]
            total = sum((getattr(row, field) for row in listed), Decimal(0)) * sign
            assert total.quantize(Decimal("0.01")) == figure.value, figure.metric.key
        elif isinstance(rollup, Rate) and rollup.days.value == "period":
            # A rate lists its denominator: as many rows as it divides by.
            with acme.scope():
                whole = totals(acme.tenant, [rollup.whole], period, filters)[rollup.whole]
            assert len(listed) == whole, figure.metric.key
        drilled += 1
    assert drilled >= 10


def test_a_constant_number_of_queries_whatever_the_data_and_filters(acme, data):
    client = acme.client(Role.EXECUTIVE)
    client.get("/reports/")  # warm the caches every page has
    with acme.scope():
        region = Region.objects.first()

    def counted(query):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/reports/{query}").status_code == 200
        return len(queries)

    urls = ["", "?period=last_12_months", "?period=last_quarter", f"?region={region.pk}"]
    before = [counted(url) for url in urls]
    # Filters cost nothing more: the form reads its choices once, and checks
    # the values given against them.
    assert before[3] == before[0]
    # (Each series of durations costs one query per group of periods: onboarding's three
    # add six; training's three figures, read from the records, add five; the
    # program's four (tier moves up and down, partners in a grace period or out
    # of compliance), read from their tables for the period and the one before,
    # add eight.)
    assert max(before) <= 51
    seed(acme)  # twice the data: the same queries
    assert [counted(url) for url in urls] == before


def test_filters_narrow_the_figures_and_stay_in_the_links(acme, data):
    with acme.scope():
        region = Region.objects.first()
    client = acme.client(Role.EXECUTIVE)
    narrowed = client.get(f"/reports/?region={region.pk}&period=last_quarter")
    assert narrowed.status_code == 200
    assert f"region={region.pk}" in narrowed.context["query"]
    for figure in _figures(narrowed):
        if figure.url and "drill=" in figure.url:
            assert str(region.pk) in figure.url, figure.metric.key


def test_a_bad_filter_says_why_and_shows_the_default_period(acme, globex, data):
    with globex.scope():
        theirs = Region.objects.first()
    response = acme.client(Role.EXECUTIVE).get(f"/reports/?region={theirs.pk}&period=nonsense")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Choose a region of this program." in body
    assert response.context["form"].filters.region is None


def test_exports_of_a_dashboard_table(acme, data):
    client = acme.client(Role.EXECUTIVE)
    csv = client.get("/reports/?export=top_partners&format=csv")
    assert csv.status_code == 200
    assert csv["Content-Type"].startswith("text/csv")
    text = b"".join(csv.streaming_content if csv.streaming else [csv.content]).decode()
    assert acme.partner.name in text
    assert "globex" not in text.lower()
    xlsx = client.get("/reports/?export=kpis&format=xlsx")
    assert xlsx.status_code == 200
    assert client.get("/reports/?export=nothing&format=csv").status_code == 400


def test_each_role_sees_its_dashboard(acme, data):
    assert acme.client(Role.EXECUTIVE).get("/reports/").status_code == 200
    assert acme.client(Role.CHANNEL_MANAGER).get("/reports/").status_code == 403
    assert acme.client(Role.CHANNEL_MANAGER).get("/reports/channel/").status_code == 200
    assert acme.client(Role.PARTNER_USER).get("/reports/").status_code == 403
    assert acme.client(Role.PARTNER_ADMIN).get("/reports/partner/").status_code == 200
    assert acme.client(Role.EXECUTIVE).get("/reports/partner/").status_code == 403


def test_the_channel_manager_sees_their_partners_queue_and_stalled_deals(acme, data):
    response = acme.client(Role.CHANNEL_MANAGER).get("/reports/channel/")
    board = response.context["board"]
    names = [row["partner"] for row in board.partners.rows]
    assert acme.partner.name in names  # theirs
    assert acme.other_partner.name not in names  # no channel manager
    assert board.stalled_count == 1  # approved, expected 40 days ago
    assert all(
        r.partner.channel_manager_id == acme[Role.CHANNEL_MANAGER].user_id for r in board.stalled
    )


def test_a_partner_sees_only_their_organisation(acme, data):
    response = acme.client(Role.PARTNER_ADMIN).get("/reports/partner/")
    assert response.status_code == 200
    deals = {f.metric.key: f for f in response.context["board"].deals}
    # Their own: 12,000 won this quarter (the other partner's 4,000 is not theirs).
    assert deals["dealreg.partner_sourced_revenue"].value == Decimal("12000.00")
    # Open pipeline: 25,000 + 9,000 approved (the other partner's 5,000.50 is not).
    assert deals["dealreg.partner_sourced_pipeline"].value == Decimal("34000.00")
    body = response.content.decode()
    assert acme.other_partner.name not in body
    # A filter naming another organisation changes nothing.
    again = acme.client(Role.PARTNER_ADMIN).get(
        f"/reports/partner/?partner={acme.other_partner.pk}"
    )
    assert {f.metric.key: f.value for f in again.context["board"].deals} == {
        k: f.value for k, f in deals.items()
    }


def test_another_tenants_dashboard_is_not_shown(acme, globex, data):
    client = acme.client(Role.EXECUTIVE)
    client.defaults["HTTP_HOST"] = globex.host
    # Not a member there: asked to sign in, shown nothing of either tenant.
    response = client.get("/reports/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_executive_home_shows_the_quarter(acme, data):
    response = acme.client(Role.EXECUTIVE).get("/")
    assert "Partner-sourced revenue: 16,000.00 USD" in response.content.decode()


def test_every_chart_segment_lists_what_it_counts(acme, data):
    page = acme.client(Role.EXECUTIVE).get("/reports/?split=tier")
    ops = acme.client(Role.OPS_ADMIN)
    summed = {"Revenue": ("won_amount", 1), "Incentives accrued": ("amount_base", 1)}
    checked = 0
    for chart in page.context["board"].charts:
        for series in chart.series:
            field = "won_amount" if chart.key.startswith("won_revenue") else None
            field, sign = summed.get(series.name, (field, 1))
            for value, url in zip(series.values, series.urls or [], strict=False):
                if url is None:
                    continue
                listed = list(ops.get(url).context["cl"].queryset)
                if chart.key in ("funnel", "tiers"):
                    assert len(listed) == value, (chart.key, url)
                elif field is not None:
                    total = sum((getattr(row, field) for row in listed), Decimal(0)) * sign
                    assert total.quantize(Decimal("0.01")) == value, (chart.key, series.name)
                checked += 1
    assert checked >= 10


def test_the_channel_table_exports_with_its_dates(acme, data):
    acme.client(Role.PARTNER_USER)  # signs in: the partner's last sign-in
    client = acme.client(Role.CHANNEL_MANAGER)
    rows = client.get("/reports/channel/").context["board"].partners.rows
    assert next(r["last_sign_in"] for r in rows if r["partner_id"] == acme.partner.pk)
    for fmt in ("csv", "xlsx"):
        response = client.get(f"/reports/channel/?export=my_partners&format={fmt}")
        assert response.status_code == 200, fmt


def test_the_health_scores_of_the_last_day_scored_show(acme, data):

    from reporting.health import compute_scores
    from reporting.models import HealthScore

    day = acme.tenant.local_today()  # the partners joined today
    with acme.scope():
        compute_scores(acme.tenant, day, notify=False)
        scored = dict(HealthScore.objects.filter(day=day).values_list("partner_id", "score"))
    assert scored
    board = acme.client(Role.CHANNEL_MANAGER).get("/reports/channel/").context["board"]
    shown = {r["partner_id"]: r["health"] for r in board.partners.rows}
    assert shown[acme.partner.pk] == scored[acme.partner.pk]
    page = acme.client(Role.EXECUTIVE).get("/reports/")
    [spread] = [c for c in page.context["board"].charts if c.key == "health"]
    assert sum(spread.series[0].values) == len(scored)

"""The program's metrics through the API: each caller lists the metrics
its dashboard shows, and reads a metric's value for a period and filters,
equal to the dashboard's figure (the same computation)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from partners.models import Region
from prm.tenancy import registry
from prm.tenancy.declarations import Filters, Period
from prm.tenancy.roles import Role
from reporting.dashboards import channel
from reporting.dashboards import partner as partner_board
from tests.reporting.dashboard_data import seed, won

from .conftest import ApiClient, make_key

pytestmark = pytest.mark.django_db

URL = "/api/v1/metrics/"
REVENUE = "dealreg.partner_sourced_revenue"


@pytest.fixture
def data(acme, globex):
    seed(acme)
    won(globex, days_ago=3, amount="99999.00")
    seed(globex)


def dashboard_figures(world, role, path, query=""):
    response = world.client(role).get(f"{path}{query}")
    assert response.status_code == 200
    board = response.context["board"]
    if path == "/reports/":
        found = [t.figure for s in board.sections for t in s.tiles]
    elif path == "/reports/channel/":
        found = board.figures
    else:
        found = [*board.deals, *board.earnings]
    return {f.metric.key: f for f in found}, response.context["period"]


def as_value(value):
    return None if value is None else (value if isinstance(value, int) else str(value))


def test_an_executive_reads_what_the_executive_dashboard_shows(acme, data, api):
    client = api(acme, Role.EXECUTIVE)
    listed = client.get(URL)
    assert listed.status_code == 200
    metrics = {m["key"]: m for m in listed.json()["results"]}
    shown, period = dashboard_figures(acme, Role.EXECUTIVE, "/reports/")
    assert set(metrics) == set(shown)
    declared = registry.metrics()[REVENUE]
    assert metrics[REVENUE] == {
        "key": REVENUE,
        "name": declared.name,
        "definition": declared.definition,
        "unit": "money",
        "good": "high",
        "currency": acme.tenant.base_currency,
    }
    for key, figure in shown.items():
        body = client.get(f"{URL}{key}/").json()
        assert body["period"] == {
            "start": str(period.start),
            "end": str(period.end),
            "value": as_value(figure.value),
        }, key
        assert body["previous"]["value"] == as_value(figure.previous), key
        assert [p["value"] for p in body["series"]] == [as_value(v) for v in figure.trend], key
    revenue = client.get(f"{URL}{REVENUE}/").json()
    # Hand-computed (tests/reporting/test_dashboards.py): 12,000 + 4,000 this quarter.
    assert revenue["period"]["value"] == "16000.00"
    assert revenue["previous"]["value"] == "20000.00"
    assert revenue["partner"] is None and revenue["filters"]["region"] is None
    assert client.get(f"{URL}dealreg.win_rate/").json()["period"]["value"] == "60.0"


def test_periods_and_filters_as_the_dashboard_reads_them(acme, globex, data, api):
    with acme.scope():
        region = Region.objects.first()
    client = api(acme, Role.OPS_ADMIN)
    shown, _ = dashboard_figures(
        acme, Role.OPS_ADMIN, "/reports/", f"?region={region.pk}&period=last_quarter"
    )
    narrowed = client.get(f"{URL}{REVENUE}/", {"region": str(region.pk), "period": "last_quarter"})
    assert narrowed.status_code == 200
    assert narrowed.json()["period"]["value"] == str(shown[REVENUE].value)
    assert narrowed.json()["filters"]["region"] == str(region.pk)
    end = acme.tenant.local_today()
    start = end - timedelta(days=200)
    custom = client.get(f"{URL}{REVENUE}/", {"start": str(start), "end": str(end)}).json()
    metric = registry.metrics()[REVENUE]
    with acme.scope():
        expected = metric.compute(acme.tenant, Period(start, end), Filters())
    assert custom["period"]["value"] == str(expected)
    assert custom["period"]["start"] == str(start)
    with globex.scope():
        theirs = Region.objects.first()
    bad = client.get(
        f"{URL}{REVENUE}/",
        {"region": str(theirs.pk), "period": "someday", "partner_type": "shop"},
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"region", "period", "partner_type"}
    backwards = client.get(f"{URL}{REVENUE}/", {"start": str(end), "end": str(start)})
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] in {"start", "end"}
    for unknown in ("nothing.declared", "Not-A-Key"):
        missing = client.get(f"{URL}{unknown}/")
        assert missing.status_code == 404
        assert missing["Content-Type"] == "application/problem+json"


def test_a_channel_manager_reads_the_channel_dashboards_for_their_partners(acme, data, api):
    client = api(acme, Role.CHANNEL_MANAGER)
    listed = {m["key"] for m in client.get(URL).json()["results"]}
    shown, _ = dashboard_figures(acme, Role.CHANNEL_MANAGER, "/reports/channel/")
    assert listed == set(shown) and listed <= set(channel.KEYS)
    revenue = client.get(f"{URL}{REVENUE}/").json()
    assert revenue["period"]["value"] == str(shown[REVENUE].value) == "12000.00"
    assert revenue["filters"]["channel_manager"] == str(acme[Role.CHANNEL_MANAGER].user_id)
    assert client.get(f"{URL}incentives.accrued/").status_code == 404  # not on their board
    someone = client.get(f"{URL}{REVENUE}/", {"channel_manager": str(acme[Role.OPS_ADMIN].user_id)})
    assert someone.status_code == 422
    assert someone.json()["errors"][0]["field"] == "channel_manager"


def test_a_partner_reads_its_own_organisations_figures_only(acme, data, api):
    client = api(acme, Role.PARTNER_ADMIN)
    listed = [m["key"] for m in client.get(URL).json()["results"]]
    assert listed == [*partner_board.DEALS, *partner_board.EARNINGS]
    shown, _ = dashboard_figures(acme, Role.PARTNER_ADMIN, "/reports/partner/")
    revenue = client.get(f"{URL}{REVENUE}/").json()
    assert revenue["period"]["value"] == str(shown[REVENUE].value) == "12000.00"
    assert revenue["partner"] == str(acme.partner.pk)
    pipeline = client.get(f"{URL}dealreg.partner_sourced_pipeline/").json()
    assert Decimal(pipeline["period"]["value"]) == Decimal("34000.00")
    filtered = client.get(f"{URL}{REVENUE}/", {"tier": str(acme.partner.tier_id)})
    assert filtered.status_code == 422 and filtered.json()["errors"][0]["field"] == "tier"
    assert client.get(f"{URL}dealreg.sla_compliance/").status_code == 404
    user = api(acme, Role.PARTNER_USER)
    assert "incentives.accrued" not in {m["key"] for m in user.get(URL).json()["results"]}
    assert user.get(f"{URL}incentives.accrued/").status_code == 404


def test_tenants_and_keys(acme, globex, data, api):
    _, token = make_key(globex, Role.EXECUTIVE)
    assert ApiClient(acme.host, token).get(f"{URL}{REVENUE}/").status_code == 401
    theirs = ApiClient(globex.host, token).get(f"{URL}{REVENUE}/").json()
    ours = api(acme, Role.EXECUTIVE).get(f"{URL}{REVENUE}/").json()
    assert theirs["period"]["value"] != ours["period"]["value"]
    no_scope = api(acme, Role.EXECUTIVE, ["partners:read"])
    assert no_scope.get(URL).status_code == 403
    reader = api(acme, Role.EXECUTIVE, ["metrics:read"])
    first = reader.get(f"{URL}{REVENUE}/")
    assert reader.get(f"{URL}{REVENUE}/", **{"If-None-Match": first["ETag"]}).status_code == 304


def test_a_value_costs_the_same_queries_whatever_the_data(acme, data, api):
    client = api(acme, Role.EXECUTIVE)
    client.get(f"{URL}{REVENUE}/")

    def counted():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"{URL}{REVENUE}/", {"period": "this_year"}).status_code == 200
        return len(queries)

    before = counted()
    seed(acme)
    assert counted() == before

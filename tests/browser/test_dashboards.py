"""Each dashboard in the browser, with a quarter of figures: its charts draw
(a Chart.js instance on a sized canvas) under the Content-Security-Policy
with no violation and no script error, the page fits a phone, and without
JavaScript every chart's table shows its numbers."""

import pytest
from playwright.sync_api import Page

from prm.tenancy.roles import Role
from tests.reporting.dashboard_data import seed

from .conftest import CSP_LISTENER

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

# (role, page, charts it draws)
DASHBOARDS = [
    (Role.EXECUTIVE, "/reports/", 7),
    (Role.CHANNEL_MANAGER, "/reports/channel/", 0),
    (Role.PARTNER_ADMIN, "/reports/partner/", 0),
]


def site_data(world):
    seed(world)


def _drawn(page: Page, charts: int) -> None:
    page.wait_for_function(
        f"document.querySelectorAll('figure.chart.chart-drawn').length === {charts}"
        " && [...document.querySelectorAll('figure.chart canvas')]"
        ".every((c) => window.Chart && window.Chart.getChart(c)"
        " && c.getBoundingClientRect().height > 100)",
        timeout=8000,
    )


@pytest.mark.parametrize("width", [1366, 390])
@pytest.mark.parametrize(("role", "path", "charts"), DASHBOARDS)
def test_the_dashboard_draws_without_a_csp_violation(site, role, path, charts, width):
    page, log = site.new_page(role, width=width)
    response = page.goto(site.url(path))
    assert response.status == 200
    assert page.locator("article.kpi").count() >= 3
    assert page.locator("svg.sparkline").count() >= 1
    if charts:
        _drawn(page, charts)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert log.csp_violations() == []
    assert [m for m in log.messages if m.startswith(("error", "pageerror"))] == []
    page.context.close()


def test_without_javascript_the_executive_charts_are_tables(site):
    context = site.browser.new_context(
        storage_state=site.signed_in(Role.EXECUTIVE),
        java_script_enabled=False,
        viewport={"width": 390, "height": 900},
    )
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.goto(site.url("/reports/"))
    figures = page.locator("figure.chart")
    assert figures.count() == 7
    for i in range(figures.count()):
        figure = figures.nth(i)
        assert figure.locator("table").is_visible()
        assert figure.locator("tbody tr").count() > 0
        assert not figure.locator("canvas").is_visible()
    # The figures' tiles and the partners' tables are plain HTML.
    assert page.locator("article.kpi").first.is_visible()
    assert page.locator("#table-top_partners table").is_visible()
    context.close()

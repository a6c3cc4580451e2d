"""Charts in the browser, on the style guide's samples (a line, a bar, a
stacked bar and a funnel, templates/styleguide/charts.html): Chart.js draws
each one under the Content-Security-Policy (even one without style-src
'unsafe-inline'), a click on a bar opens its drill link, there is no
animation for who asked for reduced motion, and without JavaScript the
tables are the content."""

import copy

import pytest
from csp.constants import SELF
from playwright.sync_api import Page

from prm.tenancy.roles import Role

from .a11y import check_page
from .conftest import CSP_LISTENER, ConsoleLog

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

URL = "/style-guide/"
CHARTS = 4
ROLE = Role.OPS_ADMIN

# For each drawn chart: its canvas's size, whether Chart.js holds it, and
# whether its table is folded away (but still in the page).
DRAWN = """() => [...document.querySelectorAll("figure.chart")].map((figure) => {
  const canvas = figure.querySelector("canvas");
  const box = canvas.getBoundingClientRect();
  const chart = window.Chart && window.Chart.getChart(canvas);
  return {
    id: figure.id,
    drawn: figure.classList.contains("chart-drawn"),
    width: box.width,
    height: box.height,
    chart: Boolean(chart),
    type: chart ? chart.config.type : null,
    datasets: chart ? chart.data.datasets.length : 0,
    animation: chart ? chart.options.animation : null,
    open: figure.querySelector("details.chart-numbers").open,
    rows: figure.querySelectorAll("table tbody tr").length,
  };
})"""


def _wait_drawn(page: Page) -> list[dict]:
    page.wait_for_function(
        f"document.querySelectorAll('figure.chart.chart-drawn').length === {CHARTS}"
        " && [...document.querySelectorAll('figure.chart canvas')]"
        ".every((c) => window.Chart && window.Chart.getChart(c))",
        timeout=5000,
    )
    return page.evaluate(DRAWN)


def _errors(log: ConsoleLog) -> list[str]:
    return [m for m in log.messages if m.startswith(("error", "pageerror"))]


@pytest.mark.parametrize("width", [1366, 390])
def test_the_charts_draw_without_a_csp_violation(site, width):
    page, log = site.new_page(ROLE, width=width)
    page.goto(site.url(URL))
    charts = _wait_drawn(page)
    assert [c["id"] for c in charts] == [
        "chart-sg-line",
        "chart-sg-bar",
        "chart-sg-stacked",
        "chart-sg-funnel",
    ]
    assert [(c["type"], c["datasets"]) for c in charts] == [
        ("line", 2),
        ("bar", 1),
        ("bar", 3),
        ("bar", 1),
    ]
    for chart in charts:
        assert chart["drawn"] and chart["chart"], chart
        assert 100 < chart["width"] <= width and chart["height"] > 100, chart
        # the table is folded under "Show the numbers", still in the page
        assert chart["open"] is False and chart["rows"] > 0, chart
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if width == 390:  # axe, unique ids, focus rings, nothing wider than a phone: drawn
        assert check_page(page, scroll=True) == []
    page.locator("#chart-sg-line summary").click()
    assert page.locator("#chart-sg-line table").is_visible()
    assert log.csp_violations() == []
    assert _errors(log) == []
    page.context.close()


def test_chartjs_needs_no_inline_styles(site, settings):
    """The portal's policy still allows inline styles for the Django admin;
    the charts work without them: Chart.js styles its canvas through the
    CSSOM, which style-src does not govern, and injects no stylesheet."""
    policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    assert "'unsafe-inline'" in policy["DIRECTIVES"]["style-src"]
    policy["DIRECTIVES"]["style-src"] = [SELF]
    settings.CONTENT_SECURITY_POLICY = policy  # read on each response
    page, log = site.new_page(ROLE)
    response = page.goto(site.url(URL))
    directives = [d.strip() for d in response.headers["content-security-policy"].split(";")]
    assert "style-src 'self'" in directives
    assert len(_wait_drawn(page)) == CHARTS
    assert log.csp_violations() == []
    # the stricter policy was the one in force: an inline style is refused
    page.evaluate(
        "() => { const s = document.createElement('style');"
        " s.textContent = 'body{}'; document.head.appendChild(s); }"
    )
    page.wait_for_function("window.__cspViolations.length > 0", timeout=2000)
    violations = log.csp_violations()
    assert violations and all("style-src" in v and "inline" in v for v in violations)
    assert len(page.evaluate("window.__cspViolations")) == 1  # only ours
    page.context.close()


def test_a_click_on_a_bar_opens_its_drill_link(site):
    page, _ = site.new_page(ROLE)
    page.goto(site.url(URL))
    _wait_drawn(page)
    canvas = page.locator("#chart-sg-bar canvas")
    canvas.scroll_into_view_if_needed()
    point = page.evaluate(
        """() => {
          const canvas = document.querySelector("#chart-sg-bar canvas");
          const bar = Chart.getChart(canvas).getDatasetMeta(0).data[1];
          return {x: bar.x, y: (bar.y + bar.base) / 2};
        }"""
    )
    canvas.click(position=point)
    page.wait_for_url(site.url(URL) + "#charts", timeout=2000)
    page.context.close()


def test_no_animation_for_reduced_motion(site):
    context = site.browser.new_context(storage_state=site.signed_in(ROLE), reduced_motion="reduce")
    page = context.new_page()
    page.goto(site.url(URL))
    assert all(chart["animation"] is False for chart in _wait_drawn(page))
    context.close()


def test_without_javascript_the_tables_are_the_content(site):
    context = site.browser.new_context(
        storage_state=site.signed_in(ROLE),
        java_script_enabled=False,
        viewport={"width": 390, "height": 900},
    )
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.goto(site.url(URL))
    figures = page.locator("figure.chart")
    assert figures.count() == CHARTS
    for i in range(CHARTS):
        figure = figures.nth(i)
        assert figure.locator("table").is_visible()
        assert figure.locator("td a").count() + figure.locator("td").count() > 0
        assert not figure.locator("canvas").is_visible()  # no empty box
        assert not figure.locator("summary").is_visible()  # nothing to unfold
    assert page.locator("#chart-sg-bar td a", has_text="412").get_attribute("href") == "#charts"
    # sparklines need no script either
    assert page.locator("svg.sparkline[role=img]").count() == 4
    # nothing wider than a phone (axe needs the page's JavaScript: not here)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()

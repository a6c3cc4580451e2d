"""Charts and sparklines (issue #16, "Charts"): the chart's data for Chart.js
and its accessible table (prm.charts, imported by reporting from
reporting.charts), the component that renders both, the sparkline filter, and
the chart colours. The drawing itself: tests/browser/test_charts.py."""

import json
import re
from decimal import Decimal

import pytest
from django.template import engines

from prm.charts import Chart, Series, format_value
from prm.sparkline import sparkline
from prm.tenancy.declarations import Unit
from tests.test_design_system import ROOT, contrast

D = Decimal


def pipeline() -> Chart:
    return Chart(
        key="pipeline",
        title="Pipeline by month",
        kind="line",
        unit=Unit.MONEY,
        currency="USD",
        labels=["Oct 2026", "Nov 2026", "Dec 2026"],
        series=[
            Series("Pipeline", [D("1200.5"), None, 3000], ["/a?m=10", None, "/a?m=12"]),
            Series("Won", [D("0"), D("99.999"), D("-5")]),
        ],
        description="Partner-sourced, base currency.",
    )


def funnel() -> Chart:
    return Chart(
        key="funnel",
        title="Registration to won",
        kind="funnel",
        unit=Unit.COUNT,
        labels=["Submitted", "Approved", "Won"],
        series=[Series("Registrations", [800, 600, 201], ["/r?s=1", "/r?s=2", "/r?s=3"])],
    )


def tiers() -> Chart:
    return Chart(
        key="tiers",
        title="Won revenue by tier",
        kind="stacked-bar",
        unit=Unit.MONEY,
        currency="JPY",
        labels=["Q1", "Q2"],
        series=[Series("Gold", [D("1000"), None]), Series("Silver", [D("250.4"), None])],
        axis="Quarter",
    )


# --- Chart.data(): what charts.js draws --------------------------------------------------


def test_data_is_json_safe_with_numbers_to_draw_and_the_exact_texts():
    data = pipeline().data()
    assert json.loads(json.dumps(data)) == data  # nothing but JSON types
    assert data["kind"] == "line" and data["unit"] == "money" and data["currency"] == "USD"
    assert data["labels"] == ["Oct 2026", "Nov 2026", "Dec 2026"]
    first, second = data["series"]
    assert first == {
        "name": "Pipeline",
        "values": [1200.5, None, 3000],
        "texts": ["1,200.50 USD", "\N{EN DASH}", "3,000.00 USD"],
        "urls": ["/a?m=10", None, "/a?m=12"],
    }
    assert second["values"] == [0.0, 99.999, -5.0]
    assert second["texts"] == ["0.00 USD", "100.00 USD", "-5.00 USD"]
    assert second["urls"] is None
    assert data["shares"] is None


def test_a_funnel_carries_each_stage_share_of_the_first():
    data = funnel().data()
    assert data["series"][0]["texts"] == ["800", "600", "201"]
    assert data["shares"] == ["100%", "75%", "25.1%"]


@pytest.mark.parametrize(
    ("value", "unit", "currency", "text"),
    [
        (D("120000"), Unit.MONEY, "USD", "120,000.00 USD"),
        (D("1500000"), Unit.MONEY, "JPY", "1,500,000 JPY"),
        (D("87.5"), Unit.PERCENT, "", "87.5%"),
        (1204, Unit.COUNT, "", "1,204"),
        (D("12.46"), Unit.HOURS, "", "12.5 hours"),
        (D("1"), Unit.DAYS, "", "1 day"),
        (D("2.25"), Unit.DAYS, "", "2.3 days"),
        (None, Unit.COUNT, "", "\N{EN DASH}"),
        (None, Unit.MONEY, "USD", "\N{EN DASH}"),
    ],
)
def test_values_are_formatted_by_their_unit(value, unit, currency, text):
    assert format_value(value, unit, currency) == text


# --- Chart.table(): the accessible table --------------------------------------------------


def test_the_table_has_a_row_per_label_and_a_column_per_series():
    table = pipeline().table()
    assert table.header == ["Period", "Pipeline", "Won"]
    assert [row.label for row in table.rows] == ["Oct 2026", "Nov 2026", "Dec 2026"]
    october = table.rows[0].cells
    assert [(c.text, c.url, c.column) for c in october] == [
        ("1,200.50 USD", "/a?m=10", "Pipeline"),
        ("0.00 USD", None, "Won"),
    ]
    assert table.rows[1].cells[0].text == "\N{EN DASH}" and table.rows[1].cells[0].url is None


def test_a_stacked_bar_table_adds_the_total_of_each_label():
    table = tiers().table()
    assert table.header == ["Quarter", "Gold", "Silver", "Total"]
    assert [c.text for c in table.rows[0].cells] == ["1,000 JPY", "250 JPY", "1,250 JPY"]
    assert table.rows[0].cells[-1].value == D("1250.4")
    # nothing in any series: no total either
    assert [c.text for c in table.rows[1].cells] == ["\N{EN DASH}"] * 3


def test_a_funnel_table_adds_each_stage_share_of_the_first():
    table = funnel().table()
    assert table.header == ["Stage", "Registrations", "Share of Submitted"]
    assert [[c.text for c in row.cells] for row in table.rows] == [
        ["800", "100%"],
        ["600", "75%"],
        ["201", "25.1%"],
    ]
    assert [row.cells[0].url for row in table.rows] == ["/r?s=1", "/r?s=2", "/r?s=3"]


def test_a_funnel_with_an_empty_first_stage_has_no_shares():
    chart = Chart("f", "F", "funnel", Unit.COUNT, ["A", "B"], [Series("n", [0, 0])])
    assert [row.cells[1].text for row in chart.table().rows] == ["\N{EN DASH}"] * 2


def test_table_texts_are_the_tooltips_texts():
    chart = pipeline()
    data, table = chart.data(), chart.table()
    for index, series in enumerate(data["series"]):
        assert [row.cells[index].text for row in table.rows] == series["texts"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "pie"}, "Unknown chart kind"),
        ({"key": "has space"}, "names element ids"),
        ({"labels": ["Oct 2026"]}, "one value"),
        ({"currency": ""}, "needs its currency"),
        ({"series": [Series("x", [1, 2, 3], ["/a"])]}, "one value"),
    ],
)
def test_a_chart_that_cannot_be_drawn_is_refused(changes, message):
    given = {
        "key": "pipeline",
        "title": "Pipeline",
        "kind": "line",
        "unit": Unit.MONEY,
        "currency": "USD",
        "labels": ["Oct 2026", "Nov 2026", "Dec 2026"],
        "series": [Series("Pipeline", [1, 2, 3])],
        **changes,
    }
    with pytest.raises(ValueError, match=message):
        Chart(**given)


def test_ids_derive_from_the_key():
    chart = pipeline()
    assert chart.dom_id == "chart-pipeline-data" and chart.figure_id == "chart-pipeline"
    assert chart.label.startswith("Line chart: Pipeline by month (Pipeline, Won).")


# --- the component -------------------------------------------------------------------------


def render(chart: Chart) -> str:
    template = engines["django"].from_string(
        '{% include "components/chart.html" with chart=chart %}'
    )
    return template.render({"chart": chart})


def test_the_component_renders_the_data_and_a_table_of_the_numbers():
    chart = pipeline()
    html = render(chart)
    assert (
        '<figure class="chart chart-line" id="chart-pipeline" data-chart="chart-pipeline-data"'
        in (html)
    )
    assert '<figcaption><span class="chart-title">Pipeline by month</span>' in html
    assert "Partner-sourced, base currency." in html
    assert f'<canvas role="img" aria-label="{chart.label}"></canvas>' in html
    # the data: json_script only, no inline script (strict CSP), no style attribute
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, re.S)
    assert re.findall(r"<script[^>]*>", html) == [
        '<script id="chart-pipeline-data" type="application/json">'
    ]
    assert json.loads(scripts[0]) == chart.data()
    assert "style=" not in html and "onclick" not in html
    # the table: every value, each a link to its list where there is one
    assert '<table class="table table-stack chart-table">' in html
    assert '<th scope="col" class="num">Won</th>' in html
    assert '<th scope="row" class="stack-head">Nov 2026</th>' in html
    assert '<td class="num" data-label="Pipeline"><a href="/a?m=10">1,200.50 USD</a></td>' in html
    assert '<td class="num" data-label="Won">100.00 USD</td>' in html
    assert '<td class="num" data-label="Pipeline">\N{EN DASH}</td>' in html
    # shown without JavaScript; charts.js folds it once the chart is drawn
    assert '<details class="chart-numbers" open>' in html
    assert "<summary>Show the numbers</summary>" in html
    # prm.js loads these two on a page with a chart
    assert 'data-chartjs="/static/vendor/chartjs/chart.umd.min.js"' in html
    assert 'data-chart-script="/static/js/charts.js"' in html


def test_the_component_escapes_what_it_is_given():
    chart = Chart(
        key="x",
        title="<b>Title</b>",
        kind="bar",
        unit=Unit.COUNT,
        labels=["</script><script>alert(1)</script>"],
        series=[Series("<i>s</i>", [1], ['" onmouseover="x'])],
    )
    html = render(chart)
    assert "<b>" not in html and "<i>" not in html and "<script>alert" not in html
    assert 'href="&quot; onmouseover=&quot;x"' in html
    assert json.loads(re.search(r"json\">(.*?)</script>", html, re.S).group(1)) == chart.data()


def test_the_vendored_library_is_there_with_its_licence():
    vendor = ROOT / "static/vendor/chartjs"
    assert (vendor / "chart.umd.min.js").read_text().startswith("/*!\n * Chart.js v4.")
    assert "MIT License" in (vendor / "LICENSE.md").read_text()
    # collectstatic's manifest storage follows the sourceMappingURL comment
    assert (vendor / "chart.umd.min.js.map").exists()


# --- sparklines --------------------------------------------------------------------------


def _points(svg: str) -> list[list[tuple[float, float]]]:
    return [
        [tuple(float(n) for n in pair.split(",")) for pair in points.split()]
        for points in re.findall(r'<polyline class="sparkline-line" points="([^"]*)"', svg)
    ]


def _dot(svg: str) -> tuple[float, float]:
    found = re.search(r'<circle class="sparkline-dot" cx="([\d.]+)" cy="([\d.]+)"', svg)
    assert found, svg
    return float(found.group(1)), float(found.group(2))


def test_a_sparkline_draws_the_trend_with_a_dot_on_the_last_value():
    svg = sparkline([D("10"), D("20"), D("15"), D("30")], "Pipeline")
    assert svg.startswith('<svg class="sparkline" viewBox="0 0 100 24"')
    assert 'role="img" aria-label="Pipeline: 10 → 30"' in svg
    (line,) = _points(svg)
    assert len(line) == 4
    xs, ys = [x for x, _ in line], [y for _, y in line]
    assert xs == sorted(xs) and xs[0] >= 0 and xs[-1] <= 100
    assert ys[3] == min(ys) and ys[0] == max(ys)  # the highest value is at the top
    assert all(0 <= y <= 24 for y in ys)
    assert _dot(svg) == line[-1]
    assert "style" not in svg


def test_a_sparkline_breaks_at_missing_values():
    svg = sparkline([1, 2, None, 4, 5, None], "Win rate")
    assert 'aria-label="Win rate: 1 → 5"' in svg
    first, second = _points(svg)
    assert len(first) == 2 and len(second) == 2
    assert _dot(svg) == second[-1]  # the last known value


def test_a_lone_value_between_gaps_is_a_point():
    svg = sparkline([None, 3, None, 1, 2], "x")
    assert svg.count('class="sparkline-point"') == 1
    assert len(_points(svg)) == 1


def test_a_flat_sparkline_sits_in_the_middle():
    svg = sparkline([7, 7, 7], "Flat")
    (line,) = _points(svg)
    assert {y for _, y in line} == {12.0}
    assert 'aria-label="Flat: 7 → 7"' in svg


@pytest.mark.parametrize("values", [[], None, [None, None]])
def test_an_empty_sparkline_says_so(values):
    svg = sparkline(values, "Conflict rate")
    assert 'aria-label="Conflict rate: no data"' in svg
    assert "<polyline" not in svg and "sparkline-dot" not in svg
    assert '<line class="sparkline-base"' in svg


def test_a_single_value_is_a_dot():
    svg = sparkline([D("4.25")], "One")
    assert 'aria-label="One: 4.3 → 4.3"' in svg
    assert _dot(svg) == (50.0, 12.0) and "<polyline" not in svg


def test_the_filter_takes_values_or_period_value_pairs_and_escapes_the_label():
    template = engines["django"].from_string(
        '{% load prm %}{{ pairs|sparkline:"Pipe <b>" }}|{{ values|sparkline }}|{{ none|sparkline }}'
    )
    html = template.render(
        {"pairs": [("Q1", D("1")), ("Q2", D("1234.56"))], "values": [1, 2], "none": None}
    )
    pairs, values, none = html.split("|")
    assert 'aria-label="Pipe &lt;b&gt;: 1 → 1,234.6"' in pairs
    assert 'aria-label="Trend: 1 → 2"' in values
    assert 'aria-label="Trend: no data"' in none


# --- colours -----------------------------------------------------------------------------


def test_the_chart_colours_stand_out_from_the_surfaces():
    """Six series colours, each at least 3:1 against cards and the page (the
    contrast WCAG 1.4.11 asks of graphics), all different."""
    css = (ROOT / "static/css/prm.css").read_text()
    tokens = dict(re.findall(r"(--[a-z]+(?:-[a-z0-9]+)*):\s*(#[0-9a-fA-F]{6})", css))
    colours = [tokens[f"--chart-{n}"] for n in range(1, 7)]
    assert len(set(colours)) == 6
    for colour in colours:
        for surface in ("--card", "--bg"):
            assert contrast(colour, tokens[surface]) >= 3, (colour, surface)


# --- the style guide ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_style_guide_shows_each_kind_of_chart_and_sparklines(acme):
    page = acme.client("ops_admin").get("/style-guide/").content.decode()
    kinds = re.findall(r'<figure class="chart chart-([a-z-]+)"', page)
    assert kinds == ["line", "bar", "stacked-bar", "funnel"]
    assert page.count("Style-guide sample data") == 4
    assert page.count('<svg class="sparkline"') == 4
    assert "Sample: pipeline" in page

"""The style guide: every component of the design system, live, with the
markup that makes it, the formatting filters' outputs and the tokens
(static/css/prm.css). Only vendor staff may open it (``portal.style_guide``):
it is a reference for the people who build and run the portal, not a page
for partners.

Each example is one template (templates/styleguide/<key>.html), rendered
live and shown next to its own source, so the markup on the page is the
markup that makes the example (it cannot drift from the components).
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.template import engines
from django.utils import timezone

from prm.charts import Chart, Series

from .access import role_required
from .declarations import Unit
from .requests import MemberRequest

PERMISSION = "portal.style_guide"


@dataclass(frozen=True)
class Example:
    """One component: its live example and markup are templates/styleguide/<key>.html."""

    key: str
    title: str
    text: str

    @property
    def template(self) -> str:
        return f"styleguide/{self.key}.html"


EXAMPLES: tuple[Example, ...] = (
    Example(
        "page-head",
        "Page head and breadcrumbs",
        "The title of a page with its main action on the right; breadcrumbs above it "
        "(a list of (url, label), the last one is the current page).",
    ),
    Example(
        "buttons",
        "Buttons",
        "Primary (the default of <button>), secondary and danger. One primary action per view.",
    ),
    Example(
        "chips",
        "Status chips",
        "One tone per status word, the same on the portal and in the admin "
        "(prm.tenancy.chips; in templates: chip-{{ status|chip_tone }}).",
    ),
    Example(
        "cards",
        "Cards",
        "A surface for one subject; .cards lays them out in a grid of one column on phones.",
    ),
    Example("stats", "Stat tiles", "A figure with its label and a note, in a .stats grid."),
    Example(
        "table",
        "Table (stacks below 640 px)",
        "Every cell names its column in data-label; numbers are .num; secondary facts "
        "fold into the row's details.",
    ),
    Example(
        "empty",
        "Empty state",
        "What a list shows when there is nothing in it, and the one thing to do next.",
    ),
    Example(
        "pagination",
        "Pagination",
        "Previous and next pages of a list; the other query parameters are kept.",
    ),
    Example("progress", "Progress", "A progress bar always has a visible label."),
    Example(
        "notices",
        "Notices and messages",
        "A notice explains the state of the page; flash messages confirm what just happened.",
    ),
    Example(
        "form",
        "Form fields",
        "Every control has a label; help under it; the error next to the field.",
    ),
    Example(
        "print",
        "Printing",
        "A page prints as its content (static/css/print.css): no menus, buttons or filter "
        "forms; the .filter-summary says what the figures cover; a figure's closed <details> "
        "(or one marked data-print-open) prints open; .print-only shows on paper only. The "
        "Print button (components/print_button.html) appears once JavaScript runs.",
    ),
    Example(
        "charts",
        "Charts",
        "A prm.charts.Chart (line, bar, stacked-bar or funnel) drawn by Chart.js, with "
        'its numbers in a table: the content without JavaScript, under "Show the '
        'numbers" with it; each number links to the list that makes it up. Series '
        "take the --chart-1..6 colours in order. The figures here are samples.",
    ),
    Example(
        "sparklines",
        "Sparklines",
        "A trend beside a figure, drawn on the server as an inline SVG (no JavaScript); "
        "None is a gap, the dot is the latest value. The figures here are samples.",
    ),
)

TOKENS: tuple[tuple[str, str, str], ...] = (
    ("--ink", "sg-ink", "Body text: 16:1 on white."),
    ("--muted", "sg-muted", "Secondary text: 6.6:1 on white, 6.2:1 on the page."),
    ("--line", "sg-line", "Borders and rules."),
    ("--bg", "sg-bg", "The page."),
    ("--card", "sg-card", "Surfaces: cards, tables."),
    ("--brand", "sg-brand", "Links and primary buttons: 7.3:1 with white."),
    ("--brand-dark", "sg-brand-dark", "The top bar, hovers."),
    ("--ok", "sg-ok", "Approved, won, paid (chip text 6.3:1 on --ok-soft)."),
    ("--warn", "sg-warn", "Needs attention (6.5:1 on --warn-soft)."),
    ("--bad", "sg-bad", "Rejected, breached, errors (5.6:1 on --bad-soft)."),
    ("--info", "sg-info", "Neutral statuses (7.7:1 on --info-soft)."),
    ("--focus", "sg-focus", "The focus outline (3 px, offset 2 px) of every control."),
    ("--chart-1", "sg-chart-1", "Charts' first series, sparklines (blue); 7.3:1 on white."),
    ("--chart-2", "sg-chart-2", "Second series (orange); 3.8:1, graphics need 3:1."),
    ("--chart-3", "sg-chart-3", "Third series (teal); 5.2:1."),
    ("--chart-4", "sg-chart-4", "Fourth series (purple); 5.3:1."),
    ("--chart-5", "sg-chart-5", "Fifth series (brown); 7.9:1."),
    ("--chart-6", "sg-chart-6", "Sixth series (magenta); 5.1:1."),
)
SCALE = (
    "--space-1 .25rem · --space-2 .5rem · --space-3 1rem · --space-4 1.5rem · --space-5 2.5rem",
    "--font-size-xs .78rem · --font-size-sm .875rem · --font-size 1rem · --font-size-lg "
    "1.2rem · --font-size-xl 1.5rem",
    "--radius 8px · --radius-sm 6px · the page 1200px wide at most",
    "Breakpoints: the main menu collapses below 900 px, tables stack below 640 px.",
)

FILTERS: tuple[str, ...] = (
    '{{ pipeline|money:"USD" }}',
    '{{ negative|money:"EUR" }}',
    '{{ yen|money:"JPY" }}',
    '{{ dinar|money:"KWD" }}',
    '{{ nothing|money:"USD" }}',
    "{{ 1234567|number }}",
    "{{ ratio|number:2 }}",
    "{{ win_rate|percent }}",
    "{{ since|day }}",
    "{{ filed|moment }}",
    '{{ 1|plural:"row" }}',
    '{{ 1000|plural:"row" }}',
    '{{ 3|plural:"entry,entries" }}',
    '{{ "Acme"|possessive }}',
    '{{ "Siemens"|possessive }}',
    "{{ fx|rate }}",
)


MONTHS = [f"{month} 2026" for month in ("Jul", "Aug", "Sep", "Oct", "Nov", "Dec")]
SAMPLE = "Style-guide sample data, not your program's figures."


def _d(*values: str | None) -> list[Decimal | int | None]:
    return [None if v is None else Decimal(v) for v in values]


def sample_charts() -> dict[str, Chart]:
    """One chart of each kind, with made-up numbers (labelled as samples)."""
    anchor = "#charts"  # a real page links each number to its list
    return {
        "line": Chart(
            key="sg-line",
            title="Sample: partner-sourced pipeline and won revenue",
            kind="line",
            unit=Unit.MONEY,
            currency="USD",
            labels=MONTHS,
            series=[
                Series(
                    "Pipeline",
                    _d("410000", "455000", "430500", "520000", "587250.5", "640000"),
                    [anchor] * 6,
                ),
                Series("Won revenue", _d("120000", "98000", None, "151000", "173400", "210000")),
            ],
            description=f"By month. {SAMPLE} September has no won revenue recorded: a gap.",
        ),
        "bar": Chart(
            key="sg-bar",
            title="Sample: registrations submitted by region",
            kind="bar",
            unit=Unit.COUNT,
            labels=["North America", "EMEA", "APAC", "Latin America"],
            series=[Series("Registrations", [412, 305, 188, 64], [anchor] * 4)],
            description=SAMPLE,
            axis="Region",
        ),
        "stacked": Chart(
            key="sg-stacked",
            title="Sample: won revenue by tier",
            kind="stacked-bar",
            unit=Unit.MONEY,
            currency="EUR",
            labels=["Q1 2026", "Q2 2026", "Q3 2026", "Q4 2026"],
            series=[
                Series("Platinum", _d("210000", "232000", "251500", "240000")),
                Series("Gold", _d("120500", "131000", "118250", "142000")),
                Series("Silver", _d("45000", "52500", "61000", "58750")),
            ],
            description=f"Per fiscal quarter. {SAMPLE}",
        ),
        "funnel": Chart(
            key="sg-funnel",
            title="Sample: from registration to won",
            kind="funnel",
            unit=Unit.COUNT,
            labels=["Submitted", "Approved", "Closed", "Won"],
            series=[Series("Registrations", [969, 802, 455, 301], [anchor] * 4)],
            description=f"Registrations submitted this quarter, by how far they went. {SAMPLE}",
        ),
    }


def sample_sparklines() -> dict[str, list[Decimal | int | None]]:
    return {
        "rising": _d("410000", "455000", "430500", "520000", "587250", "640000"),
        "gaps": _d("62.5", "71", None, "68", "74.5", None),
        "flat": [12, 12, 12, 12, 12, 12],
        "empty": [None, None, None],
    }


def sample_context() -> dict[str, Any]:
    filed = timezone.localtime().replace(hour=14, minute=5, second=0, microsecond=0)
    return {
        "pipeline": Decimal("120000"),
        "negative": Decimal("-1234.5"),
        "yen": Decimal("1500000"),
        "dinar": Decimal("1234.5"),
        "nothing": None,
        "ratio": Decimal("1234.5"),
        "win_rate": Decimal("87.5"),
        "since": dt.date(2026, 12, 3),
        "filed": filed,
        "fx": Decimal("1.08370000"),
        "crumbs": [("#", "Deal registrations"), ("", "DR-5JA9NAXB")],
        "page_obj": Paginator(range(60), 20).page(2),
        "charts": sample_charts(),
        "sparklines": sample_sparklines(),
    }


LOAD = "{% load prm %}\n"


def _render(source: str, context: dict[str, Any], request: MemberRequest) -> str:
    template = engines["django"].from_string(LOAD + source)
    return template.render(context, request)


def example(item: Example, context: dict[str, Any], request: MemberRequest) -> dict[str, Any]:
    """The example rendered live, and the markup that made it."""
    template = engines["django"].get_template(item.template)
    source = template.template.source  # type: ignore[attr-defined]  # the backend's Template
    return {
        "example": item,
        "html": template.render(context, request),
        "source": source.removeprefix(LOAD).strip(),
    }


@role_required(PERMISSION)
def style_guide(request: MemberRequest) -> HttpResponse:
    """/style-guide/: the components, live, with their markup."""
    context = sample_context()
    examples = [example(e, context, request) for e in EXAMPLES]
    filters = [{"source": f, "output": _render(f, context, request)} for f in FILTERS]
    return render(
        request,
        "tenancy/style_guide.html",
        {
            "examples": examples,
            "filters": filters,
            "tokens": TOKENS,
            "scale": SCALE,
            "crumbs": [("/", "Home"), ("", "Style guide")],
        },
    )

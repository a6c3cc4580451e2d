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

from .access import role_required
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

"""How an app declares itself to the rest of the product.

Each app of the product writes one ``declare.py`` beside its ``models.py``
holding ``APP = PRMApp(...)``: its permissions per role, its portal
navigation, its home cards, its URLs, its beat entries, its demo-data step,
its URL-matrix spec and its metrics. ``prm.tenancy.registry`` collects the
declarations of every installed app, in ``INSTALLED_APPS`` order, and the
foundation reads them from there: it never imports an app. Adding an app
touches only its folder (and ``INSTALLED_APPS``).

This module holds only the shapes; it imports nothing of the product, so a
``declare.py`` can import it at any time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from .models import Membership, Tenant


# --- Navigation and home cards ----------------------------------------------------


@dataclass(frozen=True)
class NavEntry:
    """One entry of the portal's top navigation, shown to members holding
    any of ``perms`` (and, where given, for whom ``visible(membership)`` is
    true: a tenant setting that opens a page to more roles). Entries sort by
    ``order`` (the foundation's Home is 0, Admin 950; "My account" is the
    person's name beside them)."""

    url_name: str
    label: str
    perms: tuple[str, ...]
    order: int = 100
    visible: Callable[[Membership], bool] | None = None


@dataclass(frozen=True)
class Count:
    """One live figure on a home card: "7 registrations waiting for you".
    ``url`` opens the list filtered to exactly those rows; ``urgent`` marks
    what is late (drawn as an alert)."""

    text: str
    url: str
    urgent: bool = False


@dataclass(frozen=True)
class Action:
    """A button on a card: a label and the URL name it opens."""

    label: str
    url_name: str


@dataclass(frozen=True)
class Card:
    """A card on the home page of members holding any of ``perms``.

    ``counts(membership)`` returns the live figures (called only for members
    who see the card; keep it to one or two queries). ``template`` renders a
    card of its own shape instead of the standard one, with
    ``context(membership)`` added to the page's context. A card with counts
    that all came back empty shows ``empty`` instead, when given. ``setup``
    cards (configuration: tiers, rules, settings) are listed as links under
    the work cards, so what needs attention comes first on every screen.
    """

    key: str
    title: str
    perms: tuple[str, ...]
    url_name: str | None = None
    description: str = ""
    counts: Callable[[Membership], Iterable[Count]] | None = None
    empty: str = ""
    actions: tuple[Action, ...] = ()
    template: str | None = None
    context: Callable[[Membership], Mapping[str, Any]] | None = None
    setup: bool = False
    order: int = 100
    # Where given, the card shows only to members for whom it is true.
    visible: Callable[[Membership], bool] | None = None


@dataclass(frozen=True)
class NotificationKind:
    """A kind of notification an app sends (``notify(kind=key)``) that is
    also mailed. Members whose role is in ``roles`` get a switch for its
    mails on their "My account" page; ``label`` names it there
    ("A registration is assigned to me")."""

    key: str
    label: str
    roles: Iterable[str]


# --- Metrics --------------------------------------------------------------------------


class Unit(StrEnum):
    MONEY = "money"  # in the tenant's base currency
    PERCENT = "percent"  # 0-100
    COUNT = "count"
    HOURS = "hours"  # business hours
    DAYS = "days"


class Good(StrEnum):
    HIGH = "high"
    LOW = "low"
    NEITHER = "neither"


@dataclass(frozen=True)
class Period:
    """Calendar days ``start``..``end`` (both included) on the tenant's
    calendar: a metric's period. ``bounds`` gives the matching instants."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"A period cannot end ({self.end}) before it starts ({self.start}).")

    def bounds(self, tenant: Tenant) -> tuple[datetime, datetime]:
        """[first instant, first instant after) in the tenant's time zone."""
        zone = ZoneInfo(tenant.timezone)
        start = datetime.combine(self.start, datetime.min.time(), tzinfo=zone)
        after = datetime.combine(self.end + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        return start, after

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        length = self.end - self.start
        end = self.start - timedelta(days=1)
        return Period(end - length, end)

    def query(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


@dataclass(frozen=True)
class Filters:
    """The optional filters every metric honours: ids of a region and a tier,
    a partner type value, a channel manager's user id. The partner directory
    says how they apply to partners (``partners.metrics.partner_q``)."""

    region: Any = None
    tier: Any = None
    partner_type: str | None = None
    channel_manager: Any = None

    def query(self) -> dict[str, str]:
        return {
            name: str(value)
            for name, value in (
                ("region", self.region),
                ("tier", self.tier),
                ("partner_type", self.partner_type),
                ("channel_manager", self.channel_manager),
            )
            if value not in (None, "")
        }


NO_FILTERS = Filters()


@dataclass(frozen=True)
class Metric:
    """A figure the program is run on (``shared/METRICS.md`` defines each).

    ``compute(tenant, period, filters)`` runs inside the tenant's scope and
    returns the value (``None`` when it is undefined, e.g. a rate with
    nothing to divide by). ``drill(tenant, period, filters)`` returns the URL
    of the list of exactly the rows it counts, or ``None`` where no list
    shows exactly those; ``perms`` say who may see it. Instead of ``drill``, a
    metric may declare ``rows(tenant, period, filters)``, the queryset of the
    rows it counts (for a rate, those of its denominator), and ``rows_admin``,
    the URL name of the admin list of that model, which then lists them
    through ``prm.tenancy.drill`` (``drill.link`` gives a metric's drill).
    """

    key: str
    name: str
    definition: str
    unit: Unit
    good: Good
    compute: Callable[[Tenant, Period, Filters], Decimal | int | None]
    drill: Callable[[Tenant, Period, Filters], str | None] | None = None
    perms: tuple[str, ...] = ()
    rows: Callable[[Tenant, Period, Filters], QuerySet[Any]] | None = None
    rows_admin: str | None = None


# --- Demo data ------------------------------------------------------------------------


@dataclass
class DemoContext:
    """What one tenant's demo-data steps share: the tenant, the demo logins'
    users by role (``users``), their memberships once they exist
    (``people``: staff from the start, partner roles once the partner
    directory's step has made their partner), and ``objects``, where a step
    leaves what later steps use under keys prefixed with its app label
    ("partners.partners"). Steps run inside the tenant's scope and one
    transaction, in dependency order, and must be safe to run again.

    Besides a few rows of every kind made today, the steps write a year of
    history through the apps' services, dated when it happened; ``history``
    scales how much of it (1 is the demo's full year; tests ask for less,
    and the second demo tenant has a smaller program)."""

    tenant: Tenant
    users: dict[str, Any]
    people: dict[str, Membership] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)
    history: float = 1.0


# --- The declaration ------------------------------------------------------------------


@dataclass(frozen=True)
class PRMApp:
    """Everything the rest of the product knows about one app.

    - ``permissions``: permission name → the roles holding it.
      ``object_scoped``: permission name → roles that hold it only on the
      objects assigned to them (a django-guardian object permission).
      A permission is declared by exactly one app.
    - ``nav``, ``cards``: portal navigation entries and home cards.
    - ``urls``: the URL module, included at ``url_prefix`` on every tenant
      host (``namespace`` is the module's ``app_name``).
    - ``beat``: Celery beat entries (name → entry), names unique product-wide.
    - ``demo``: dotted path of ``step(ctx: DemoContext)`` adding the app's
      demo data; ``demo_after`` names the apps whose steps must run first.
    - ``url_matrix``: dotted path of the module holding the app's part of the
      URL-matrix test (see ``tests/test_url_matrix.py``): loaded by tests only.
    - ``metrics``: the figures reporting shows.
    - ``notification_kinds``: the mailed notifications the app sends, each
      a switch on the members' mail preferences.
    """

    label: str
    permissions: Mapping[str, Iterable[str]] = field(default_factory=dict)
    object_scoped: Mapping[str, Iterable[str]] = field(default_factory=dict)
    nav: Sequence[NavEntry] = ()
    cards: Sequence[Card] = ()
    urls: str | None = None
    url_prefix: str = ""
    beat: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    demo: str | None = None
    demo_after: tuple[str, ...] = ()
    url_matrix: str | None = None
    metrics: Sequence[Metric] = ()
    notification_kinds: Sequence[NotificationKind] = ()

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
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from django.db.models import Model, QuerySet
    from django.http import HttpRequest

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


@dataclass(frozen=True)
class WebhookEvent:
    """A kind of event an app sends to the tenant's webhook endpoints
    (``prm.webhooks.events.emit``): ``key`` names it ("registration.approved",
    unique product-wide), ``description`` says when it happens ("A
    registration was approved"): ops choose the events an endpoint receives
    by it."""

    key: str
    description: str


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
    rollup: Rollup | None = None


# --- Rollups --------------------------------------------------------------------------


class FactRow(NamedTuple):
    """One partner's figures for one day (``partner`` None: the vendor's own,
    e.g. its direct pipeline). ``dims`` overrides the partner's region, tier,
    type and channel manager as they are now, for facts that count the
    partner as it stood that day (``(region, tier, partner_type,
    channel_manager)``)."""

    partner: Any
    day: date
    values: Mapping[str, Decimal | int]
    dims: tuple[Any, Any, str, Any] | None = None


class Measurement(NamedTuple):
    """One measured duration (an integer in the series' unit, e.g.
    microseconds of business time) of one partner on one day."""

    partner: Any
    day: date
    value: int


@dataclass(frozen=True)
class FactSource:
    """Daily figures an app keeps in reporting's rollups, so dashboards read
    a few thousand rows instead of millions.

    ``compute(tenant, partner_ids, since)`` yields ``FactRow``s for the
    given partners (None: all, the vendor's own rows included) from ``since``
    on (None: all days); each day is a calendar day in the tenant's time
    zone and the values add up (counts, sums of money in the base currency).
    ``facts`` names the values it yields: each is a column of reporting's
    rollups. ``measure`` does the same for ``series``, durations whose
    percentiles a metric shows (``Measurement``s: they do not add up).
    ``watch`` maps a model (``"app_label.ModelName"``) to a function giving
    the partner ids (None: the vendor's own rows) a saved or deleted row of
    it changes: reporting refreshes those partners' rollups after commit.
    For a model of no one tenant (a person), it gives (tenant id, partner
    id) pairs."""

    key: str
    facts: tuple[str, ...] = ()
    compute: Callable[[Tenant, Sequence[Any] | None, date | None], Iterable[FactRow]] | None = None
    series: tuple[str, ...] = ()
    measure: (
        Callable[[Tenant, Sequence[Any] | None, date | None], Iterable[tuple[str, Measurement]]]
        | None
    ) = None
    watch: Mapping[str, Callable[[Any], Iterable[Any]]] = field(default_factory=dict)


class Days(StrEnum):
    PERIOD = "period"  # the days of the period
    TO_END = "to_end"  # every day up to the period's end (a balance, a level)
    ALL = "all"  # every day, whatever the period (a figure "as it stands now")


@dataclass(frozen=True)
class Total:
    """A metric that is the sum of one fact (``sign`` -1 turns a negative
    sum positive, e.g. payouts booked as negative entries)."""

    fact: str
    days: Days = Days.PERIOD
    sign: int = 1


@dataclass(frozen=True)
class Rate:
    """``part`` ÷ ``whole`` as a percentage, both summed over ``days``."""

    part: str
    whole: str
    days: Days = Days.PERIOD


@dataclass(frozen=True)
class Share:
    """``part`` ÷ (``part`` + ``other``): ``other`` is the vendor's own
    figure (rows without a partner), which the filters do not narrow."""

    part: str
    other: str
    days: Days = Days.PERIOD


@dataclass(frozen=True)
class Quantile:
    """The continuous percentile of a series' measurements in the period,
    divided by ``scale`` (microseconds → hours). ``exact`` interpolates in
    decimals, as a metric computed in Python does; otherwise in double
    precision, as PostgreSQL's ``percentile_cont`` does."""

    series: str
    fraction: float
    scale: int = 1
    exact: bool = False


Rollup = Total | Rate | Share | Quantile


# --- Partner health --------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One partner's value of a health component on a day: ``value`` from 0
    (worst) to 1 (best), or None when there is no data for that partner
    (the other components' weights are then rescaled for them), and ``why``,
    a short sentence of the facts behind it ("12 days since the last
    registration")."""

    value: Decimal | None
    why: str = ""


# What a component's ``compute`` returns per partner id: a Reading, or just
# the value (then without a "why").
HealthValue = Reading | Decimal | None


@dataclass(frozen=True)
class HealthComponent:
    """A part of the partner health score, declared by the app owning its
    data (``PRMApp.health_components``).

    ``compute(tenant, day, partner_ids)`` runs inside the tenant's scope and
    returns, for each of ``partner_ids`` (a list, or a flat ``values_list``
    queryset, of partner ids), a ``HealthValue``; a partner left out has no data. It must
    use only data up to the end of ``day`` in the tenant's time zone, so the
    nightly job, a recomputation and a backfill of past days agree.
    ``default_weight`` (0-100) applies until ops set another in the tenant's
    health settings. ``compute_days(tenant, days, partner_ids)``, where
    given, returns the same readings for many days at once (day -> partner
    id -> value), for a backfill of the history."""

    key: str
    name: str
    description: str
    default_weight: int
    compute: Callable[[Tenant, date, Any], Mapping[Any, HealthValue]]
    compute_days: (
        Callable[[Tenant, Sequence[date], Any], Mapping[date, Mapping[Any, HealthValue]]] | None
    ) = None

    def __post_init__(self) -> None:
        if not 0 <= self.default_weight <= 100:
            raise ValueError(f"{self.key}: a weight is from 0 to 100.")


@dataclass(frozen=True)
class AtRiskRule:
    """A rule that flags a partner as at risk (``PRMApp.at_risk_rules``).

    ``evaluate(tenant, day, partner_ids, thresholds)`` runs inside the
    tenant's scope, after the day's health scores are stored, and returns
    partner id -> the reason in words ("No registration in 75 days") for
    each partner the rule flags on ``day`` (data up to that day's end only).
    ``thresholds`` are the tenant's health settings (field name -> value,
    e.g. ``no_registration_days``); a rule reads the ones it names."""

    key: str
    name: str
    description: str
    evaluate: Callable[[Tenant, date, Any, Mapping[str, int]], Mapping[Any, str]]


@dataclass(frozen=True)
class PartnerPanel:
    """A panel on the partner's staff page (the partner's admin change
    page), below its form, for members holding any of ``perms`` on that
    partner. ``template`` renders it with ``context(request, partner)``
    (plus ``panel``); ``css`` lists static stylesheets the page loads for
    it. Panels sort by ``order``."""

    key: str
    title: str
    template: str
    context: Callable[[HttpRequest, Model], Mapping[str, Any]]
    perms: tuple[str, ...]
    css: tuple[str, ...] = ()
    order: int = 100


# --- Portal gates --------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """What a gate says to a member it holds back: ``message`` (the banner,
    e.g. "Accept the partner agreement to use the portal"), and where to do
    what lifts it (``url``, with ``action`` as the link's words)."""

    message: str
    url: str
    action: str


@dataclass(frozen=True)
class PortalGate:
    """A condition that limits a partner's people to a few pages until it is
    met (agreements accepted, say): ``PRMApp.gates``.

    ``holds(membership)`` returns a ``Gate`` while the member is held back
    (one query at most: it runs on every portal request of a partner
    member), None otherwise. While held, the member may open the pages whose
    URL names are in ``open_names`` or whose namespace is in
    ``open_namespaces``, plus the foundation's own (sign-out, "My account",
    notifications); every page shows the gate's banner. Any other page
    answers GET with a redirect to ``Gate.url`` (an open page: no loop) and
    POST with a 403 page saying why, so nothing is changed behind the gate.
    """

    key: str
    holds: Callable[[Membership], Gate | None]
    open_names: tuple[str, ...] = ()
    open_namespaces: tuple[str, ...] = ()


# --- Restrictions ---------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """Why a partner may not do something now (``message``, in words the
    partner's people read: "Your compliance review was due on 3 March ..."),
    and where to go to lift it (``url``, with ``action`` as the link's
    words; both empty when there is nothing the partner can do there)."""

    message: str
    url: str = ""
    action: str = ""


@dataclass(frozen=True)
class Restriction:
    """A rule of one app that refuses an action of another to a partner,
    without either importing the other (``PRMApp.restrictions``).

    ``action`` names what it refuses, as the app doing it asks
    (``"dealreg.register"``: submitting a new deal registration).
    ``refuses(partner)`` returns a ``Refusal`` while the partner may not,
    None otherwise; it runs on the page and in the service of that action,
    so it keeps to one query. The app doing the action asks
    ``registry.refusal(action, partner)`` and shows the refusal's message
    (a page or form error, never a crash)."""

    key: str
    action: str
    refuses: Callable[[Any], Refusal | None]


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
    - ``facts``: the daily figures the app keeps in reporting's rollups
      (a metric's ``rollup`` says how it is read from them).
    - ``notification_kinds``: the mailed notifications the app sends, each
      a switch on the members' mail preferences.
    - ``health_components``, ``at_risk_rules``: the parts of the partner
      health score and the at-risk rules whose data the app owns.
    - ``partner_panels``: panels on the partner's staff page.
    - ``gates``: conditions that keep a partner's people to a few pages
      until met (``PortalGate``).
    - ``restrictions``: rules refusing another app's action to a partner
      (``Restriction``; asked through ``registry.refusal``).
    - ``api``: dotted path of the module listing the app's REST API
      resources (``ROUTES``: ``prm.api.routes.Route`` entries, served under
      ``/api/v1/``).
    - ``webhook_events``: the events the app sends to webhook endpoints
      (``WebhookEvent``; sent with ``prm.webhooks.events.emit``).
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
    facts: Sequence[FactSource] = ()
    notification_kinds: Sequence[NotificationKind] = ()
    health_components: Sequence[HealthComponent] = ()
    at_risk_rules: Sequence[AtRiskRule] = ()
    partner_panels: Sequence[PartnerPanel] = ()
    gates: Sequence[PortalGate] = ()
    restrictions: Sequence[Restriction] = ()
    api: str | None = None
    webhook_events: Sequence[WebhookEvent] = ()

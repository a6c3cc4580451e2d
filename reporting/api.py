"""The program's metrics in the REST API (``/api/v1/metrics/``), so that
leadership's BI tools read the numbers the dashboards show, computed by the
same code (``reporting.figures.headline``, from the rollups).

Who sees which metric is what the dashboards show them (``visible_to``):
the executive dashboard's readers every declared metric their permissions
allow, with any filter; a channel manager the channel dashboard's metrics,
for their own partners; a partner's people the partner dashboard's
figures, for their own organisation only (no filters). A metric the caller
may not see is 404, like one not declared.

``GET /api/v1/metrics/{key}/`` takes the dashboards' period and filters:
``period`` (a preset: this_quarter, last_quarter, this_year, ...; by
default this quarter to date) or ``start`` and ``end`` (YYYY-MM-DD: a
custom period), and ``region``, ``tier`` (ids), ``partner_type`` and
``channel_manager`` (a user id)."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from incentives.portal_access import may_read_statements
from partners.models import Partner
from prm.api.problems import Invalid
from prm.api.routes import Route
from prm.api.views import TenantViewSet
from prm.tenancy import registry
from prm.tenancy.declarations import NO_FILTERS, Filters, Metric, Period, Unit
from prm.tenancy.models import Membership
from prm.tenancy.roles import Role

from . import periods
from .dashboards import channel, partner
from .figures import Figure, headline, visible
from .forms import ReportFilterForm

EXECUTIVE = "reporting.view_executive"
CHANNEL = "reporting.view_channel"
PARTNER = "reporting.view_partner"
# The query's names for the dashboards' form fields.
FORM_NAMES = {"start": "from", "end": "to"}
API_NAMES = {form: api for api, form in FORM_NAMES.items()}
FILTER_PARAMS = ("region", "tier", "partner_type", "channel_manager")


@dataclass(frozen=True)
class Audience:
    """What a member sees on the dashboards: the metrics, and whose
    figures (``partner``: one organisation's; ``manager``: a channel
    manager's own partners)."""

    metrics: list[Metric]
    partner: Any = None
    manager: Any = None


def visible_to(membership: Membership) -> Audience:
    declared = registry.metrics()
    if membership.has_perm(EXECUTIVE):
        return Audience(visible(declared.values(), membership))
    if membership.has_perm(CHANNEL):
        chosen = [declared[k] for k in channel.KEYS if k in declared]
        manager = membership.user_id if membership.role == Role.CHANNEL_MANAGER else None
        return Audience(visible(chosen, membership), manager=manager)
    if membership.has_perm(PARTNER) and membership.partner_id is not None:
        keys = partner.DEALS + (partner.EARNINGS if may_read_statements(membership) else ())
        shown = [declared[k] for k in keys if k in declared and declared[k].rollup is not None]
        return Audience(shown, partner=membership.partner_id)
    return Audience([])


class MetricSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    definition = serializers.CharField()
    unit = serializers.ChoiceField(choices=[u.value for u in Unit])
    good = serializers.ChoiceField(
        choices=["high", "low", "neither"], help_text="Which way is better."
    )
    currency = serializers.CharField(
        allow_null=True, help_text="For a money metric: the base currency its figures are in."
    )


class MetricPeriodSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    value = serializers.JSONField(
        help_text="A decimal string (money, a percentage 0-100, hours, days), an integer "
        "(a count), or null when it is undefined (nothing to divide by)."
    )


class MetricValueSerializer(MetricSerializer):
    period = MetricPeriodSerializer()
    period_label = serializers.CharField()
    previous = MetricPeriodSerializer(help_text="The period of the same length just before.")
    series = MetricPeriodSerializer(many=True, help_text="The trend inside the period.")
    filters = serializers.DictField(child=serializers.CharField(allow_null=True))
    partner = serializers.UUIDField(allow_null=True, help_text="A partner member's organisation.")


def _value(value: Decimal | int | None) -> Any:
    if value is None or isinstance(value, int):
        return value
    return str(value)


def _id(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _span(period: Period, value: Decimal | int | None) -> dict[str, Any]:
    return {"start": period.start, "end": period.end, "value": _value(value)}


def metric_data(metric: Metric, currency: str) -> dict[str, Any]:
    return {
        "key": metric.key,
        "name": metric.name,
        "definition": metric.definition,
        "unit": str(metric.unit),
        "good": str(metric.good),
        "currency": currency if metric.unit == Unit.MONEY else None,
    }


@dataclass(frozen=True)
class Reading:
    """A metric's value for a period, as the API shows it."""

    metric: Metric
    figure: Figure
    period: Period
    label: str
    filters: Filters
    partner: Any


PARAMETERS = [
    OpenApiParameter("key", OpenApiTypes.STR, OpenApiParameter.PATH, description="The metric."),
    OpenApiParameter(
        "period",
        OpenApiTypes.STR,
        enum=list(periods.PRESETS),
        description="A period preset (default: this quarter to date). Ignored with start/end.",
    ),
    OpenApiParameter("start", OpenApiTypes.DATE, description="A custom period's first day."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="A custom period's last day."),
    OpenApiParameter("region", OpenApiTypes.UUID, description="Staff only: a region's id."),
    OpenApiParameter("tier", OpenApiTypes.UUID, description="Staff only: a tier's id."),
    OpenApiParameter(
        "partner_type",
        OpenApiTypes.STR,
        enum=list(Partner.Type.values),
        description="Staff only: a partner type.",
    ),
    OpenApiParameter(
        "channel_manager",
        OpenApiTypes.UUID,
        description="Staff only: a channel manager's user id (a channel manager: their own).",
    ),
]
METRIC = {
    "key": "dealreg.partner_sourced_revenue",
    "name": "Partner-sourced revenue",
    "definition": "Won amount (base currency, at the rate on the close date) of "
    "registrations won in the period.",
    "unit": "money",
    "good": "high",
    "currency": "USD",
}
VALUE = {
    **METRIC,
    "period": {"start": "2026-10-01", "end": "2026-12-06", "value": "1284500.00"},
    "period_label": "Q4 FY2026 to date",
    "previous": {"start": "2026-07-25", "end": "2026-09-30", "value": "1102000.00"},
    "series": [
        {"start": "2026-10-01", "end": "2026-10-31", "value": "512000.00"},
        {"start": "2026-11-01", "end": "2026-11-30", "value": "618500.00"},
        {"start": "2026-12-01", "end": "2026-12-06", "value": "154000.00"},
    ],
    "filters": {
        "region": "0190a1b2-0000-7000-8000-0000000000e1",
        "tier": None,
        "partner_type": None,
        "channel_manager": None,
    },
    "partner": None,
}


class MetricViewSet(TenantViewSet):
    """The declared metrics and their values, as the dashboards compute them."""

    resource = "metrics"
    read_perms = (EXECUTIVE, CHANNEL, PARTNER)
    owner_field = None
    lookup_field = "key"
    lookup_url_kwarg = "key"
    # Any key reaches the view: an unknown one is a 404 problem, like an unknown id.
    lookup_value_regex = r"[^/]+"
    serializer_class = MetricValueSerializer
    filter_backends: list[Any] = []
    pagination_class = None  # type: ignore[assignment]  # a short declared list
    http_method_names = ["get", "head", "options"]

    def _audience(self) -> Audience:
        found = getattr(self, "_found_audience", None)
        if found is None:
            found = self._found_audience = visible_to(self.membership)
        return found

    @extend_schema(
        summary="List the metrics you may read",
        responses={200: MetricSerializer(many=True)},
        examples=[
            OpenApiExample(
                "The metrics",
                value={"next": None, "previous": None, "results": [METRIC]},
                response_only=True,
            )
        ],
    )
    def list(self, request: Request) -> Response:
        currency = self.tenant.base_currency
        results = [metric_data(m, currency) for m in self._audience().metrics]
        return Response({"next": None, "previous": None, "results": results})

    @extend_schema(
        summary="Get a metric's value for a period",
        parameters=PARAMETERS,
        responses={200: MetricValueSerializer},
        examples=[OpenApiExample("A metric's value", value=VALUE, response_only=True)],
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    def get_object(self) -> Reading:
        audience = self._audience()
        key = self.kwargs[self.lookup_url_kwarg]
        metric = next((m for m in audience.metrics if m.key == key), None)
        if metric is None:
            raise Http404("No such metric.")
        form, filters = self._period_and_filters(audience)
        figures = headline(
            self.tenant,
            form.period,
            filters,
            partner=audience.partner,
            keys=[metric.key],
            membership=None if audience.partner is not None else self.membership,
            links=False,
        )
        if not figures:  # a metric read from its own table has no one partner's figure
            raise Http404("No such metric.")
        return Reading(metric, figures[0], form.period, form.label, filters, audience.partner)

    def _period_and_filters(self, audience: Audience) -> tuple[ReportFilterForm, Filters]:
        params = self.request.query_params
        given = {FORM_NAMES.get(k, k): v for k, v in params.items()}
        if audience.partner is not None:
            used = [name for name in FILTER_PARAMS if params.get(name)]
            if used:
                raise Invalid(
                    {
                        name: ["Your figures are your organisation's: filters do not apply."]
                        for name in used
                    }
                )
        if audience.manager is not None:
            asked = params.get("channel_manager")
            if asked and asked != str(audience.manager):
                raise Invalid(
                    {
                        "channel_manager": [
                            "A channel manager reads the figures of their own partners."
                        ]
                    }
                )
        tenant = self.tenant
        form = ReportFilterForm(
            given, tenant=tenant, today=tenant.local_today(), membership=self.membership
        )
        if not form.is_valid():
            raise Invalid(
                {API_NAMES.get(name, name): list(errors) for name, errors in form.errors.items()}
            )
        filters = form.filters if audience.partner is None else NO_FILTERS
        if audience.manager is not None:
            filters = Filters(filters.region, filters.tier, filters.partner_type, audience.manager)
        return form, filters

    def representation(self, instance: Reading) -> Any:
        figure = instance.figure
        previous = instance.period.previous()
        return {
            **metric_data(instance.metric, self.tenant.base_currency),
            "period": _span(instance.period, figure.value),
            "period_label": instance.label,
            "previous": _span(previous, figure.previous),
            "series": [_span(part, value) for part, value in figure.series],
            "filters": {
                "region": _id(instance.filters.region),
                "tier": _id(instance.filters.tier),
                "partner_type": instance.filters.partner_type or None,
                "channel_manager": _id(instance.filters.channel_manager),
            },
            "partner": str(instance.partner) if instance.partner is not None else None,
        }


ROUTES = [Route("metrics", MetricViewSet, "metric")]

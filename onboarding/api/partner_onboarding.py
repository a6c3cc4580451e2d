"""A partner's onboarding in the REST API: the agreements it accepted
(``/api/v1/agreement-acceptances/``) and its onboarding plan with its
progress (``/api/v1/onboarding-plans/``).

A partner's people read their own organisation's (another partner's is
404), as the portal's agreements and plan pages show them; every staff
role reads all of them, as in the admin."""

from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins

from prm.api.routes import Route
from prm.api.views import TenantViewSet

from ..models import Acceptance, Plan, PlanStep
from ..representations import AcceptanceSerializer, PlanSerializer
from . import examples as ex

PORTAL_PERM = "portal.onboarding"


class AcceptanceFilter(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="partner_id")
    agreement = django_filters.UUIDFilter(field_name="version__agreement_id")
    version = django_filters.UUIDFilter(field_name="version_id")
    accepted_since = django_filters.IsoDateTimeFilter(field_name="accepted_at", lookup_expr="gte")
    accepted_before = django_filters.IsoDateTimeFilter(field_name="accepted_at", lookup_expr="lt")

    class Meta:
        model = Acceptance
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        summary="List agreement acceptances",
        examples=ex.examples("An acceptance", ex.ACCEPTANCE),
    ),
    retrieve=extend_schema(
        summary="Get an agreement acceptance", examples=ex.examples("An acceptance", ex.ACCEPTANCE)
    ),
)
class AcceptanceViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Which partner accepted which version of which agreement: who, when,
    from where, and the SHA-256 of the content they were shown."""

    resource = "onboarding"
    read_perms = ("onboarding.view_acceptance", PORTAL_PERM)
    serializer_class = AcceptanceSerializer
    filterset_class = AcceptanceFilter
    ordering_fields = ("accepted_at",)

    def base_queryset(self) -> QuerySet[Acceptance]:
        return Acceptance.objects.select_related("version__agreement", "user")


class PlanFilter(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="partner_id")
    status = django_filters.ChoiceFilter(choices=Plan.Status.choices)
    started_since = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = Plan
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        summary="List onboarding plans", examples=ex.examples("An onboarding plan", ex.PLAN)
    ),
    retrieve=extend_schema(
        summary="Get an onboarding plan", examples=ex.examples("An onboarding plan", ex.PLAN)
    ),
)
class PlanViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Partners' onboarding plans: their steps (due, done, by whom, how)
    and the progress the portal shows (required steps done, the next step,
    what is overdue, days to the target)."""

    resource = "onboarding"
    read_perms = ("onboarding.view_plan", PORTAL_PERM)
    serializer_class = PlanSerializer
    filterset_class = PlanFilter
    ordering_fields = ("started_at", "target_on")

    def base_queryset(self) -> QuerySet[Plan]:
        return Plan.objects.all().prefetch_related(
            Prefetch(
                "steps",
                queryset=PlanStep.objects.select_related("completed_by").order_by(
                    "position", "due_on"
                ),
            )
        )

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        tenant = getattr(getattr(self.request, "_request", None), "tenant", None)
        if tenant is not None:  # not while the schema is drawn
            context["today"] = tenant.local_today()
        return context


ROUTES = [
    Route("agreement-acceptances", AcceptanceViewSet, "agreement-acceptance"),
    Route("onboarding-plans", PlanViewSet, "onboarding-plan"),
]

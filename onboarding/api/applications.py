"""Partner applications in the REST API (``/api/v1/applications/``).

Every staff role reads them (as in the admin's queue); ops decide any
application and a channel manager the ones routed to them (403 otherwise),
through the vetting services the admin's forms call. Applications are made
by the public application page only."""

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from partners.models import Partner, Tier
from prm.api.fields import TenantRelated
from prm.api.routes import Route
from prm.api.views import TenantViewSet
from prm.tenancy.models import User

from .. import vetting
from ..assignment import active_channel_managers
from ..models import Application
from ..representations import ApplicationSerializer
from . import examples as ex


class ApplicationApproveSerializer(serializers.Serializer):
    """How an application is approved: the partner's tier (default: the
    joining tier of the onboarding settings) and channel manager (by email;
    default: the assignment rules', else the least busy one)."""

    tier = TenantRelated(Tier, required=False, allow_null=True)
    channel_manager = serializers.EmailField(required=False, allow_null=True)

    def validate_channel_manager(self, value: str | None) -> User | None:
        if not value:
            return None
        found = active_channel_managers().filter(email__iexact=value).first()
        if found is None:
            raise serializers.ValidationError(f"{value} is not an active channel manager here.")
        return found


class ApplicationRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Mailed to the applicant."
    )


class ApplicationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Application.Status.choices)
    partner_type = django_filters.ChoiceFilter(choices=Partner.Type.choices)
    country = django_filters.CharFilter(field_name="country", lookup_expr="iexact")
    company = django_filters.CharFilter(field_name="company_name", lookup_expr="icontains")
    assigned = django_filters.ChoiceFilter(
        choices=[("me", "Routed to me (ops: also to nobody)"), ("ops", "Routed to nobody (ops)")],
        method="filter_assigned",
    )
    overdue = django_filters.BooleanFilter(method="filter_overdue")
    created_since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    decided_since = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="gte")
    decided_before = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="lt")

    class Meta:
        model = Application
        fields: list[str] = []

    def filter_assigned(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        if value == "ops":
            return queryset.filter(reviewer__isnull=True)
        return queryset.filter(vetting.assigned_to(self.request._request.membership))

    def filter_overdue(self, queryset: QuerySet[Any], name: str, value: bool) -> QuerySet[Any]:
        late = vetting.overdue()
        return queryset.filter(late) if value else queryset.exclude(late)


@extend_schema_view(
    list=extend_schema(
        summary="List partner applications", examples=ex.examples("An application", ex.APPLICATION)
    ),
    retrieve=extend_schema(
        summary="Get a partner application",
        examples=ex.examples("An application", ex.APPLICATION),
    ),
    approve=extend_schema(
        summary="Approve an application",
        description=(
            "Creates the partner (status onboarding), its primary contact, the applicant's "
            "invitation as its partner admin, its channel manager and its onboarding plan, "
            "all or nothing. Only a submitted application is approved (409 otherwise)."
        ),
        request=ApplicationApproveSerializer,
        responses={200: ApplicationSerializer},
        examples=ex.examples("An approved application", ex.APPROVED, request=ex.APPROVE_REQUEST),
    ),
    reject=extend_schema(
        summary="Reject an application",
        description="The applicant is mailed the reason. A decided application answers 409.",
        request=ApplicationRejectSerializer,
        responses={200: ApplicationSerializer},
        examples=ex.examples("A rejected application", ex.REJECTED, request=ex.REJECT_REQUEST),
    ),
)
class ApplicationViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Applications to join the partner program."""

    resource = "applications"
    read_perms = ("onboarding.view_application",)
    write_perms = (vetting.DECIDE_PERM,)
    action_perms = {"approve": (vetting.DECIDE_PERM,), "reject": (vetting.DECIDE_PERM,)}
    owner_field = None  # staff only
    serializer_class = ApplicationSerializer
    filterset_class = ApplicationFilter
    ordering_fields = ("created_at", "due_at", "decided_at", "company_name")
    http_method_names = ["get", "post", "head", "options"]

    def base_queryset(self) -> QuerySet[Application]:
        return Application.objects.select_related("reviewer", "decided_by")

    def _decidable(self) -> Application:
        application = self.get_object()
        if not vetting.may_decide(self.membership, application):
            raise exceptions.PermissionDenied(
                "Only ops, or the channel manager it is assigned to, decide this application."
            )
        return application

    def _now(self, application: Application) -> Response:
        return self.object_response(self.base_queryset().get(pk=application.pk))

    @action(detail=True, methods=["post"])
    def approve(self, request: Request, id: str) -> Response:
        application = self._decidable()
        form = ApplicationApproveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        vetting.approve(
            application,
            by=self.membership,
            tier=form.validated_data.get("tier"),
            channel_manager=form.validated_data.get("channel_manager"),
        )
        return self._now(application)

    @action(detail=True, methods=["post"])
    def reject(self, request: Request, id: str) -> Response:
        application = self._decidable()
        form = ApplicationRejectSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        vetting.reject(application, by=self.membership, reason=form.validated_data["reason"])
        return self._now(application)


ROUTES = [Route("applications", ApplicationViewSet, "application")]

"""The vendor's own pipeline in the REST API (``/api/v1/direct-opportunities/``):
what a CRM sync keeps here so that partner registrations are checked
against it for channel conflict.

A CRM knows its opportunities by its own ids, so this resource does too:
``POST`` upserts by ``crm_id`` (created: 201, updated or unchanged: 200;
send an ``Idempotency-Key``), ``GET`` and ``DELETE`` take the CRM's id in the
path, and ``DELETE`` closes the opportunity the CRM no longer has (it stays
listed, stage "closed", for the history of conflicts found with it). A sync
upserts what the CRM lists, then lists the open ones here
(``?open=true``) and deletes those the CRM no longer lists. For ops (the
people who import the pipeline in the admin); readable by those who decide
registrations and executives. Writes go through ``dealreg.direct_sync``."""

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from prm.api.problems import Invalid
from prm.api.views import TenantViewSet

from .. import direct_sync
from ..models import DirectOpportunity
from ..serializers import DirectOpportunitySerializer
from . import examples as ex

Stage = DirectOpportunity.Stage
# The CSV import's column names as this resource names them.
API_NAMES = {"external_id": "crm_id", "products": "product_lines"}
CRM_ID = OpenApiParameter(
    "id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The opportunity's id in your CRM (its crm_id).",
)


def _cell(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, allow_null=True, **kwargs)


class DirectOpportunityUpsert(serializers.Serializer):
    """One opportunity as the CRM has it, the columns of the CSV import as
    JSON; every field is replaced (one left out is emptied), and checked as
    an imported row is."""

    crm_id = serializers.CharField(max_length=64, help_text="The opportunity's id in your CRM.")
    customer_name = serializers.CharField(max_length=200)
    customer_domain = _cell(max_length=253)
    customer_country = _cell(help_text="ISO code or English name.")
    product_lines = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Product line codes or names (/product-lines/).",
    )
    owner_name = _cell(max_length=200)
    owner_email = _cell(max_length=254)
    stage = _cell(
        help_text="prospecting, qualification, proposal, negotiation (open), closed_won, "
        "closed_lost or closed; CRM names such as 'Closed Won' are understood."
    )
    amount = _cell(help_text="A decimal string (40000.00); the program's currency by default.")
    currency = _cell(help_text="ISO 4217 (USD); the program's by default when an amount is given.")
    close_date = _cell(help_text="ISO date.")

    def cells(self) -> dict[str, str]:
        """The validated body as an imported row's cells."""
        data = dict(self.validated_data)
        data.pop("crm_id")
        cells = {name: str(value) for name, value in data.items() if value is not None}
        cells.pop("product_lines", None)
        cells["products"] = ";".join(data.get("product_lines") or [])
        return cells


class DirectOpportunityFilter(django_filters.FilterSet):
    stage = django_filters.MultipleChoiceFilter(choices=Stage.choices)
    open = django_filters.BooleanFilter(
        method="filter_open", help_text="true: the open stages only; false: the closed ones."
    )
    customer = django_filters.CharFilter(field_name="customer_name", lookup_expr="icontains")
    domain = django_filters.CharFilter(field_name="customer_domain", lookup_expr="iexact")
    imported_since = django_filters.IsoDateTimeFilter(field_name="imported_at", lookup_expr="gte")

    class Meta:
        model = DirectOpportunity
        fields: list[str] = []

    def filter_open(
        self, queryset: QuerySet[DirectOpportunity], name: str, value: bool | None
    ) -> QuerySet[DirectOpportunity]:
        if value is None:
            return queryset
        if value:
            return queryset.filter(stage__in=DirectOpportunity.OPEN_STAGES)
        return queryset.exclude(stage__in=DirectOpportunity.OPEN_STAGES)


CLOSED = {**ex.DIRECT, "stage": "closed", "is_open": False, "imported_at": "2026-12-02T08:00:00Z"}


@extend_schema_view(
    list=extend_schema(
        summary="List direct opportunities", examples=ex.examples("An opportunity", ex.DIRECT)
    ),
    retrieve=extend_schema(
        summary="Get a direct opportunity by its CRM id",
        parameters=[CRM_ID],
        examples=ex.examples("An opportunity", ex.DIRECT),
    ),
    create=extend_schema(
        summary="Create or update a direct opportunity (upsert by crm_id)",
        description=(
            "The opportunity with this crm_id is created (201) or replaced by what is sent "
            "(200; unchanged, nothing is written). Fields are the CSV import's columns and "
            "are checked the same way. Send an Idempotency-Key."
        ),
        request=DirectOpportunityUpsert,
        responses={200: DirectOpportunitySerializer, 201: DirectOpportunitySerializer},
        examples=ex.examples("An opportunity", ex.DIRECT, request=ex.DIRECT_UPSERT),
    ),
    destroy=extend_schema(
        summary="Close a direct opportunity the CRM no longer has",
        description=(
            "Moves an open opportunity to the stage 'closed': it no longer counts in conflict "
            "checks, and stays listed with the conflicts found with it. One already closed "
            "(won, lost or closed) is left as it is. Answers the opportunity (200)."
        ),
        parameters=[CRM_ID],
        request=None,
        responses={200: DirectOpportunitySerializer},
        examples=ex.examples("A closed opportunity", CLOSED),
    ),
)
class DirectOpportunityViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The vendor's own pipeline, kept by its CRM: what registrations are
    checked against for channel conflict. A sync upserts each open
    opportunity the CRM lists (POST, by crm_id, with an Idempotency-Key),
    then lists the open ones here (``?open=true``, every page) and DELETEs
    those the CRM no longer lists, which closes them. GET and DELETE take
    the CRM's id in the path."""

    resource = "direct_opportunities"
    read_perms = ("dealreg.view_directopportunity",)
    write_perms = ("dealreg.import_directopportunity",)
    owner_field = None
    serializer_class = DirectOpportunitySerializer
    filterset_class = DirectOpportunityFilter
    ordering_fields = ("customer_name", "imported_at")
    service_fields = API_NAMES
    lookup_field = "external_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = r"[^/]{1,64}"
    http_method_names = ["get", "post", "delete", "head", "options"]

    def base_queryset(self) -> QuerySet[DirectOpportunity]:
        return DirectOpportunity.objects.prefetch_related("product_lines")

    def get_queryset(self) -> QuerySet[DirectOpportunity]:
        return self.base_queryset()  # staff only: the permission table keeps partners out

    def _fresh(self, opportunity: DirectOpportunity) -> DirectOpportunity:
        return self.base_queryset().get(pk=opportunity.pk)

    def create(self, request: Request) -> Response:
        body = DirectOpportunityUpsert(data=request.data)
        body.is_valid(raise_exception=True)
        crm_id = body.validated_data["crm_id"]
        cells = body.cells()
        problems = direct_sync.check(self.tenant, crm_id, cells)
        if problems:
            errors: dict[str, list[str]] = {}
            for column, message in problems:
                errors.setdefault(API_NAMES.get(column, column), []).append(message)
            raise Invalid(errors)
        done = direct_sync.upsert(
            tenant=self.tenant, by=request.user, external_id=crm_id, cells=cells
        )
        code = status.HTTP_201_CREATED if done.created else status.HTTP_200_OK
        response = self.object_response(self._fresh(done.opportunity), code)
        response["Location"] = reverse("api:direct-opportunity-detail", kwargs={"id": crm_id})
        return response

    def destroy(self, request: Request, id: str) -> Response:
        closed = direct_sync.close(self.get_object(), by=request.user)
        return self.object_response(self._fresh(closed))

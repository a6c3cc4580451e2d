"""The partner directory in the REST API: partners, their contacts and the
program's tiers (``/api/v1/partners/``, ``/contacts/``, ``/tiers/``).

Staff read every partner (channel managers change only their own); a
partner's people read their own organisation only. Writes go through
``partners.services``, as the admin's do."""

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from prm.api.fields import TenantRelated
from prm.api.routes import Route
from prm.api.views import TenantViewSet
from prm.tenancy.models import Membership, User
from prm.tenancy.roles import Role

from . import services
from .models import Contact, Partner, Region, Tier, TierChange
from .serializers import PartnerSerializer, TierChangeSerializer, TierSerializer

TIER_EXAMPLE = {
    "id": "0190a1b2-0000-7000-8000-000000000001",
    "name": "Gold",
    "rank": 3,
    "benefits": "12 % on won deals; MDF up to 20,000 USD a year.",
}
PARTNER_EXAMPLE = {
    "id": "0190a1b2-0000-7000-8000-0000000000aa",
    "name": "Northwind Traders",
    "legal_name": "Northwind Traders Ltd",
    "website": "https://northwind.example",
    "domain": "northwind.example",
    "type": "reseller",
    "country": "GB",
    "region": {"id": "0190a1b2-0000-7000-8000-0000000000e1", "code": "emea", "name": "EMEA"},
    "tier": {"id": TIER_EXAMPLE["id"], "name": "Gold", "rank": 3},
    "status": "active",
    "channel_manager": {"name": "Casey Manager", "email": "cm@acme.example"},
    "phone": "+44 20 7946 0000",
    "address": "1 High Street, London",
    "created_at": "2026-03-02T09:15:00Z",
    "updated_at": "2026-11-20T16:40:12Z",
}
CONTACT_EXAMPLE = {
    "id": "0190a1b2-0000-7000-8000-0000000000c1",
    "partner": PARTNER_EXAMPLE["id"],
    "name": "Pat Buyer",
    "email": "pat@northwind.example",
    "phone": "",
    "title": "Head of sales",
    "is_primary": True,
}


class PartnerWriteSerializer(serializers.Serializer):
    """What a partner is created or changed from (ops; channel managers on
    their own partners). Tier and region by id; channel manager by email."""

    name = serializers.CharField(max_length=200)
    legal_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    website = serializers.URLField(required=False, allow_blank=True)
    type = serializers.ChoiceField(choices=Partner.Type.choices)
    country = serializers.CharField(max_length=2)
    region = TenantRelated(Region, required=False, allow_null=True)
    tier = TenantRelated(Tier)
    status = serializers.ChoiceField(choices=Partner.Status.choices, required=False)
    channel_manager = serializers.EmailField(required=False, allow_null=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    address = serializers.CharField(required=False, allow_blank=True)

    def validate_country(self, value: str) -> str:
        from django_countries import countries

        code = value.upper()
        if code not in dict(countries):
            raise serializers.ValidationError(f"“{value}” is not an ISO 3166 country code.")
        return code

    def validate_channel_manager(self, value: str | None) -> User | None:
        if not value:
            return None
        membership = (
            Membership.objects.select_related("user")
            .filter(role=Role.CHANNEL_MANAGER, is_active=True, user__email__iexact=value)
            .first()
        )
        if membership is None:
            raise serializers.ValidationError(f"{value} is not an active channel manager here.")
        return membership.user

    def service_data(self) -> dict[str, Any]:
        data = dict(self.validated_data)
        if "type" in data:
            data["partner_type"] = data.pop("type")
        return data


class PartnerFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Partner.Status.choices)
    type = django_filters.ChoiceFilter(field_name="partner_type", choices=Partner.Type.choices)
    tier = django_filters.UUIDFilter(field_name="tier_id")
    region = django_filters.CharFilter(field_name="region__code")
    country = django_filters.CharFilter(field_name="country", lookup_expr="iexact")
    name = django_filters.CharFilter(lookup_expr="icontains")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Partner
        fields: list[str] = []


def _examples(name: str, value: Any, *, request: Any = None) -> list[OpenApiExample]:
    found = [OpenApiExample(name, value=value, response_only=True)]
    if request is not None:
        found.append(OpenApiExample(f"{name} (request)", value=request, request_only=True))
    return found


PARTNER_WRITE_EXAMPLE = {
    "name": "Northwind Traders",
    "website": "https://northwind.example",
    "type": "reseller",
    "country": "GB",
    "tier": TIER_EXAMPLE["id"],
    "channel_manager": "cm@acme.example",
}


@extend_schema_view(
    list=extend_schema(summary="List partners", examples=_examples("A partner", PARTNER_EXAMPLE)),
    retrieve=extend_schema(
        summary="Get a partner", examples=_examples("A partner", PARTNER_EXAMPLE)
    ),
    create=extend_schema(
        summary="Create a partner",
        request=PartnerWriteSerializer,
        responses={201: PartnerSerializer},
        examples=_examples("A partner", PARTNER_EXAMPLE, request=PARTNER_WRITE_EXAMPLE),
    ),
    partial_update=extend_schema(
        summary="Change a partner",
        request=PartnerWriteSerializer,
        responses={200: PartnerSerializer},
        examples=_examples("A partner", PARTNER_EXAMPLE, request={"status": "active"}),
    ),
)
class PartnerViewSet(
    TenantViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
):
    """Partner organisations. A partner's own people see only their own."""

    resource = "partners"
    read_perms = ("partners.view_partner", "portal.partner_home")
    write_perms = ("partners.change_partner",)
    action_perms = {"create": ("partners.add_partner",)}
    owner_field = "id"
    serializer_class = PartnerSerializer
    filterset_class = PartnerFilter
    ordering_fields = ("name", "created_at", "updated_at")
    service_fields = {"partner_type": "type"}
    http_method_names = ["get", "post", "patch", "head", "options"]

    def base_queryset(self) -> QuerySet[Partner]:
        return Partner.objects.select_related("tier", "region", "channel_manager")

    def create(self, request: Request) -> Response:
        form = PartnerWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        partner = services.create_partner(
            tenant=self.tenant, by=request.user, data=form.service_data()
        )
        return self.object_response(self.base_queryset().get(pk=partner.pk), 201)

    def partial_update(self, request: Request, id: str) -> Response:
        partner = self.get_object()
        form = PartnerWriteSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        services.update_partner(partner, by=request.user, data=form.service_data())
        return self.object_response(self.base_queryset().get(pk=partner.pk))


class ContactSerializer(serializers.ModelSerializer):
    partner = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Contact
        fields = ["id", "partner", "name", "email", "phone", "title", "is_primary"]


@extend_schema_view(
    list=extend_schema(
        summary="List partner contacts", examples=_examples("A contact", CONTACT_EXAMPLE)
    ),
    retrieve=extend_schema(
        summary="Get a partner contact", examples=_examples("A contact", CONTACT_EXAMPLE)
    ),
)
class ContactViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The people at partner organisations the vendor talks to."""

    resource = "partners"
    read_perms = ("partners.view_contact", "portal.partner_home")
    serializer_class = ContactSerializer
    filterset_fields = {"partner": ["exact"], "email": ["iexact"], "is_primary": ["exact"]}
    ordering_fields = ("name",)

    def base_queryset(self) -> QuerySet[Contact]:
        return Contact.objects.all()


@extend_schema_view(
    list=extend_schema(
        summary="List the program's tiers", examples=_examples("A tier", TIER_EXAMPLE)
    ),
    retrieve=extend_schema(summary="Get a tier", examples=_examples("A tier", TIER_EXAMPLE)),
)
class TierViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The program's tiers, lowest rank first (public to every member)."""

    resource = "partners"
    read_perms = ("partners.view_tier", "portal.partner_home")
    owner_field = None
    serializer_class = TierSerializer
    ordering_fields = ("rank", "name")

    def base_queryset(self) -> QuerySet[Tier]:
        return Tier.objects.all()

    def get_queryset(self) -> QuerySet[Tier]:
        return self.base_queryset()  # every member may read the ladder


TIER_CHANGE_EXAMPLE = {
    "id": "0190a1b2-0000-7000-8000-0000000000f1",
    "partner": {"id": PARTNER_EXAMPLE["id"], "name": "Northwind Traders"},
    "tier": {"id": TIER_EXAMPLE["id"], "name": "Gold", "rank": 3},
    "previous": {"id": "0190a1b2-0000-7000-8000-000000000002", "name": "Silver", "rank": 2},
    "effective_on": "2026-10-01",
    "reason": "upgrade",
    "note": "Qualified for Gold: 648,771.89 USD won in the last 12 months.",
    "created_at": "2026-10-01T02:00:11Z",
}


class TierChangeFilter(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="partner_id")
    tier = django_filters.UUIDFilter(field_name="tier_id")
    reason = django_filters.ChoiceFilter(choices=TierChange.Reason.choices)
    effective_since = django_filters.DateFilter(field_name="effective_on", lookup_expr="gte")
    effective_before = django_filters.DateFilter(field_name="effective_on", lookup_expr="lt")

    class Meta:
        model = TierChange
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        summary="List tier changes", examples=_examples("A tier change", TIER_CHANGE_EXAMPLE)
    ),
    retrieve=extend_schema(
        summary="Get a tier change", examples=_examples("A tier change", TIER_CHANGE_EXAMPLE)
    ),
)
class TierChangeViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Partners' dated tier history (append-only), newest first. The
    ``partner.tier_changed`` webhook event carries one of these."""

    resource = "partners"
    read_perms = ("partners.view_tierchange", "portal.partner_home")
    serializer_class = TierChangeSerializer
    filterset_class = TierChangeFilter
    ordering_fields = ("effective_on", "created_at")

    def base_queryset(self) -> QuerySet[TierChange]:
        return TierChange.objects.select_related("partner", "tier", "previous")


ROUTES = [
    Route("partners", PartnerViewSet, "partner"),
    Route("contacts", ContactViewSet, "contact"),
    Route("tiers", TierViewSet, "tier"),
    Route("tier-changes", TierChangeViewSet, "tierchange"),
]

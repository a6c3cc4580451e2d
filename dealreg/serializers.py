"""Deal registration's API representations: what ``/api/v1/`` returns and
what its webhook events carry (``dealreg.events``).

A registration reads the same to staff and in a webhook's payload; a
partner's own people get it without the vendor's internals (who decides it,
the conflict state, whether the SLA was met), as the portal shows it: only
that a pending registration is under conflict review, never whose claim it
meets. The serializers work without a request (webhook payloads): pass
``context={"membership": ...}`` to get a member's view."""

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from partners.serializers import PartnerRef, PersonRef, RegionRef

from .models import Conflict, DealRegistration, DirectOpportunity, ProductLine, RegistrationEvent

Status = DealRegistration.Status
# Fields only the vendor's staff see.
STAFF_FIELDS = ("approver", "decided_by", "conflict_state", "sla_met")


class ProductLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProductLine
        fields = ["id", "code", "name", "description", "is_active"]


class ProductLineRef(serializers.ModelSerializer):
    class Meta:
        model = ProductLine
        fields = ["id", "code", "name"]


class InformationRequest(serializers.Serializer):
    message = serializers.CharField()
    requested_at = serializers.DateTimeField(source="created_at")


def with_related(queryset: QuerySet[DealRegistration]) -> QuerySet[DealRegistration]:
    """What ``RegistrationSerializer`` reads, in a constant number of queries."""
    return queryset.select_related(
        "partner", "submitted_by", "approver", "decided_by", "customer_region"
    ).prefetch_related(
        "product_lines",
        Prefetch(
            "events",
            queryset=RegistrationEvent.objects.filter(
                kind=RegistrationEvent.Kind.INFO_REQUESTED
            ).order_by("-created_at"),
            to_attr="information_requests",
        ),
    )


class RegistrationSerializer(serializers.ModelSerializer):
    partner = PartnerRef(read_only=True)
    submitted_by = PersonRef(read_only=True)
    customer_country = serializers.CharField(source="customer_country.code")
    customer_region = RegionRef(read_only=True, allow_null=True)
    product_lines = ProductLineRef(many=True, read_only=True)
    decision_due_at = serializers.SerializerMethodField(
        help_text="When the vendor's decision is due (null unless waiting for it, "
        "or while the clock is paused for an information request)."
    )
    in_conflict_review = serializers.SerializerMethodField(
        help_text="Pending and under review because another claim on the customer was found."
    )
    information_request = serializers.SerializerMethodField(
        help_text="What the vendor asked, while the registration waits for the partner's answer."
    )
    approver = PersonRef(read_only=True, allow_null=True, help_text="Staff only.")
    decided_by = PersonRef(read_only=True, allow_null=True, help_text="Staff only.")

    class Meta:
        model = DealRegistration
        fields = [
            "id",
            "code",
            "status",
            "partner",
            "submitted_by",
            "customer_name",
            "customer_domain",
            "customer_country",
            "customer_region",
            "customer_contact_name",
            "customer_contact_email",
            "customer_contact_phone",
            "product_lines",
            "estimated_value",
            "currency",
            "expected_close_date",
            "description",
            "custom_data",
            "submitted_at",
            "decision_due_at",
            "in_conflict_review",
            "information_request",
            "decided_at",
            "decision_reason",
            "protected_until",
            "extension_count",
            "won_amount",
            "won_currency",
            "won_close_date",
            "lost_reason",
            "reversal_reason",
            "outcome_recorded_at",
            "created_at",
            "updated_at",
            *STAFF_FIELDS,
        ]
        extra_kwargs = {
            "conflict_state": {"help_text": "Staff only."},
            "sla_met": {"help_text": "Staff only: decided within the SLA."},
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        membership = self.context.get("membership")
        if membership is not None and membership.is_partner_role:
            for name in STAFF_FIELDS:
                self.fields.pop(name, None)

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_decision_due_at(self, registration: DealRegistration) -> str | None:
        if registration.status != Status.SUBMITTED or registration.sla_due_at is None:
            return None
        return serializers.DateTimeField().to_representation(registration.sla_due_at)

    def get_in_conflict_review(self, registration: DealRegistration) -> bool:
        return (
            registration.conflict_state == DealRegistration.ConflictState.CONFLICT
            and registration.is_pending
        )

    @extend_schema_field(InformationRequest(allow_null=True))
    def get_information_request(self, registration: DealRegistration) -> dict[str, Any] | None:
        if registration.status != Status.MORE_INFO:
            return None
        found = getattr(registration, "information_requests", None)
        if found is None:
            found = registration.events.filter(kind=RegistrationEvent.Kind.INFO_REQUESTED).order_by(
                "-created_at"
            )[:1]
        latest = next(iter(found), None)
        return InformationRequest(latest).data if latest is not None else None


class RegistrationRef(serializers.ModelSerializer):
    partner = PartnerRef(read_only=True)

    class Meta:
        model = DealRegistration
        fields = ["id", "code", "status", "partner", "customer_name", "customer_domain"]


class DirectOpportunityRef(serializers.ModelSerializer):
    crm_id = serializers.CharField(source="external_id")

    class Meta:
        model = DirectOpportunity
        fields = ["id", "crm_id", "customer_name", "customer_domain", "stage"]


class ConflictSerializer(serializers.ModelSerializer):
    """A possible channel conflict found by a registration's check: the
    registration checked and what it met, another partner's registration
    or a direct opportunity. A check replaces the conflicts it stored
    before, so a conflict's id lasts until the next check of its
    registration."""

    registration = RegistrationRef(read_only=True)
    kind = serializers.SerializerMethodField(
        help_text="What the registration meets: a registration or a direct_opportunity."
    )
    other_registration = RegistrationRef(read_only=True, allow_null=True)
    direct_opportunity = DirectOpportunityRef(read_only=True, allow_null=True)

    class Meta:
        model = Conflict
        fields = [
            "id",
            "registration",
            "kind",
            "other_registration",
            "direct_opportunity",
            "score",
            "reasons",
            "other_filed_first",
            "found_at",
        ]

    def get_kind(self, conflict: Conflict) -> str:
        return "direct_opportunity" if conflict.direct_opportunity_id else "registration"


def conflicts_with_related(queryset: QuerySet[Conflict]) -> QuerySet[Conflict]:
    return queryset.select_related(
        "registration__partner", "other_registration__partner", "direct_opportunity"
    )


class DirectOpportunitySerializer(serializers.ModelSerializer):
    crm_id = serializers.CharField(source="external_id")
    customer_country = serializers.SerializerMethodField()
    product_lines = ProductLineRef(many=True, read_only=True)
    is_open = serializers.BooleanField(
        read_only=True, help_text="Open stages are what registrations are checked against."
    )
    imported_at = serializers.DateTimeField(
        read_only=True, help_text="When the CRM's data last changed here (created or updated)."
    )

    class Meta:
        model = DirectOpportunity
        fields = [
            "id",
            "crm_id",
            "customer_name",
            "customer_domain",
            "customer_country",
            "product_lines",
            "owner_name",
            "owner_email",
            "stage",
            "is_open",
            "amount",
            "currency",
            "close_date",
            "imported_at",
        ]

    def get_customer_country(self, opportunity: DirectOpportunity) -> str:
        return opportunity.customer_country.code or ""

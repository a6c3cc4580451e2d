"""The partner program in the REST API: a partner's tier progress
(``/api/v1/tier-progress/{partner id}/``) and compliance reviews
(``/api/v1/compliance-reviews/``).

Tier progress is what the portal's tier progress page shows, measured live
(``progress.build``: a handful of queries for one partner, so it is read
one partner at a time): a partner's people read their own organisation's
(another partner is 404), every staff role any partner's, as the staff
page's tier panel shows it (with a hold's reason).

Compliance reviews: a partner's people read their organisation's, staff
all of them; its partner admins submit one (``compliance.submit``); its
channel manager or ops sign it off or return it (``compliance.sign_off``,
``compliance.return_review``), as the portal and the admin do."""

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from partners.models import Partner
from prm.api.routes import Route
from prm.api.views import TenantViewSet

from . import compliance, progress
from .models import ComplianceReview
from .representations import (
    ComplianceReviewSerializer,
    TierProgressSerializer,
    tier_progress_data,
)

PARTNER_ID = "0190a1b2-0000-7000-8000-0000000000aa"
GOLD = {"id": "0190a1b2-0000-7000-8000-000000000003", "name": "Gold", "rank": 3}
SILVER = {"id": "0190a1b2-0000-7000-8000-000000000002", "name": "Silver", "rank": 2}
PLATINUM = {"id": "0190a1b2-0000-7000-8000-000000000004", "name": "Platinum", "rank": 4}
CRITERION = {
    "kind": "certified",
    "label": "People certified: Cloud Architect",
    "required": True,
    "met": False,
    "value": "2",
    "threshold": "3.00",
    "currency": None,
    "certification": "0190a1b2-0000-7000-8000-00000000ce01",
    "standing": "2 of 3 certified engineers (Cloud Architect)",
    "missing": "1 more certified engineer",
    "share": 66,
}
REVENUE = {
    "kind": "won_revenue",
    "label": "Won revenue, last 12 months",
    "required": True,
    "met": True,
    "value": "812400.00",
    "threshold": "500000.00",
    "currency": "USD",
    "certification": None,
    "standing": "812,400.00 USD of 500,000.00 USD won in the last 12 months",
    "missing": "",
    "share": 100,
}
TIER_PROGRESS = {
    "partner": PARTNER_ID,
    "day": "2026-11-20",
    "tier": GOLD,
    "criteria_published": True,
    "headline": "1 more certified engineer to Platinum",
    "qualifying_tier": GOLD,
    "last_evaluation": {"evaluated_on": "2026-11-01", "qualifying_tier": GOLD},
    "by_invitation": False,
    "hold": None,
    "grace": None,
    "upgrade_waits_until": None,
    "next": {
        "tier": PLATINUM,
        "qualifies": False,
        "summary": "1 more certified engineer to Platinum",
        "still_to_do": ["1 more certified engineer"],
        "counted_needed": 0,
        "counted_met": 0,
        "criteria": [REVENUE, CRITERION],
    },
    "keep": {
        "tier": GOLD,
        "qualifies": True,
        "summary": "Gold: all criteria met",
        "still_to_do": [],
        "counted_needed": 0,
        "counted_met": 0,
        "criteria": [{**REVENUE, "threshold": "250000.00"}],
    },
    "ladder": [
        {"tier": PLATINUM, "current": False, "by_invitation": False},
        {"tier": GOLD, "current": True, "by_invitation": False},
        {"tier": SILVER, "current": False, "by_invitation": False},
    ],
    "history": [
        {"effective_on": "2026-04-01", "tier": GOLD, "previous": SILVER, "reason": "upgrade"}
    ],
}
REVIEW = {
    "id": "0190a1b2-0000-7000-8000-0000000000c7",
    "partner": PARTNER_ID,
    "opens_on": "2026-10-01",
    "due_on": "2026-10-31",
    "status": "submitted",
    "created_at": "2026-10-01T02:00:00Z",
    "submitted_at": "2026-10-12T09:41:00Z",
    "submitted_by": {"name": "Pat Admin", "email": "pat@northwind.example"},
    "checks": [
        {
            "key": "agreements",
            "label": "Agreements current",
            "met": True,
            "detail": "Every agreement is accepted.",
        }
    ],
    "answers": [
        {
            "item": "0190a1b2-0000-7000-8000-0000000000c9",
            "label": "Anti-bribery policy in place",
            "attested_name": "Pat Admin",
            "file_name": "",
            "answered_by": {"name": "Pat Admin", "email": "pat@northwind.example"},
            "answered_at": "2026-10-12T09:40:00Z",
        }
    ],
    "tax_document": {
        "name": "w9-2026.pdf",
        "type": "application/pdf",
        "size": 48213,
        "sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
    },
    "returned_at": None,
    "signed_off_at": None,
    "signed_off_by": None,
    "note": "",
}


def _examples(name: str, value: Any, *, request: Any = None) -> list[OpenApiExample]:
    found = [OpenApiExample(name, value=value, response_only=True)]
    if request is not None:
        found.append(OpenApiExample(f"{name} (request)", value=request, request_only=True))
    return found


@extend_schema_view(
    retrieve=extend_schema(
        summary="Get a partner's tier progress",
        description=(
            "Give the partner's id. The tier held, where the partner stands against the next "
            "tier's criteria and its own tier's (today's figures), a hold, a grace period or "
            "an upgrade waiting for the review, the ladder and the latest tier changes."
        ),
        responses={200: TierProgressSerializer},
        examples=_examples("A partner's tier progress", TIER_PROGRESS),
    ),
)
class TierProgressViewSet(TenantViewSet, mixins.RetrieveModelMixin):
    """A partner's standing in the program's tiers, live."""

    resource = "tier_progress"
    read_perms = ("program.view_tierstanding", "portal.tiers")
    owner_field = "id"
    serializer_class = TierProgressSerializer
    http_method_names = ["get", "head", "options"]

    def base_queryset(self) -> QuerySet[Partner]:
        return Partner.objects.select_related("tier", "tenant")

    def representation(self, instance: Partner) -> Any:
        return tier_progress_data(progress.build(instance), staff=self.membership.is_staff_role)


class ComplianceReviewFilter(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="partner_id")
    status = django_filters.ChoiceFilter(choices=ComplianceReview.Status.choices)
    overdue = django_filters.BooleanFilter(method="filter_overdue")
    due_since = django_filters.DateFilter(field_name="due_on", lookup_expr="gte")
    due_before = django_filters.DateFilter(field_name="due_on", lookup_expr="lt")

    class Meta:
        model = ComplianceReview
        fields: list[str] = []

    def filter_overdue(self, queryset: QuerySet[Any], name: str, value: bool) -> QuerySet[Any]:
        late = compliance.overdue_q(self.request._request.tenant.local_today())
        return queryset.filter(late) if value else queryset.exclude(late)


class ComplianceSignOffSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ComplianceReturnSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="What the partner must change."
    )


@extend_schema_view(
    list=extend_schema(
        summary="List compliance reviews", examples=_examples("A compliance review", REVIEW)
    ),
    retrieve=extend_schema(
        summary="Get a compliance review", examples=_examples("A compliance review", REVIEW)
    ),
    submit=extend_schema(
        summary="Submit a compliance review for sign-off",
        description=(
            "A partner admin of its partner submits an open or returned review once every "
            "item is answered (409 with what is still to do otherwise). Submitting a review "
            "already submitted changes nothing."
        ),
        request=None,
        responses={200: ComplianceReviewSerializer},
        examples=_examples("A submitted review", REVIEW),
    ),
    sign_off=extend_schema(
        summary="Sign a compliance review off",
        request=ComplianceSignOffSerializer,
        responses={200: ComplianceReviewSerializer},
        examples=_examples(
            "A signed-off review",
            {**REVIEW, "status": "signed_off", "signed_off_at": "2026-10-14T08:00:00Z"},
            request={"note": "All in order."},
        ),
    ),
    return_review=extend_schema(
        summary="Return a compliance review to the partner",
        request=ComplianceReturnSerializer,
        responses={200: ComplianceReviewSerializer},
        examples=_examples(
            "A returned review",
            {**REVIEW, "status": "returned", "note": "Upload this year's W-9."},
            request={"reason": "Upload this year's W-9."},
        ),
    ),
)
class ComplianceReviewViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Partners' periodic compliance reviews."""

    resource = "compliance"
    read_perms = ("program.view_compliancereview", compliance.PORTAL_PERM)
    write_perms = (compliance.COMPLETE_PERM, compliance.DECIDE_PERM)
    action_perms = {
        "submit": (compliance.COMPLETE_PERM,),
        "sign_off": (compliance.DECIDE_PERM,),
        "return_review": (compliance.DECIDE_PERM,),
    }
    serializer_class = ComplianceReviewSerializer
    filterset_class = ComplianceReviewFilter
    ordering_fields = ("opens_on", "due_on")
    http_method_names = ["get", "post", "head", "options"]

    def base_queryset(self) -> QuerySet[ComplianceReview]:
        return ComplianceReview.objects.select_related(
            "partner", "submitted_by", "signed_off_by"
        ).prefetch_related("answers__answered_by")

    def _now(self, review: ComplianceReview) -> Response:
        return self.object_response(self.base_queryset().get(pk=review.pk))

    @action(detail=True, methods=["post"])
    def submit(self, request: Request, id: str) -> Response:
        review = self.get_object()
        compliance.submit(review, by=self.membership)
        return self._now(review)

    @action(detail=True, methods=["post"], url_path="sign-off", url_name="sign_off")
    def sign_off(self, request: Request, id: str) -> Response:
        review = self.get_object()
        form = ComplianceSignOffSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        compliance.sign_off(review, by=self.membership, note=form.validated_data["note"])
        return self._now(review)

    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_review(self, request: Request, id: str) -> Response:
        review = self.get_object()
        form = ComplianceReturnSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        compliance.return_review(review, by=self.membership, reason=form.validated_data["reason"])
        return self._now(review)


ROUTES = [
    Route("tier-progress", TierProgressViewSet, "tier-progress"),
    Route("compliance-reviews", ComplianceReviewViewSet, "compliance-review"),
]

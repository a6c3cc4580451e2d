"""Incentives in the REST API: ledger entries and statements (read),
payout runs and their lines (read, finance and executives), and disputes
(read; partner admins open them and write in their threads, finance
answers).

A partner's people see their own organisation's entries and statements
where the portal shows them (``portal_access``: partner admins, partner
users where the program lets them; otherwise the rows are not there, as
for any object they may not see). Writes go through ``disputes``, the
services the portal and the admin call."""

from datetime import date
from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from prm.api.routes import Route
from prm.api.views import TenantViewSet

from . import api_examples as ex
from . import disputes, periods, statements
from .disputes import MAX_TEXT
from .ledger import IncentiveError
from .models import Dispute, LedgerEntry, PayoutLine, PayoutRun, Statement
from .portal_access import PERM, READ_PERM, may_read_statements
from .serializers import (
    DisputeSerializer,
    LedgerEntrySerializer,
    OwnRelated,
    PayoutLineSerializer,
    PayoutRunSerializer,
    StatementSerializer,
    dispute_rows,
    ledger_rows,
    payout_run_rows,
)


class Represented(TenantViewSet):
    """A resource whose representation knows who reads it: a partner
    member's view leaves out staff-only fields (``partner_view``), and
    related objects given by id are the member's partner's
    (``partner_id``)."""

    def viewer(self) -> Any:
        return getattr(self.request._request, "membership", None)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        membership = self.viewer()
        if membership is not None and membership.is_partner_role:
            context["partner_view"] = True
            context["partner_id"] = membership.partner_id
        return context


class StatementReaders(Represented):
    """Rows a partner member sees only where the portal shows statements."""

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        membership = self.viewer()
        if (
            membership is not None
            and membership.is_partner_role
            and not may_read_statements(membership)
        ):
            return queryset.none()
        return queryset


# --- Ledger entries ----------------------------------------------------------------------


class LedgerEntryFilter(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="partner_id")
    kind = django_filters.ChoiceFilter(choices=LedgerEntry.Kind.choices)
    source = django_filters.ChoiceFilter(choices=LedgerEntry.Source.choices)
    plan = django_filters.UUIDFilter(field_name="plan_version__plan_id")
    plan_version = django_filters.UUIDFilter(field_name="plan_version_id")
    registration = django_filters.UUIDFilter(field_name="registration_id")
    payout_run = django_filters.UUIDFilter(
        method="paid_by_run", label="Entries a payout run wrote or settled."
    )
    statement = django_filters.UUIDFilter(
        method="of_statement", label="The lines of an issued statement."
    )
    period = django_filters.CharFilter(
        method="in_period",
        label="Entries booked in a statement period: its first day (2026-10-01) or month "
        "(2026-10).",
    )
    effective_since = django_filters.DateFilter(field_name="effective_date", lookup_expr="gte")
    effective_before = django_filters.DateFilter(field_name="effective_date", lookup_expr="lt")
    created_since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = LedgerEntry
        fields: list[str] = []

    def paid_by_run(self, queryset: QuerySet[LedgerEntry], name: str, value: Any) -> Any:
        return queryset.filter(Q(payout_run_id=value) | Q(settlement__run_id=value))

    def of_statement(self, queryset: QuerySet[LedgerEntry], name: str, value: Any) -> Any:
        found = Statement.objects.filter(pk=value).first()
        if found is None:
            return queryset.none()
        return queryset.filter(
            partner_id=found.partner_id,
            statement_start__in=statements.booking_starts(found.period_start, found.period_end),
        )

    def in_period(self, queryset: QuerySet[LedgerEntry], name: str, value: str) -> Any:
        tenant = self.request._request.tenant
        period = statements.statement_period(tenant)
        try:
            start: date = statements.parse_period(tenant, value, period=period)
        except IncentiveError as exc:
            raise serializers.ValidationError({"period": [exc.message]}) from exc
        end = periods.period_end(start, period)
        return queryset.filter(statement_start__in=statements.booking_starts(start, end))


@extend_schema_view(
    list=extend_schema(
        summary="List ledger entries", examples=ex.examples("An entry", ex.LEDGER_ENTRY)
    ),
    retrieve=extend_schema(
        summary="Get a ledger entry", examples=ex.examples("An entry", ex.LEDGER_ENTRY)
    ),
)
class LedgerEntryViewSet(StatementReaders, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The incentive ledger: every accrual, adjustment, clawback, MDF
    reimbursement and payout, newest first. A partner's people see their
    own organisation's entries (its statement lines)."""

    resource = "ledger"
    read_perms = ("incentives.view_ledgerentry", PERM, READ_PERM)
    serializer_class = LedgerEntrySerializer
    filterset_class = LedgerEntryFilter
    ordering_fields = ("created_at", "effective_date", "available_on", "amount_base")

    def base_queryset(self) -> QuerySet[LedgerEntry]:
        return ledger_rows()


# --- Statements ----------------------------------------------------------------------------


class StatementFilter(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="partner_id")
    period_start = django_filters.DateFilter()
    period_since = django_filters.DateFilter(field_name="period_start", lookup_expr="gte")
    period_before = django_filters.DateFilter(field_name="period_start", lookup_expr="lt")
    issued_since = django_filters.IsoDateTimeFilter(field_name="issued_at", lookup_expr="gte")

    class Meta:
        model = Statement
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        summary="List issued statements", examples=ex.examples("A statement", ex.STATEMENT)
    ),
    retrieve=extend_schema(
        summary="Get a statement", examples=ex.examples("A statement", ex.STATEMENT)
    ),
)
class StatementViewSet(StatementReaders, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Partners' statements, issued once a period has ended (the period in
    progress is its ledger entries: ``ledger-entries?period=``)."""

    resource = "ledger"
    read_perms = ("incentives.view_statement", PERM, READ_PERM)
    serializer_class = StatementSerializer
    filterset_class = StatementFilter
    ordering_fields = ("period_start", "issued_at", "closing")

    def base_queryset(self) -> QuerySet[Statement]:
        return Statement.objects.select_related("partner", "tenant")


# --- Payout runs ---------------------------------------------------------------------------


class PayoutRunFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PayoutRun.Status.choices)
    cutoff_since = django_filters.DateFilter(field_name="cutoff", lookup_expr="gte")
    cutoff_before = django_filters.DateFilter(field_name="cutoff", lookup_expr="lt")
    created_since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = PayoutRun
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(summary="List payout runs", examples=ex.examples("A run", ex.PAYOUT_RUN)),
    retrieve=extend_schema(
        summary="Get a payout run", examples=ex.examples("A run", ex.PAYOUT_RUN)
    ),
)
class PayoutRunViewSet(Represented, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Payout runs, as finance runs them in the admin (finance and
    executives read them)."""

    resource = "payout_runs"
    read_perms = ("incentives.view_payoutrun",)
    owner_field = None
    serializer_class = PayoutRunSerializer
    filterset_class = PayoutRunFilter
    ordering_fields = ("created_at", "cutoff")

    def base_queryset(self) -> QuerySet[PayoutRun]:
        return payout_run_rows()


class PayoutLineFilter(django_filters.FilterSet):
    run = django_filters.UUIDFilter(field_name="run_id")
    partner = django_filters.UUIDFilter(field_name="partner_id")
    status = django_filters.ChoiceFilter(choices=PayoutLine.Status.choices)

    class Meta:
        model = PayoutLine
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        summary="List payout run lines", examples=ex.examples("A line", ex.PAYOUT_LINE)
    ),
    retrieve=extend_schema(
        summary="Get a payout run line", examples=ex.examples("A line", ex.PAYOUT_LINE)
    ),
)
class PayoutLineViewSet(Represented, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Each partner's part of the payout runs (``?run=`` for one run's)."""

    resource = "payout_runs"
    read_perms = ("incentives.view_payoutrun",)
    owner_field = None
    serializer_class = PayoutLineSerializer
    filterset_class = PayoutLineFilter
    ordering_fields = ("payable",)

    def base_queryset(self) -> QuerySet[PayoutLine]:
        return PayoutLine.objects.select_related("run", "partner")


# --- Disputes ------------------------------------------------------------------------------


class DisputeFilter(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="partner_id")
    status = django_filters.ChoiceFilter(choices=Dispute.Status.choices)
    entry = django_filters.UUIDFilter(field_name="entry_id")
    created_since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Dispute
        fields: list[str] = []


class DisputeOpenSerializer(serializers.Serializer):
    """A dispute of one of the organisation's ledger entries, with what is
    wrong with it (for finance)."""

    entry = OwnRelated(LedgerEntry)
    message = serializers.CharField(allow_blank=True, max_length=MAX_TEXT * 2)


class DisputeReplySerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, max_length=MAX_TEXT * 2)


@extend_schema_view(
    list=extend_schema(summary="List disputes", examples=ex.examples("A dispute", ex.DISPUTE)),
    retrieve=extend_schema(summary="Get a dispute", examples=ex.examples("A dispute", ex.DISPUTE)),
    create=extend_schema(
        summary="Dispute a ledger entry",
        request=DisputeOpenSerializer,
        responses={201: DisputeSerializer},
        examples=ex.examples("A dispute", ex.DISPUTE, request=ex.DISPUTE_REQUEST),
    ),
    reply=extend_schema(
        summary="Write in a dispute's thread",
        request=DisputeReplySerializer,
        responses={200: DisputeSerializer},
        examples=ex.examples("A dispute", ex.DISPUTE, request=ex.REPLY_REQUEST),
    ),
)
class DisputeViewSet(Represented, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Statement lines partners question. Partner admins open disputes on
    their organisation's entries and write in them; finance answers (and
    closes them in the admin, with an adjustment or a reason)."""

    resource = "disputes"
    read_perms = (PERM, "incentives.view_dispute")
    action_perms = {"create": (PERM,), "reply": (PERM, "incentives.change_dispute")}
    serializer_class = DisputeSerializer
    filterset_class = DisputeFilter
    ordering_fields = ("created_at",)
    http_method_names = ["get", "post", "head", "options"]

    def base_queryset(self) -> QuerySet[Dispute]:
        return dispute_rows()

    def create(self, request: Request) -> Response:
        form = DisputeOpenSerializer(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        dispute = disputes.open_dispute(
            form.validated_data["entry"], by=self.viewer(), message=form.validated_data["message"]
        )
        return self.object_response(self.base_queryset().get(pk=dispute.pk), 201)

    @action(detail=True, methods=["post"])
    def reply(self, request: Request, id: str) -> Response:
        dispute = self.get_object()
        form = DisputeReplySerializer(data=request.data)
        form.is_valid(raise_exception=True)
        disputes.add_message(dispute, by=self.viewer(), body=form.validated_data["body"])
        return self.object_response(self.base_queryset().get(pk=dispute.pk))


ROUTES = [
    Route("ledger-entries", LedgerEntryViewSet, "ledger-entry"),
    Route("statements", StatementViewSet, "statement"),
    Route("payout-runs", PayoutRunViewSet, "payout-run"),
    Route("payout-lines", PayoutLineViewSet, "payout-line"),
    Route("disputes", DisputeViewSet, "dispute"),
]

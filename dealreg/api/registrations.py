"""Deal registrations in the REST API (``/api/v1/registrations/``) and the
product lines they name (``/api/v1/product-lines/``).

A partner's people do what the portal lets them: list and read their
organisation's registrations (drafts included), register a deal (submitted
at once, or kept as a draft), change, submit or delete a draft, answer an
information request, withdraw, and record the outcome. Staff read every
submitted registration, as the admin lists them; those who may decide one
(ops, and channel managers on the registrations routed to them or of their
partners) approve, reject, ask for information and record outcomes, and
read the conflicts its check found. Every write calls the service the page
calls; a refusal by the registration's state is a 409."""

from typing import Any

import django_filters
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from prm.api.problems import Conflict as ConflictProblem
from prm.api.views import TenantViewSet
from prm.tenancy import registry

from .. import duplicates, extensions, services
from ..conflicts import conflicts_of
from ..models import Conflict, DealRegistration, ProductLine
from ..serializers import (
    ConflictSerializer,
    ProductLineSerializer,
    RegistrationSerializer,
    conflicts_with_related,
    with_related,
)
from ..submission import REGISTER
from . import examples as ex
from .inputs import (
    Answer,
    Approve,
    CreateRegistration,
    Outcome,
    Reason,
    RegistrationFields,
    Reject,
    RequestInformation,
    extension_values,
    registration_input,
)

Status = DealRegistration.Status
PARTNER = ("portal.dealreg",)
DECIDE = ("dealreg.decide_dealregistration",)
# Actions whose object check is the service's own rule (``can_decide``:
# the approver the registration was routed to may decide it too).
DECISIONS = ("approve", "reject", "request_information")


class RegistrationFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    partner = django_filters.UUIDFilter(field_name="partner_id")
    code = django_filters.CharFilter(field_name="code", lookup_expr="iexact")
    customer = django_filters.CharFilter(
        method="search_customer", help_text="Part of the customer's name or domain."
    )
    domain = django_filters.CharFilter(field_name="customer_domain", lookup_expr="iexact")
    submitted_since = django_filters.IsoDateTimeFilter(field_name="submitted_at", lookup_expr="gte")
    submitted_before = django_filters.IsoDateTimeFilter(field_name="submitted_at", lookup_expr="lt")
    decided_since = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="gte")
    decided_before = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="lt")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="lt")

    class Meta:
        model = DealRegistration
        fields: list[str] = []

    def search_customer(
        self, queryset: QuerySet[DealRegistration], name: str, value: str
    ) -> QuerySet[DealRegistration]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(customer_name__icontains=value) | Q(customer_domain__icontains=value)
        )


class DeletedRegistration(serializers.Serializer):
    id = serializers.UUIDField()
    code = serializers.CharField()
    deleted = serializers.BooleanField()


def _schema(summary: str, example: Any, sent: Any = None, **kwargs: Any) -> Any:
    """``extend_schema`` with the answer's example (and the request's, ``sent``)."""
    return extend_schema(
        summary=summary, examples=ex.examples(summary, example, request=sent), **kwargs
    )


def _action_schema(summary: str, body: Any, example: Any, sent: Any, **kwargs: Any) -> Any:
    return _schema(
        summary, example, sent, request=body, responses={200: RegistrationSerializer}, **kwargs
    )


@extend_schema_view(
    list=_schema("List deal registrations", ex.REGISTRATION),
    retrieve=_schema("Get a deal registration", ex.REGISTRATION),
    create=_schema(
        "Register a deal",
        ex.REGISTRATION,
        ex.CREATE,
        request=CreateRegistration,
        responses={201: RegistrationSerializer},
        description=(
            "As the portal's form: submitted for a decision at once (`submit: false` keeps a "
            "draft). Refused with 403 while the partner may not register deals (e.g. an "
            "overdue compliance review), and with 409 `possible_duplicate` when you already "
            "have an open registration of this customer that `duplicates_acknowledged` does "
            "not name. Fields other apps add to the form (`mdf_source`: the id of one of your "
            "funded marketing activities) are taken by their names. Send an Idempotency-Key."
        ),
    ),
    partial_update=_schema(
        "Change a draft",
        {**ex.REGISTRATION, "status": "draft", "submitted_at": None},
        {"estimated_value": "27500.00"},
        request=RegistrationFields,
        responses={200: RegistrationSerializer},
    ),
    destroy=extend_schema(
        summary="Delete a draft",
        description="A draft only (a submitted one is withdrawn). Answers what was deleted.",
        responses={200: DeletedRegistration},
        examples=ex.examples(
            "Deleted", {"id": ex.REGISTRATION["id"], "code": "DR-7KQ2M9XA", "deleted": True}
        ),
    ),
)
class RegistrationViewSet(
    TenantViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
):
    """Deal registrations. A partner's people read and register their own
    organisation's (drafts included); staff read every submitted one, and
    those who may decide one approve, reject or ask for information. Ids are
    UUIDs; ``code`` is the number people quote (DR-7KQ2M9XA)."""

    resource = "registrations"
    read_perms = ("dealreg.view_dealregistration", *PARTNER)
    write_perms = PARTNER
    action_perms = {
        "submit": PARTNER,
        "answer": PARTNER,
        "withdraw": PARTNER,
        "outcome": (*PARTNER, *DECIDE),
        "approve": DECIDE,
        "reject": DECIDE,
        "request_information": DECIDE,
        "conflicts": ("dealreg.view_dealregistration",),
    }
    read_actions = ("conflicts",)
    serializer_class = RegistrationSerializer
    filterset_class = RegistrationFilter
    ordering_fields = (
        "created_at",
        "updated_at",
        "estimated_value",
        "expected_close_date",
        "customer_name",
    )
    service_fields: dict[str, str] = {}
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def base_queryset(self) -> QuerySet[DealRegistration]:
        registrations = with_related(DealRegistration.objects.all())
        if not self.membership.is_partner_role:
            # As the admin lists them: a draft is the partner's own until
            # it is submitted.
            registrations = registrations.exclude(status=Status.DRAFT).exclude(
                status=Status.WITHDRAWN, submitted_at__isnull=True
            )
        return registrations

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "membership": self.membership}

    def check_object_permissions(self, request: Request, obj: Any) -> None:
        if self.action in DECISIONS:
            if not services.can_decide(self.membership, obj):
                raise exceptions.PermissionDenied("You may not decide this registration.")
            return
        if self.action == "outcome" and not self.membership.is_partner_role:
            if not services.can_decide(self.membership, obj):
                raise exceptions.PermissionDenied("You may not decide this registration.")
            return
        super().check_object_permissions(request, obj)

    def handle_exception(self, exc: Exception) -> Response:
        # The program's own questions are answered in custom_data.
        if isinstance(exc, services.DealRegError) and (exc.field or "").startswith("cf_"):
            exc = services.DealRegError(exc.message, f"custom_data.{exc.field[3:]}")  # type: ignore[index]
        return super().handle_exception(exc)

    def _fresh(self, registration: DealRegistration) -> DealRegistration:
        return self.base_queryset().get(pk=registration.pk)

    def _refuse_if_on_hold(self) -> None:
        """While another app's restriction refuses the partner new
        registrations (the portal's form answers 403 too)."""
        refused = registry.refusal(REGISTER, self.membership.partner)
        if refused is not None:
            raise exceptions.PermissionDenied(refused.message, code="registrations_on_hold")

    # --- A partner's registrations ---------------------------------------------

    def create(self, request: Request) -> Response:
        self._refuse_if_on_hold()
        body = CreateRegistration(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        submitting = data.pop("submit")
        acknowledged = set(data.pop("duplicates_acknowledged"))
        added, values = extension_values(self.membership, None, request.data)
        given = registration_input(data, default_currency=self.tenant.base_currency)
        if submitting:
            self._refuse_duplicates(given, acknowledged)
        operation = services.submit if submitting else services.save_draft
        with transaction.atomic():
            saved = operation(tenant=self.tenant, by=self.membership, given=given)
            extensions.save(added, saved, values)
        response = self.object_response(self._fresh(saved), status.HTTP_201_CREATED)
        response["Location"] = reverse("api:registration-detail", kwargs={"id": saved.pk})
        return response

    def _refuse_duplicates(self, given: services.RegistrationInput, acknowledged: set[str]) -> None:
        found = duplicates.own_duplicates(
            self.membership.partner_id,
            given.data.get("customer_name", ""),
            given.data.get("customer_domain", ""),
        )
        unnamed = [r for r in found if r.code not in acknowledged]
        if unnamed:
            warnings = " ".join(duplicates.warning(r) for r in unnamed)
            codes = ", ".join(f'"{r.code}"' for r in unnamed)
            raise ConflictProblem(
                f"{warnings} To register it again, send duplicates_acknowledged: [{codes}].",
                code="possible_duplicate",
            )

    def partial_update(self, request: Request, id: str) -> Response:
        registration = self.get_object()
        body = RegistrationFields(
            data=request.data, partial=True, context=self.get_serializer_context()
        )
        body.is_valid(raise_exception=True)
        added, values = extension_values(self.membership, registration, request.data)
        given = registration_input(dict(body.validated_data), base=registration)
        with transaction.atomic():
            saved = services.save_draft(
                tenant=self.tenant, by=self.membership, given=given, registration=registration
            )
            extensions.save(added, saved, values)
        return self.object_response(self._fresh(saved))

    def destroy(self, request: Request, id: str) -> Response:
        registration = self.get_object()
        code = services.delete_draft(registration, by=self.membership)
        return Response(
            DeletedRegistration({"id": registration.pk, "code": code, "deleted": True}).data
        )

    @_action_schema("Submit a draft", None, ex.REGISTRATION, None)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, id: str) -> Response:
        registration = self.get_object()
        self._refuse_if_on_hold()
        services.submit(tenant=self.tenant, by=self.membership, registration=registration)
        return self.object_response(self._fresh(registration))

    @_action_schema(
        "Answer an information request",
        Answer,
        ex.REGISTRATION,
        {"message": "All three offices.", "details": {"estimated_value": "31000.00"}},
        description="Sends the registration back to the vendor; the SLA clock runs again.",
    )
    @action(detail=True, methods=["post"])
    def answer(self, request: Request, id: str) -> Response:
        registration = self.get_object()
        body = Answer(data=request.data, partial=True, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        details = body.validated_data.get("details")
        services.provide_info(
            registration,
            by=self.membership,
            message=body.validated_data.get("message", ""),
            given=registration_input(details, base=registration) if details else None,
        )
        return self.object_response(self._fresh(registration))

    @_action_schema(
        "Withdraw a registration",
        Reason,
        {**ex.REGISTRATION, "status": "withdrawn"},
        {"reason": "The customer chose another supplier."},
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, id: str) -> Response:
        registration = self.get_object()
        body = Reason(data=request.data)
        body.is_valid(raise_exception=True)
        services.withdraw(registration, by=self.membership, reason=body.validated_data["reason"])
        return self.object_response(self._fresh(registration))

    @_action_schema(
        "Record the outcome",
        Outcome,
        ex.WON,
        {"outcome": "won", "amount": "23800.00", "close_date": "2027-02-27"},
        description="Won (amount in the registration's currency, close date) or lost "
        "(reason), by the partner or a person who may decide it.",
    )
    @action(detail=True, methods=["post"])
    def outcome(self, request: Request, id: str) -> Response:
        registration = self.get_object()
        body = Outcome(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        won = data["outcome"] == "won"
        services.record_outcome(
            registration,
            by=self.membership,
            won=won,
            amount=data.get("amount") if won else None,
            close_date=data.get("close_date") if won else None,
            reason="" if won else data["reason"],
        )
        return self.object_response(self._fresh(registration))

    # --- Decisions (staff) ---------------------------------------------------

    @_action_schema(
        "Approve a registration",
        Approve,
        ex.APPROVED,
        {"reason": "Welcome deal, go ahead."},
        description="Grants protection. A conflict with an approved registration needs "
        "override_reason (422 on it otherwise).",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, id: str) -> Response:
        registration = self.get_object()
        body = Approve(data=request.data)
        body.is_valid(raise_exception=True)
        services.approve(registration, by=self.membership, **body.validated_data)
        return self.object_response(self._fresh(registration))

    @_action_schema(
        "Reject a registration",
        Reject,
        {**ex.REGISTRATION, "status": "rejected", "decision_reason": "Existing direct deal."},
        {"reason": "Existing direct deal."},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, id: str) -> Response:
        registration = self.get_object()
        body = Reject(data=request.data)
        body.is_valid(raise_exception=True)
        services.reject(registration, by=self.membership, reason=body.validated_data["reason"])
        return self.object_response(self._fresh(registration))

    @_action_schema(
        "Ask the partner for more information",
        RequestInformation,
        ex.MORE_INFO,
        {"message": "Which offices are in scope?"},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="request-information",
        url_name="request_information",  # one word after the basename: the URL matrix splits there
    )
    def request_information(self, request: Request, id: str) -> Response:
        registration = self.get_object()
        body = RequestInformation(data=request.data)
        body.is_valid(raise_exception=True)
        services.request_info(
            registration, by=self.membership, message=body.validated_data["message"]
        )
        return self.object_response(self._fresh(registration))

    @extend_schema(
        summary="Conflicts found for a registration",
        description="Staff only: other partners' registrations and direct opportunities "
        "that claim the same customer, both sides of each pair once, oldest claim first.",
        responses={200: ConflictSerializer(many=True)},
        examples=ex.examples("A conflict", ex.CONFLICT),
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def conflicts(self, request: Request, id: str) -> Response:
        rows = conflicts_of(self.get_object())
        ids = [row["conflict"].pk for row in rows]
        found = {c.pk: c for c in conflicts_with_related(Conflict.objects.filter(pk__in=ids))}
        return Response([ConflictSerializer(found[pk]).data for pk in ids])


class ProductLineFilter(django_filters.FilterSet):
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = ProductLine
        fields: list[str] = []


@extend_schema_view(
    list=_schema("List product lines", ex.PRODUCT_LINE_FULL),
    retrieve=_schema("Get a product line", ex.PRODUCT_LINE_FULL),
)
class ProductLineViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """What a registration is for. Partners see the lines still offered."""

    resource = "registrations"
    read_perms = ("dealreg.view_productline", *PARTNER)
    owner_field = None
    serializer_class = ProductLineSerializer
    filterset_class = ProductLineFilter
    ordering_fields = ("name", "code")

    def base_queryset(self) -> QuerySet[ProductLine]:
        return ProductLine.objects.all()

    def get_queryset(self) -> QuerySet[ProductLine]:
        lines = self.base_queryset()
        if self.membership.is_partner_role:
            lines = lines.filter(is_active=True)
        return lines

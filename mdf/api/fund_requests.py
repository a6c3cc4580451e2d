"""Fund requests in the REST API (``/api/v1/mdf-requests/``).

A partner's people propose activities (drafts, changed until submitted,
answered when the reviewer asks) and cancel them, as in the portal; the
partner's channel manager or ops decide them (ops or finance give the
second approval of a large one), as in the admin. Every write is the
service the pages call (``mdf.requests``); staff never see a draft."""

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from incentives.api import Represented
from incentives.api_examples import examples
from prm.api.problems import Conflict

from .. import requests as services
from ..models import ActivityType, FundRequest
from ..serializers import FundRequestSerializer, request_rows
from . import examples as ex
from .inputs import (
    ApproveRequestInput,
    CancelInput,
    MessageInput,
    RejectInput,
    RequestInput,
    as_lines,
)

PORTAL = "portal.mdf"
Status = FundRequest.Status


class FundRequestFilter(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="partner_id")
    status = django_filters.ChoiceFilter(choices=Status.choices)
    fund = django_filters.UUIDFilter(field_name="fund_type_id")
    allocation = django_filters.UUIDFilter(field_name="allocation_id")
    activity_type = django_filters.ChoiceFilter(choices=ActivityType.choices)
    starts_since = django_filters.DateFilter(field_name="starts_on", lookup_expr="gte")
    starts_before = django_filters.DateFilter(field_name="starts_on", lookup_expr="lt")
    submitted_since = django_filters.IsoDateTimeFilter(field_name="submitted_at", lookup_expr="gte")
    submitted_before = django_filters.IsoDateTimeFilter(field_name="submitted_at", lookup_expr="lt")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = FundRequest
        fields: list[str] = []


def _request_examples(request: Any = None) -> Any:
    return examples("A fund request", ex.FUND_REQUEST, request=request)


@extend_schema_view(
    list=extend_schema(summary="List fund requests", examples=_request_examples()),
    retrieve=extend_schema(summary="Get a fund request", examples=_request_examples()),
    create=extend_schema(
        summary="Propose an activity (a draft, or submitted with submit: true)",
        request=RequestInput,
        responses={201: FundRequestSerializer},
        examples=_request_examples(ex.FUND_REQUEST_INPUT),
    ),
    partial_update=extend_schema(
        summary="Change a draft, or a request sent back for information",
        request=RequestInput,
        responses={200: FundRequestSerializer},
        examples=_request_examples({"requested_amount": "1800.00"}),
    ),
    submit=extend_schema(
        summary="Submit a draft",
        request=None,
        responses={200: FundRequestSerializer},
        examples=_request_examples(),
    ),
    answer=extend_schema(
        summary="Answer the reviewer's questions",
        request=MessageInput,
        responses={200: FundRequestSerializer},
        examples=_request_examples(ex.MESSAGE_INPUT),
    ),
    cancel=extend_schema(
        summary="Cancel an activity that has no claim",
        request=CancelInput,
        responses={200: FundRequestSerializer},
        examples=_request_examples(ex.CANCEL_INPUT),
    ),
    approve=extend_schema(
        summary="Approve, in full or in part",
        request=ApproveRequestInput,
        responses={200: FundRequestSerializer},
        examples=_request_examples(ex.APPROVE_REQUEST_INPUT),
    ),
    reject=extend_schema(
        summary="Reject, with the reason for the partner",
        request=RejectInput,
        responses={200: FundRequestSerializer},
        examples=_request_examples(ex.REJECT_INPUT),
    ),
)
class FundRequestViewSet(Represented, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Marketing activities partners ask funds for. A partner's people see
    and act on their organisation's; staff see every submitted one."""

    resource = "mdf"
    read_perms = ("mdf.view_fundrequest", PORTAL)
    write_perms = (PORTAL,)
    action_perms = {
        "submit": (PORTAL,),
        "answer": (PORTAL,),
        "cancel": (PORTAL,),
        "approve": (services.DECIDE_PERM, services.SECOND_PERM),
        "reject": (services.DECIDE_PERM, services.SECOND_PERM),
    }
    serializer_class = FundRequestSerializer
    filterset_class = FundRequestFilter
    ordering_fields = ("created_at", "submitted_at", "due_at", "starts_on", "requested_amount")
    http_method_names = ["get", "post", "patch", "head", "options"]

    def base_queryset(self) -> QuerySet[FundRequest]:
        rows = request_rows()
        membership = self.viewer()
        if membership is not None and not membership.is_partner_role:
            rows = rows.exclude(status=Status.DRAFT)  # the partner's own until submitted
        return rows

    def _answer(self, fund_request: FundRequest, code: int = 200) -> Response:
        return self.object_response(self.base_queryset().get(pk=fund_request.pk), code)

    def _input(self, request: Request, *, partial: bool = False) -> dict[str, Any]:
        form = RequestInput(
            data=request.data, partial=partial, context=self.get_serializer_context()
        )
        form.is_valid(raise_exception=True)
        return dict(form.validated_data)

    def create(self, request: Request) -> Response:
        given = self._input(request)
        submit = given.pop("submit", False)
        data = services.RequestData(**{**given, "cost_lines": as_lines(given["cost_lines"])})
        saved = services.save_request(data, by=self.viewer(), submit=submit)
        return self._answer(saved, 201)

    def partial_update(self, request: Request, id: str) -> Response:
        fund_request = self.get_object()
        given = self._input(request, partial=True)
        submit = given.pop("submit", False)
        if submit:
            self._refuse_unless_draft(fund_request)
        data = services.data_of(fund_request)
        for name, value in given.items():
            setattr(data, name, as_lines(value) if name == "cost_lines" else value)
        services.save_request(data, by=self.viewer(), request=fund_request, submit=submit)
        return self._answer(fund_request)

    def _refuse_unless_draft(self, fund_request: FundRequest) -> None:
        """Only a draft is submitted (one sent back for information is
        answered: ``answer``), as the portal's page offers."""
        if fund_request.status == Status.MORE_INFO:
            raise Conflict(
                f"{fund_request.code} was sent back for information: answer the reviewer "
                "(POST …/answer/) to send it back."
            )
        if fund_request.status != Status.DRAFT:
            raise Conflict(
                f"{fund_request.code} is {fund_request.get_status_display().lower()}; "
                "only a draft is submitted."
            )

    @action(detail=True, methods=["post"])
    def submit(self, request: Request, id: str) -> Response:
        fund_request = self.get_object()
        self._refuse_unless_draft(fund_request)
        services.submit_request(fund_request, by=self.viewer())
        return self._answer(fund_request)

    @action(detail=True, methods=["post"])
    def answer(self, request: Request, id: str) -> Response:
        fund_request = self.get_object()
        form = MessageInput(data=request.data)
        form.is_valid(raise_exception=True)
        services.provide_info(
            fund_request, by=self.viewer(), message=form.validated_data["message"]
        )
        return self._answer(fund_request)

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, id: str) -> Response:
        fund_request = self.get_object()
        form = CancelInput(data=request.data)
        form.is_valid(raise_exception=True)
        services.cancel_request(
            fund_request, by=self.viewer(), reason=form.validated_data["reason"]
        )
        return self._answer(fund_request)

    @action(detail=True, methods=["post"])
    def approve(self, request: Request, id: str) -> Response:
        fund_request = self.get_object()
        form = ApproveRequestInput(data=request.data)
        form.is_valid(raise_exception=True)
        services.approve_request(fund_request, by=self.viewer(), **form.validated_data)
        return self._answer(fund_request)

    @action(detail=True, methods=["post"])
    def reject(self, request: Request, id: str) -> Response:
        fund_request = self.get_object()
        form = RejectInput(data=request.data)
        form.is_valid(raise_exception=True)
        services.reject_request(
            fund_request, by=self.viewer(), reason=form.validated_data["reason"]
        )
        return self._answer(fund_request)

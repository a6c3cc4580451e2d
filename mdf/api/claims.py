"""Claims in the REST API (``/api/v1/mdf-claims/``).

A partner's people claim an approved activity once it has taken place,
with its invoice, actual costs, results and proof files, as in the portal:
a claim with files is sent as multipart/form-data (this resource alone
takes it), each file under ``proof_<kind>``, and checked as the portal
checks uploads (type by content, size per file and per claim, number of
files: ``mdf.uploads``, called by the service). Finance (and ops) decide
claims as in the admin. Staff never see a draft."""

from typing import Any

import django_filters
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from incentives.api import Represented
from incentives.api_examples import examples
from prm.api.problems import Conflict, Invalid

from .. import claims as services
from ..models import Claim, Document
from ..serializers import ClaimSerializer, claim_rows
from . import examples as ex
from .inputs import (
    ApproveClaimInput,
    ClaimInput,
    MessageInput,
    RejectInput,
    as_lines,
)

PORTAL = "portal.mdf"
Status = Claim.Status
PROOF_FIELDS = {f"proof_{kind}": kind for kind in Document.values}


class ClaimUpload(ClaimInput):
    """A claim as multipart/form-data: its fields, ``lines`` as JSON text,
    and any number of proof files per kind."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in PROOF_FIELDS:
            self.fields[name] = serializers.ListField(child=serializers.FileField(), required=False)


class ClaimFilter(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="partner_id")
    request = django_filters.UUIDFilter(field_name="request_id")
    status = django_filters.ChoiceFilter(choices=Status.choices)
    submitted_since = django_filters.IsoDateTimeFilter(field_name="submitted_at", lookup_expr="gte")
    submitted_before = django_filters.IsoDateTimeFilter(field_name="submitted_at", lookup_expr="lt")
    decided_since = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="gte")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Claim
        fields: list[str] = []


def _claim_examples(request: Any = None) -> Any:
    return examples("A claim", ex.CLAIM, request=request)


UPLOAD = {"application/json": ClaimInput, "multipart/form-data": ClaimUpload}


@extend_schema_view(
    list=extend_schema(summary="List claims", examples=_claim_examples()),
    retrieve=extend_schema(summary="Get a claim", examples=_claim_examples()),
    create=extend_schema(
        summary="Claim an approved activity (a draft, or submitted with submit: true)",
        request=UPLOAD,
        responses={201: ClaimSerializer},
        examples=_claim_examples(ex.CLAIM_INPUT),
    ),
    partial_update=extend_schema(
        summary="Change a draft claim or one sent back for information, or add proof",
        request=UPLOAD,
        responses={200: ClaimSerializer},
        examples=_claim_examples({"claimed_amount": "1750.00"}),
    ),
    submit=extend_schema(
        summary="Submit a draft claim",
        request=None,
        responses={200: ClaimSerializer},
        examples=_claim_examples(),
    ),
    answer=extend_schema(
        summary="Answer the reviewer's questions",
        request=MessageInput,
        responses={200: ClaimSerializer},
        examples=_claim_examples(ex.MESSAGE_INPUT),
    ),
    withdraw=extend_schema(
        summary="Withdraw a claim not decided yet",
        request=None,
        responses={200: ClaimSerializer},
        examples=_claim_examples(),
    ),
    approve=extend_schema(
        summary="Approve, in full or for a lower cost",
        request=ApproveClaimInput,
        responses={200: ClaimSerializer},
        examples=_claim_examples(ex.APPROVE_CLAIM_INPUT),
    ),
    reject=extend_schema(
        summary="Reject, with the reason for the partner",
        request=RejectInput,
        responses={200: ClaimSerializer},
        examples=_claim_examples(ex.REJECT_INPUT),
    ),
)
class ClaimViewSet(Represented, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Claims of approved activities. A partner's people see and act on
    their organisation's; staff see every submitted one."""

    resource = "mdf"
    read_perms = ("mdf.view_claim", PORTAL)
    write_perms = (PORTAL,)
    action_perms = {
        "submit": (PORTAL,),
        "answer": (PORTAL,),
        "withdraw": (PORTAL,),
        "approve": (services.DECIDE_PERM,),
        "reject": (services.DECIDE_PERM,),
    }
    parser_classes = [JSONParser, MultiPartParser]
    serializer_class = ClaimSerializer
    filterset_class = ClaimFilter
    ordering_fields = ("created_at", "submitted_at", "due_at", "claimed_amount")
    http_method_names = ["get", "post", "patch", "head", "options"]

    def base_queryset(self) -> QuerySet[Claim]:
        rows = claim_rows()
        membership = self.viewer()
        if membership is not None and not membership.is_partner_role:
            rows = rows.exclude(status=Status.DRAFT)  # the partner's own until submitted
        return rows

    def _answer(self, claim: Claim, code: int = 200) -> Response:
        return self.object_response(self.base_queryset().get(pk=claim.pk), code)

    def _input(self, request: Request, *, partial: bool = False) -> dict[str, Any]:
        form = ClaimInput(data=request.data, partial=partial, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        return dict(form.validated_data)

    def _files(self, request: Request) -> list[tuple[str, UploadedFile]]:
        """The proof files sent, by kind; a file under another name is
        refused (it would be dropped without a word)."""
        files = request.FILES
        unknown = sorted(name for name in files if name not in PROOF_FIELDS)
        if unknown:
            raise Invalid(
                {unknown[0]: [f"Send proof files as one of: {', '.join(sorted(PROOF_FIELDS))}."]}
            )
        return [(PROOF_FIELDS[name], f) for name in files for f in files.getlist(name)]

    def _data(self, given: dict[str, Any], files: list[Any]) -> services.ClaimData:
        return services.ClaimData(
            invoice_number=given["invoice_number"],
            invoice_date=given["invoice_date"],
            supplier=given["supplier"],
            claimed_amount=given["claimed_amount"],
            lines=given["lines"],
            leads=given.get("leads") or 0,
            attendees=given.get("attendees") or 0,
            opportunities=given.get("opportunities") or 0,
            results=given.get("results") or "",
            files=files,
        )

    def create(self, request: Request) -> Response:
        given = self._input(request)
        files = self._files(request)
        given["lines"] = as_lines(given["lines"])
        claim = services.save_claim(
            given["request"], self._data(given, files), by=self.viewer(), submit=given["submit"]
        )
        return self._answer(claim, 201)

    def partial_update(self, request: Request, id: str) -> Response:
        claim = self.get_object()
        given = self._input(request, partial=True)
        files = self._files(request)
        if given.pop("request", claim.request) != claim.request:
            raise Invalid({"request": ["A claim stays with the activity it claims."]})
        submit = given.pop("submit", False)
        if submit:
            self._refuse_unless_draft(claim)
        current = {
            "invoice_number": claim.invoice_number,
            "invoice_date": claim.invoice_date,
            "supplier": claim.supplier,
            "claimed_amount": claim.claimed_amount,
            "lines": [(line.description, line.amount) for line in claim.lines.all()],
            "leads": claim.leads,
            "attendees": claim.attendees,
            "opportunities": claim.opportunities,
            "results": claim.results,
        }
        if "lines" in given:
            given["lines"] = as_lines(given["lines"])
        data = self._data({**current, **given}, files)
        services.save_claim(claim.request, data, by=self.viewer(), claim=claim, submit=submit)
        return self._answer(claim)

    def _refuse_unless_draft(self, claim: Claim) -> None:
        if claim.status == Status.MORE_INFO:
            raise Conflict(
                f"Claim {claim.code} was sent back for information: answer the reviewer "
                "(POST …/answer/) to send it back."
            )
        if claim.status != Status.DRAFT:
            raise Conflict(
                f"Claim {claim.code} is {claim.get_status_display().lower()}; "
                "only a draft is submitted."
            )

    @action(detail=True, methods=["post"])
    def submit(self, request: Request, id: str) -> Response:
        claim = self.get_object()
        self._refuse_unless_draft(claim)
        services.submit_claim(claim, by=self.viewer())
        return self._answer(claim)

    @action(detail=True, methods=["post"])
    def answer(self, request: Request, id: str) -> Response:
        claim = self.get_object()
        form = MessageInput(data=request.data)
        form.is_valid(raise_exception=True)
        services.provide_claim_info(claim, by=self.viewer(), message=form.validated_data["message"])
        return self._answer(claim)

    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, id: str) -> Response:
        claim = self.get_object()
        services.withdraw_claim(claim, by=self.viewer())
        return self._answer(claim)

    @action(detail=True, methods=["post"])
    def approve(self, request: Request, id: str) -> Response:
        claim = self.get_object()
        form = ApproveClaimInput(data=request.data)
        form.is_valid(raise_exception=True)
        services.approve_claim(claim, by=self.viewer(), **form.validated_data)
        return self._answer(claim)

    @action(detail=True, methods=["post"])
    def reject(self, request: Request, id: str) -> Response:
        claim = self.get_object()
        form = RejectInput(data=request.data)
        form.is_valid(raise_exception=True)
        services.reject_claim(claim, by=self.viewer(), reason=form.validated_data["reason"])
        return self._answer(claim)

"""Market development funds in the REST API and in webhook payloads: fund
requests, claims and the allocations a partner draws on.

Each serializer is the object's API representation, what ``GET`` answers
and what its webhook events carry, and works without a request (a webhook
payload is the staff view, with links on the tenant's primary host). A
partner member's view leaves out what only the vendor's people see: who
reviews and checks (approver, second approval, verification), duplicate
invoices flagged, and an amount approved once while a second approval is
still pending."""

from decimal import Decimal

from django.db.models import (
    DecimalField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incentives.serializers import (
    Money,
    PartnerRef,
    Person,
    Rate,
    Representation,
    StaffPerson,
    absolute,
    amount_text,
    partner_view,
)

from .models import (
    Allocation,
    Budget,
    Claim,
    ClaimLine,
    CostLine,
    FundRequest,
    FundType,
    ProofFile,
    Reimbursement,
)

ZERO = Decimal("0")


class FundRef(serializers.ModelSerializer):
    class Meta:
        model = FundType
        fields = ["id", "name"]


class FundTypeSerializer(serializers.ModelSerializer):
    """A kind of fund: what it pays for, how much of the cost, what proof
    a claim needs and how long after the activity it may be claimed."""

    reimbursement_percent = Rate()
    accrual_percent = Rate(allow_null=True)

    class Meta:
        model = FundType
        fields = [
            "id",
            "name",
            "description",
            "funding",
            "reimbursement_percent",
            "accrual_percent",
            "activity_types",
            "required_documents",
            "request_lead_days",
            "claim_window_days",
        ]


class PeriodSerializer(serializers.ModelSerializer):
    """A budget's fiscal period: funds are requested for activities
    starting in it, and what is unused expires at its end."""

    label = serializers.CharField(source="period_label", read_only=True)

    class Meta:
        model = Budget
        fields = ["label", "starts_on", "ends_on"]


# --- Fund requests ---------------------------------------------------------------------------


class CostLineSerializer(serializers.ModelSerializer):
    amount = Money(currency="request.currency")

    class Meta:
        model = CostLine
        fields = ["description", "amount"]


class FundRequestSerializer(Representation):
    """A partner's proposed marketing activity and the money it asks for
    (``draft`` until submitted; staff see it from then on). Once approved,
    ``approved_amount`` is reserved against the allocation until it is
    claimed (by ``claim_deadline``) or the request is cancelled."""

    partner = PartnerRef(read_only=True)
    fund = FundRef(source="fund_type", read_only=True)
    period = PeriodSerializer(source="allocation.budget", read_only=True)
    expected_pipeline = Money()
    total_cost = Money()
    reimbursement_percent = Rate()
    requested_amount = Money()
    approved_amount = serializers.SerializerMethodField()
    partner_contribution = Money()
    reserved = Money()
    cost_lines = CostLineSerializer(many=True, read_only=True)
    submitted_by = Person(read_only=True)
    approver = StaffPerson(read_only=True, allow_null=True)
    first_approved_by = StaffPerson(read_only=True, allow_null=True)
    decided_by = StaffPerson(read_only=True, allow_null=True)

    staff_only = (
        "approver",
        "needs_second_approval",
        "first_approved_by",
        "first_approved_at",
        "decided_by",
    )

    class Meta:
        model = FundRequest
        fields = [
            "id",
            "code",
            "partner",
            "allocation",
            "fund",
            "period",
            "status",
            "activity_type",
            "title",
            "description",
            "audience",
            "starts_on",
            "ends_on",
            "expected_reach",
            "expected_leads",
            "expected_pipeline",
            "currency",
            "cost_lines",
            "total_cost",
            "reimbursement_percent",
            "requested_amount",
            "partner_contribution",
            "approved_amount",
            "reserved",
            "submitted_by",
            "submitted_at",
            "due_at",
            "approver",
            "needs_second_approval",
            "first_approved_by",
            "first_approved_at",
            "decided_by",
            "decided_at",
            "decision_reason",
            "claim_deadline",
            "closed_at",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field({"type": "string", "format": "decimal", "nullable": True})
    def get_approved_amount(self, request: FundRequest) -> str | None:
        """What was approved; a first approval waiting for the second is
        the vendor's business until it is final."""
        amount = request.approved_amount
        if amount is None or (partner_view(self) and request.is_pending):
            return None
        return amount_text(amount, request.currency)


def request_rows() -> QuerySet[FundRequest]:
    return FundRequest.objects.select_related(
        "tenant",
        "partner",
        "fund_type",
        "allocation__budget",
        "submitted_by",
        "approver",
        "first_approved_by",
        "decided_by",
    ).prefetch_related("cost_lines")


# --- Claims ------------------------------------------------------------------------------------


class ClaimLineSerializer(serializers.ModelSerializer):
    amount = Money(currency="claim.request.currency")

    class Meta:
        model = ClaimLine
        fields = ["description", "amount"]


class ProofSerializer(serializers.ModelSerializer):
    """A proof file, typed by its content; ``url`` downloads it for a
    signed-in member who may see the claim."""

    name = serializers.CharField(source="original_name")
    url = serializers.SerializerMethodField()

    class Meta:
        model = ProofFile
        fields = ["id", "kind", "name", "content_type", "size", "sha256", "uploaded_at", "url"]

    def get_url(self, proof: ProofFile) -> str:
        claim = proof.claim
        path = reverse("mdf:proof", args=[claim.code, proof.pk])
        return absolute(self, path, claim.tenant)


class RequestRef(serializers.ModelSerializer):
    class Meta:
        model = FundRequest
        fields = ["id", "code", "title"]


class ClaimSerializer(Representation):
    """What an approved activity actually cost and achieved, with proof.
    Finance approves it (``reimbursement_amount``, written to the partner's
    ledger and paid by the next payout run: ``paid_on``) or rejects it."""

    request = RequestRef(read_only=True)
    partner = PartnerRef(read_only=True)
    currency = serializers.CharField(source="request.currency", read_only=True)
    total_cost = Money(currency="request.currency")
    claimed_amount = Money(currency="request.currency")
    approved_cost = Money(currency="request.currency", allow_null=True)
    reimbursement_amount = Money(currency="request.currency", allow_null=True)
    lines = ClaimLineSerializer(many=True, read_only=True)
    proofs = ProofSerializer(many=True, read_only=True)
    submitted_by = Person(read_only=True)
    verified_by = StaffPerson(read_only=True, allow_null=True)
    decided_by = StaffPerson(read_only=True, allow_null=True)
    paid_on = serializers.SerializerMethodField()

    staff_only = ("verified_by", "verified_at", "duplicate_of", "decided_by")

    class Meta:
        model = Claim
        fields = [
            "id",
            "code",
            "request",
            "partner",
            "status",
            "invoice_number",
            "invoice_date",
            "supplier",
            "currency",
            "lines",
            "total_cost",
            "claimed_amount",
            "leads",
            "attendees",
            "opportunities",
            "results",
            "proofs",
            "submitted_by",
            "submitted_at",
            "due_at",
            "verified_by",
            "verified_at",
            "duplicate_of",
            "approved_cost",
            "reimbursement_amount",
            "decided_by",
            "decided_at",
            "decision_reason",
            "paid_on",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field({"type": "string", "format": "date", "nullable": True})
    def get_paid_on(self, claim: Claim) -> str | None:
        """When the payout run that settled the reimbursement was paid."""
        try:
            entry = claim.reimbursement.entry
        except Reimbursement.DoesNotExist:
            return None
        settlement = getattr(entry, "settlement", None)
        paid = settlement.paid_on if settlement is not None else None
        return paid.isoformat() if paid else None


def claim_rows() -> QuerySet[Claim]:
    return Claim.objects.select_related(
        "tenant",
        "partner",
        "request",
        "submitted_by",
        "verified_by",
        "decided_by",
        "reimbursement__entry__settlement",
    ).prefetch_related(
        Prefetch("lines", queryset=ClaimLine.objects.select_related("claim__request")),
        Prefetch("proofs", queryset=ProofFile.objects.select_related("claim__tenant")),
    )


# --- Allocations ------------------------------------------------------------------------------


class AllocationSerializer(Representation):
    """A partner's share of a budget and where it stands: ``available`` =
    amount - reserved (approved requests) - claimed (approved claims) -
    expired; ``paid`` is the part of ``claimed`` already paid out."""

    partner = PartnerRef(read_only=True)
    fund = FundTypeSerializer(source="budget.fund_type", read_only=True)
    period = PeriodSerializer(source="budget", read_only=True)
    currency = serializers.CharField(source="budget.currency", read_only=True)
    amount = Money(currency="budget.currency")
    reserved = Money(currency="budget.currency")
    claimed = Money(currency="budget.currency")
    expired = Money(currency="budget.currency")
    available = Money(currency="budget.currency")
    paid = serializers.SerializerMethodField()

    staff_only = ("budget",)

    class Meta:
        model = Allocation
        fields = [
            "id",
            "partner",
            "budget",
            "fund",
            "period",
            "source",
            "currency",
            "amount",
            "reserved",
            "claimed",
            "expired",
            "available",
            "paid",
            "updated_at",
        ]

    @extend_schema_field({"type": "string", "format": "decimal"})
    def get_paid(self, allocation: Allocation) -> str:
        paid = getattr(allocation, "paid_amount", None)
        if paid is None:  # not annotated (one allocation): ask
            paid = paid_of().get(pk=allocation.pk).paid_amount  # type: ignore[attr-defined]
        return amount_text(min(paid, allocation.claimed), allocation.budget.currency)


def paid_of() -> QuerySet[Allocation]:
    """Allocations with what of their approved claims a payout run has paid
    (``paid_amount``), in the same query."""
    paid = (
        Reimbursement.objects.filter(
            claim__request__allocation=OuterRef("pk"), entry__settlement__paid_on__isnull=False
        )
        .order_by()
        .values("claim__request__allocation")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    money: DecimalField[Decimal, Decimal] = DecimalField(max_digits=18, decimal_places=3)
    return Allocation.objects.annotate(
        paid_amount=Coalesce(Subquery(paid, output_field=money), Value(ZERO), output_field=money)
    )


def allocation_rows() -> QuerySet[Allocation]:
    return paid_of().select_related("partner", "budget__fund_type")

"""Incentives in the REST API and in webhook payloads: ledger entries,
statements, payout runs and their lines, disputes.

One serializer per object is its API representation: what ``GET`` answers
and what a webhook event carries (``prm.webhooks.events.emit``), so each
works without a request in its context. Money is a Decimal string in its
currency's minor unit ("1234.50") with the currency code beside it; ids are
UUIDs; a partner member's view leaves out what only staff see (who wrote an
entry and how, internal notes).

The fields here (``Money``, ``Rate``, ``OwnRelated``, ``PartnerRef``,
``Person``) are what the later apps' representations share
(``mdf.serializers``)."""

from decimal import Decimal
from operator import attrgetter
from typing import Any

from django.db import models
from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from partners.models import Partner
from prm.api.fields import TenantRelated

from . import periods
from .models import Dispute, DisputeMessage, LedgerEntry, PayoutLine, PayoutRun, Statement
from .money import quantum
from .wording import cause

# --- Shared fields --------------------------------------------------------------------------


def amount_text(amount: Decimal, currency: str) -> str:
    """``amount`` as the API writes money: plain digits in the currency's
    minor unit ("1234.50", "1200" for JPY), or every digit it has when it
    has more (never rounded away)."""
    unit = quantum(currency)
    exact = amount.quantize(unit) if amount == amount.quantize(unit) else amount.normalize()
    return format(exact, "f")


@extend_schema_field(
    {"type": "string", "format": "decimal", "example": "1234.50", "nullable": True}
)
class Money(serializers.Field):
    """An amount (read only) in the currency the attribute ``currency``
    names on the same object (a dotted path: "run.currency"; ``fallback``
    when that one is blank)."""

    def __init__(
        self, currency: str = "currency", *, fallback: str | None = None, **kwargs: Any
    ) -> None:
        self.currency_path = currency
        self.fallback_path = fallback
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        amount = super().get_attribute(instance)
        currency = attrgetter(self.currency_path)(instance)
        if not currency and self.fallback_path:
            currency = attrgetter(self.fallback_path)(instance)
        return amount, currency

    def to_representation(self, value: Any) -> str | None:
        amount, currency = value
        return None if amount is None else amount_text(amount, currency)


@extend_schema_field({"type": "string", "format": "decimal", "example": "1.0837"})
class Rate(serializers.Field):
    """An exchange rate or a percentage, every significant digit (read only)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Decimal) -> str:
        return format(value.normalize(), "f")


class OwnRelated(TenantRelated):
    """A related object by its id, in the request's tenant and, for a
    partner member (the serializer's ``partner_id`` context), of that
    partner only: another partner's id reads as one that does not exist."""

    def __init__(self, model: type[models.Model], *, owner: str = "partner_id", **kwargs: Any):
        self.owner = owner
        super().__init__(model, **kwargs)

    def get_queryset(self) -> models.QuerySet[Any]:
        queryset = super().get_queryset()
        partner_id = self.context.get("partner_id")
        if partner_id is not None:
            queryset = queryset.filter(**{self.owner: partner_id})
        return queryset


class PartnerRef(serializers.ModelSerializer):
    class Meta:
        model = Partner
        fields = ["id", "name"]


class Person(serializers.Serializer):
    """Someone who did something, by name."""

    name = serializers.CharField(source="get_full_name")


class StaffPerson(Person):
    """A staff member, by name and email (in staff-only fields)."""

    email = serializers.EmailField()


def partner_view(serializer: serializers.BaseSerializer) -> bool:
    """Whether the representation is for a partner member (the view sets
    ``partner_view``; a webhook payload is for the program's staff)."""
    return bool(serializer.context.get("partner_view"))


class Representation(serializers.ModelSerializer):
    """A model's API representation; ``staff_only`` fields are left out of
    a partner member's view."""

    staff_only: tuple[str, ...] = ()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        if partner_view(self):
            for name in self.staff_only:
                data.pop(name, None)
        return data


def absolute(serializer: serializers.BaseSerializer, path: str, tenant: Any) -> str:
    """``path`` as a full URL on the request's host, or on the tenant's
    primary host outside a request (a webhook payload)."""
    request = serializer.context.get("request")
    if request is not None:
        return str(request.build_absolute_uri(path))
    return str(tenant.absolute_url(path))


# --- Ledger entries -------------------------------------------------------------------------


class RegistrationRef(serializers.Serializer):
    id = serializers.UUIDField()
    code = serializers.CharField()


class PlanRef(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class PlanVersionRef(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.IntegerField()
    plan = PlanRef()


class RunRef(serializers.ModelSerializer):
    class Meta:
        model = PayoutRun
        fields = ["id", "reference"]


class SettledSerializer(serializers.Serializer):
    """The payout that settled an entry: its run and the day it was paid
    (null until the run is marked paid)."""

    payout_run = RunRef(source="run")
    paid_on = serializers.DateField(allow_null=True)


class LedgerEntrySerializer(Representation):
    """One line of money owed to (positive) or paid to or taken back from
    (negative) a partner. Entries are never changed: a correction is a new
    entry (``reverses`` names the one it takes back)."""

    partner = PartnerRef(read_only=True)
    amount = Money()
    fx_rate = Rate()
    amount_base = Money(currency="base_currency")
    basis_amount = Money(currency="basis_currency", fallback="currency", allow_null=True)
    cause = serializers.SerializerMethodField()
    registration = RegistrationRef(read_only=True, allow_null=True)
    plan_version = PlanVersionRef(read_only=True, allow_null=True)
    payout_run = RunRef(read_only=True, allow_null=True)
    settled = serializers.SerializerMethodField()
    created_by = StaffPerson(read_only=True, allow_null=True)

    staff_only = ("created_by", "created_via")

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "partner",
            "kind",
            "source",
            "cause",
            "description",
            "amount",
            "currency",
            "fx_rate",
            "amount_base",
            "base_currency",
            "basis_amount",
            "basis_currency",
            "registration",
            "plan_version",
            "payout_run",
            "dispute",
            "reverses",
            "effective_date",
            "period_start",
            "statement_start",
            "available_on",
            "settled",
            "created_at",
            "created_by",
            "created_via",
        ]

    def get_cause(self, entry: LedgerEntry) -> str:
        """What caused it, in business words ("Deal won", "Payout PR-2026-0003")."""
        return cause(entry)

    @extend_schema_field(SettledSerializer(allow_null=True))
    def get_settled(self, entry: LedgerEntry) -> dict[str, Any] | None:
        try:
            settlement = entry.settlement
        except LedgerEntry.settlement.RelatedObjectDoesNotExist:
            return None
        return dict(SettledSerializer(settlement).data)


def ledger_rows() -> QuerySet[LedgerEntry]:
    """Entries with everything their representation reads."""
    return LedgerEntry.objects.select_related(
        "partner",
        "registration",
        "plan_version__plan",
        "payout_run",
        "settlement__run",
        "created_by",
    )


# --- Statements -------------------------------------------------------------------------------


class StatementFiles(serializers.Serializer):
    csv = serializers.URLField()
    pdf = serializers.URLField()


class StatementSerializer(Representation):
    """A partner's statement of an ended period, issued once: the period's
    totals by kind, in the base currency. Its lines are the ledger entries
    booked in the period (``lines_url``); ``files`` are the statement's
    CSV and PDF as the portal (for partner members) or the admin (for
    staff) offers them, for a signed-in person."""

    partner = PartnerRef(read_only=True)
    label = serializers.SerializerMethodField()
    opening = Money()
    accruals = Money()
    adjustments = Money()
    clawbacks = Money()
    reimbursements = Money()
    payouts = Money()
    closing = Money()
    lines_url = serializers.SerializerMethodField()
    files = serializers.SerializerMethodField()

    class Meta:
        model = Statement
        fields = [
            "id",
            "partner",
            "period",
            "period_start",
            "period_end",
            "label",
            "currency",
            "opening",
            "accruals",
            "adjustments",
            "clawbacks",
            "reimbursements",
            "payouts",
            "closing",
            "line_count",
            "issued_at",
            "lines_url",
            "files",
        ]

    def get_label(self, statement: Statement) -> str:
        return periods.label(statement.period_start, statement.period)

    @extend_schema_field(OpenApiTypes.URI)
    def get_lines_url(self, statement: Statement) -> str:
        path = f"{reverse('api:ledger-entry-list')}?statement={statement.pk}"
        return absolute(self, path, statement.tenant)

    @extend_schema_field(StatementFiles)
    def get_files(self, statement: Statement) -> dict[str, str]:
        start = f"{statement.period_start:%Y-%m-%d}"
        if partner_view(self):
            found = {
                kind: f"{reverse(f'incentives:statement_{kind}')}?period={start}"
                for kind in ("csv", "pdf")
            }
        else:
            page = reverse("tenant_admin:incentives_statement_partner")
            found = {
                kind: f"{page}?partner={statement.partner_id}&period={start}&format={kind}"
                for kind in ("csv", "pdf")
            }
        return {kind: absolute(self, path, statement.tenant) for kind, path in found.items()}


# --- Payout runs --------------------------------------------------------------------------------


class PayoutRunSerializer(Representation):
    """A payout run: the partners' payable balances at its cutoff, approved
    by finance (``approved``: its payout entries written) and paid by
    accounts payable (``paid``, with the payment reference)."""

    minimum_payout = Money()
    total_payable = Money()
    created_by = StaffPerson(read_only=True)
    approved_by = StaffPerson(read_only=True, allow_null=True)
    paid_by = StaffPerson(read_only=True, allow_null=True)
    lines_url = serializers.SerializerMethodField()

    class Meta:
        model = PayoutRun
        fields = [
            "id",
            "reference",
            "status",
            "cutoff",
            "currency",
            "minimum_payout",
            "total_payable",
            "partners_total",
            "partners_done",
            "error",
            "created_by",
            "created_at",
            "approved_by",
            "approved_at",
            "paid_by",
            "paid_at",
            "payment_reference",
            "lines_url",
        ]

    @extend_schema_field(OpenApiTypes.URI)
    def get_lines_url(self, run: PayoutRun) -> str:
        return absolute(self, f"{reverse('api:payout-line-list')}?run={run.pk}", run.tenant)


def payout_run_rows() -> QuerySet[PayoutRun]:
    return PayoutRun.objects.select_related("tenant", "created_by", "approved_by", "paid_by")


class PayoutLineSerializer(Representation):
    """One partner's part of a payout run: what was payable at the cutoff,
    and the payout entry written for it once the run is approved."""

    run = RunRef(read_only=True)
    partner = PartnerRef(read_only=True)
    payable = Money(currency="run.currency")
    currency = serializers.CharField(source="run.currency", read_only=True)

    class Meta:
        model = PayoutLine
        fields = [
            "id",
            "run",
            "partner",
            "status",
            "payable",
            "currency",
            "entry_count",
            "hold_reason",
            "payout_entry",
        ]


# --- Disputes -----------------------------------------------------------------------------------


class DisputeMessageSerializer(serializers.ModelSerializer):
    author = Person(read_only=True)

    class Meta:
        model = DisputeMessage
        fields = ["author", "from_partner", "body", "created_at"]


class DisputedEntry(serializers.ModelSerializer):
    amount = Money()

    class Meta:
        model = LedgerEntry
        fields = ["id", "description", "amount", "currency", "statement_start"]


class DisputeSerializer(Representation):
    """A partner's question about one of its ledger lines, with its thread.
    Finance closes it with an adjustment (a new ledger entry,
    ``adjustment``) or rejects it, saying why (``resolution``)."""

    partner = PartnerRef(read_only=True)
    entry = DisputedEntry(read_only=True)
    opened_by = Person(read_only=True)
    resolved_by = Person(read_only=True, allow_null=True)
    messages = DisputeMessageSerializer(many=True, read_only=True)

    class Meta:
        model = Dispute
        fields = [
            "id",
            "code",
            "partner",
            "entry",
            "status",
            "opened_by",
            "created_at",
            "resolution",
            "resolved_by",
            "resolved_at",
            "adjustment",
            "messages",
        ]


def dispute_rows() -> QuerySet[Dispute]:
    return Dispute.objects.select_related(
        "partner", "entry", "opened_by", "resolved_by"
    ).prefetch_related(
        Prefetch(
            "messages",
            queryset=DisputeMessage.objects.select_related("author").order_by("created_at", "pk"),
        )
    )

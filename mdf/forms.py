"""Forms of the partner portal's "Funds" pages.

The forms only shape input; the rules (what may be requested or claimed,
when, how much) live in ``mdf.requests`` and ``mdf.claims``, whose
``MdfError.field`` names the form field a refusal belongs to. A refusal
about the cost lines (``cost_lines`` / ``lines``) is shown above the lines'
table, one about the proof files (``proofs``) above the file inputs.
"""

import uuid
from datetime import date
from decimal import Decimal
from typing import Any, TypedDict

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import F, QuerySet

from prm.tenancy.models import Tenant

from .claims import ClaimData
from .models import ActivityType, Allocation, Claim, Document, FundRequest
from .requests import RequestData

Status = FundRequest.Status
ZERO = Decimal("0")


class MoneyDigits(TypedDict):
    """A money field's size, as keyword arguments (``**MONEY_FIELD``)."""

    max_digits: int
    decimal_places: int


MONEY_FIELD: MoneyDigits = {"max_digits": 14, "decimal_places": 2}


class MoneyField(forms.DecimalField):
    """An amount of money. A stored amount (three decimal places in the
    database) is shown at the field's two, so that a form sent back
    unchanged validates: 2000.000 shows as 2000.00."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Decimal) and self.decimal_places is not None:
            return value.quantize(Decimal(1).scaleb(-self.decimal_places))
        return value


def _add_to_label(field: forms.Field, text: str) -> None:
    """``text`` after the field's label (the currency after an amount's)."""
    assert field.label is not None  # the form's fields are all labelled
    field.label = f"{field.label}{text}"


# Rows of cost lines a form offers beyond those filled in (no JavaScript needed).
EMPTY_LINES = 3


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


def _token_initial(initial: dict[str, Any], with_token: bool) -> dict[str, Any]:
    if with_token:
        initial.setdefault("client_token", uuid.uuid4())
    return initial


# --- Cost lines ---------------------------------------------------------------------


class LineForm(forms.Form):
    """One cost line: a row left wholly empty is ignored."""

    description = forms.CharField(label="Cost", max_length=200, required=False)
    amount = MoneyField(label="Amount", required=False, min_value=Decimal("0.01"), **MONEY_FIELD)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        text = (cleaned.get("description") or "").strip()
        amount = cleaned.get("amount")
        if text and amount is None and "amount" not in self.errors:
            self.add_error("amount", "Enter this cost's amount.")
        if amount is not None and not text:
            self.add_error("description", "Say what this cost is for.")
        return cleaned


class BaseLineFormSet(forms.BaseFormSet):
    def lines(self) -> list[tuple[str, Decimal]]:
        """The filled-in rows as (description, amount)."""
        found = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            text = (data.get("description") or "").strip()
            if text and data.get("amount") is not None:
                found.append((text, data["amount"]))
        return found

    def total(self) -> Decimal:
        """The lines' total: of the rows read from the form when bound,
        else of the lines it was given."""
        if not self.is_bound:
            return sum((row["amount"] for row in self.initial or []), ZERO)
        self.is_valid()
        return sum((amount for _, amount in self.lines()), ZERO)


LineFormSet = forms.formset_factory(
    LineForm, formset=BaseLineFormSet, extra=EMPTY_LINES, max_num=50, absolute_max=60
)


def line_formset(
    data: Any = None, *, prefix: str, lines: list[tuple[str, Decimal]] | None = None
) -> BaseLineFormSet:
    """The lines' formset: bound to ``data`` on a POST, else the given
    lines followed by empty rows."""
    # Bound, the rows are what was posted: with initial values, a posted row
    # equal to them would count as unchanged, and be skipped as empty.
    initial = [{"description": t, "amount": a} for t, a in (lines or [])] if data is None else []
    formset = LineFormSet(data, prefix=prefix, initial=initial or None)
    assert isinstance(formset, BaseLineFormSet)
    return formset


# --- Fund requests --------------------------------------------------------------------


def open_allocations(partner_id: Any, today: date) -> QuerySet[Allocation]:
    """The partner's allocations that can take a request: funds left, period open."""
    return (
        Allocation.objects.filter(partner_id=partner_id, budget__ends_on__gte=today)
        .filter(amount__gt=F("reserved") + F("claimed") + F("expired"))
        .select_related("budget__fund_type")
        .order_by("budget__starts_on", "budget__fund_type__name")
    )


class AllocationChoiceField(forms.ModelChoiceField):
    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def label_from_instance(self, obj: Allocation) -> str:
        from prm import format as fmt

        budget = obj.budget
        fund = budget.fund_type
        return (
            f"{fund.name} {budget.period_label}: {fmt.money(obj.available, budget.currency)} "
            f"available (pays {fmt.number(fund.reimbursement_percent.normalize())} %)"
        )


class RequestForm(forms.Form):
    """A new fund request, a draft, or one sent back for information."""

    client_token = forms.UUIDField(widget=forms.HiddenInput, required=False)
    allocation: "forms.ModelChoiceField[Allocation]" = forms.ModelChoiceField(
        label="Funds to draw on", queryset=Allocation.objects.none(), empty_label="Choose funds"
    )
    activity_type = forms.ChoiceField(
        label="Activity type", choices=[("", "Choose a type"), *ActivityType.choices]
    )
    title = forms.CharField(label="Title", max_length=200)
    starts_on = forms.DateField(label="Activity starts", widget=DateInput)
    ends_on = forms.DateField(label="Activity ends", widget=DateInput)
    description = forms.CharField(
        label="Description",
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What you will do, for whom, and how it promotes the vendor's products.",
    )
    audience = forms.CharField(label="Audience", max_length=300, required=False)
    expected_reach = forms.IntegerField(
        label="Expected reach", min_value=0, max_value=10**9, required=False
    )
    requested_amount = MoneyField(
        label="Amount requested", min_value=Decimal("0.01"), **MONEY_FIELD
    )
    expected_leads = forms.IntegerField(
        label="Expected leads", min_value=0, max_value=10**9, required=False
    )
    expected_pipeline = MoneyField(
        label="Expected pipeline", min_value=ZERO, required=False, **MONEY_FIELD
    )

    def __init__(
        self,
        data: Any = None,
        *,
        tenant: Tenant,
        partner_id: Any,
        request: FundRequest | None = None,
        with_token: bool = False,
        **kwargs: Any,
    ) -> None:
        initial = kwargs.pop("initial", None) or {}
        if request is not None:
            initial = {**self.initial_from(request), **initial}
        kwargs["initial"] = _token_initial(initial, with_token)
        super().__init__(data, **kwargs)
        if not with_token:
            del self.fields["client_token"]
        self.tenant = tenant
        self.request = request
        choices = open_allocations(partner_id, tenant.local_today())
        if request is not None:
            # The allocation a draft draws on stays offered, even if now spent.
            choices = (
                Allocation.objects.filter(partner_id=partner_id)
                .filter(pk__in=[request.allocation_id, *choices.values_list("pk", flat=True)])
                .select_related("budget__fund_type")
                .order_by("budget__starts_on", "budget__fund_type__name")
            )
        field = AllocationChoiceField(
            queryset=choices,
            tenant=tenant,
            label=self.fields["allocation"].label,
            empty_label="Choose funds",
        )
        self.fields["allocation"] = field
        money_label = f" ({tenant.base_currency})"
        _add_to_label(self.fields["requested_amount"], money_label)
        _add_to_label(self.fields["expected_pipeline"], money_label)
        self.allocations = list(choices)
        self.fields["activity_type"].help_text = "; ".join(
            f"{a.budget.fund_type.name} pays for "
            + ", ".join(
                str(label).lower()
                for value, label in ActivityType.choices
                if value in a.budget.fund_type.activity_types
            )
            for a in {a.budget.fund_type_id: a for a in self.allocations}.values()
        )

    @staticmethod
    def initial_from(request: FundRequest) -> dict[str, Any]:
        return {
            "allocation": request.allocation_id,
            "activity_type": request.activity_type,
            "title": request.title,
            "starts_on": request.starts_on,
            "ends_on": request.ends_on,
            "description": request.description,
            "audience": request.audience,
            "expected_reach": request.expected_reach,
            "requested_amount": request.requested_amount,
            "expected_leads": request.expected_leads,
            "expected_pipeline": request.expected_pipeline,
        }

    def chosen_allocation(self) -> Allocation | None:
        """The allocation picked (cleaned, else as posted, else initial)."""
        if self.is_bound and hasattr(self, "cleaned_data") and self.cleaned_data.get("allocation"):
            found: Allocation = self.cleaned_data["allocation"]
            return found
        raw = self.data.get("allocation") if self.is_bound else self.initial.get("allocation")
        return next((a for a in self.allocations if str(a.pk) == str(raw)), None)

    def to_data(self, lines: list[tuple[str, Decimal]]) -> RequestData:
        c = self.cleaned_data
        return RequestData(
            allocation=c["allocation"],
            activity_type=c["activity_type"],
            title=c["title"],
            starts_on=c["starts_on"],
            ends_on=c["ends_on"],
            description=c["description"],
            requested_amount=c["requested_amount"],
            cost_lines=lines,
            audience=c.get("audience") or "",
            expected_reach=c.get("expected_reach") or 0,
            expected_leads=c.get("expected_leads") or 0,
            expected_pipeline=c.get("expected_pipeline") or ZERO,
        )


class RequestFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False, choices=[("", "All statuses"), *Status.choices], label="Status"
    )

    def filter(self, queryset: QuerySet[FundRequest]) -> QuerySet[FundRequest]:
        self.is_valid()
        status = self.cleaned_data.get("status")
        return queryset.filter(status=status) if status else queryset


class MessageForm(forms.Form):
    message = forms.CharField(
        label="Message to the reviewer", max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


class AnswerForm(forms.Form):
    message = forms.CharField(
        label="Your answer", max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ExtensionForm(forms.Form):
    days = forms.IntegerField(label="More days", min_value=1, max_value=180, initial=30)
    reason = forms.CharField(
        label="Why do you need more time?",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


# --- Claims -----------------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files (none included) from one ``<input multiple>``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


PROOF_PREFIX = "proof_"


class ClaimForm(forms.Form):
    """A new claim, a draft, or one sent back for information; one file
    input per kind of proof (the fund's required ones first)."""

    client_token = forms.UUIDField(widget=forms.HiddenInput, required=False)
    invoice_number = forms.CharField(label="Invoice number", max_length=60)
    invoice_date = forms.DateField(label="Invoice date", widget=DateInput)
    supplier = forms.CharField(label="Supplier", max_length=200, help_text="As on the invoice.")
    claimed_amount = MoneyField(label="Amount claimed", min_value=Decimal("0.01"), **MONEY_FIELD)
    leads = forms.IntegerField(label="Leads", min_value=0, max_value=10**9, required=False)
    attendees = forms.IntegerField(label="Attendees", min_value=0, max_value=10**9, required=False)
    opportunities = forms.IntegerField(
        label="Opportunities", min_value=0, max_value=10**9, required=False
    )
    results = forms.CharField(
        label="Results summary",
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(
        self,
        data: Any = None,
        files: Any = None,
        *,
        request: FundRequest,
        claim: Claim | None = None,
        with_token: bool = False,
        **kwargs: Any,
    ) -> None:
        initial = kwargs.pop("initial", None) or {}
        if claim is not None:
            initial = {**self.initial_from(claim), **initial}
        kwargs["initial"] = _token_initial(initial, with_token)
        super().__init__(data, files, **kwargs)
        if not with_token:
            del self.fields["client_token"]
        from prm import format as fmt

        _add_to_label(self.fields["claimed_amount"], f" ({request.currency})")
        self.fields["claimed_amount"].help_text = (
            f"At most {fmt.money(request.approved_amount, request.currency)} (approved), and "
            f"{fmt.number(request.reimbursement_percent.normalize())} % of the actual cost."
        )
        required = list(request.fund_type.required_documents)
        kinds = [*required, *(k for k in Document.values if k not in required)]
        labels = dict(Document.choices)
        self.proof_names = []
        for kind in kinds:
            name = PROOF_PREFIX + kind
            self.fields[name] = MultipleFileField(
                label=str(labels[kind]) + (" (required)" if kind in required else ""),
            )
            self.proof_names.append(name)

    @staticmethod
    def initial_from(claim: Claim) -> dict[str, Any]:
        return {
            "invoice_number": claim.invoice_number,
            "invoice_date": claim.invoice_date,
            "supplier": claim.supplier,
            "claimed_amount": claim.claimed_amount,
            "leads": claim.leads,
            "attendees": claim.attendees,
            "opportunities": claim.opportunities,
            "results": claim.results,
        }

    def proof_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.proof_names]

    def detail_fields(self) -> list[forms.BoundField]:
        return [
            f
            for f in self.visible_fields()
            if f.name not in self.proof_names
            and f.name not in ("leads", "attendees", "opportunities", "results")
        ]

    def files_given(self) -> list[tuple[str, UploadedFile]]:
        return [
            (name[len(PROOF_PREFIX) :], f)
            for name in self.proof_names
            for f in self.cleaned_data.get(name) or []
        ]

    def to_data(self, lines: list[tuple[str, Decimal]]) -> ClaimData:
        c = self.cleaned_data
        return ClaimData(
            invoice_number=c["invoice_number"],
            invoice_date=c["invoice_date"],
            supplier=c["supplier"],
            claimed_amount=c["claimed_amount"],
            lines=lines,
            leads=c.get("leads") or 0,
            attendees=c.get("attendees") or 0,
            opportunities=c.get("opportunities") or 0,
            results=c.get("results") or "",
            files=self.files_given(),
        )

"""The ledger in the tenant admin: read-only entries with their filters and
a streamed CSV export, manual adjustments by finance, and deals whose
accrual is stuck."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.exceptions import BadRequest, PermissionDenied
from django.db.models import Q, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from dealreg.models import DealRegistration
from partners.admin_filters import PartnerFilter
from prm import format as fmt
from prm.csvio import csv_response, export_filename
from prm.tenancy.admin_base import (
    LargeTablePaginator,
    TenantModelAdmin,
    tenant_admin_site,
)
from prm.tenancy.admin_filters import ChosenObjectFilter
from prm.tenancy.drill import MetricRowsFilter
from prm.tenancy.models import Tenant
from prm.tenancy.params import notice, quoted
from prm.tenancy.requests import MemberRequest, as_member, tenant_of
from prm.tenancy.scoping import tenant_scope

from . import adjustments, admin_forms, ledger, periods
from .models import (
    DealAccrualState,
    Dispute,
    ExchangeRate,
    IncentiveSettings,
    LedgerEntry,
    PlanVersion,
    Settlement,
)
from .money import format_money
from .wording import cause

Status = PlanVersion.Status
# Deals retried at once from the stuck-accruals list.
MAX_RETRY = 200


def admin_link(
    request: HttpRequest, obj: Any, perm: str | None = None, text: str | None = None
) -> str:
    """A link to ``obj``'s admin page when the person may open it, else its
    name."""
    text = str(obj) if text is None else text
    if perm and not as_member(request).membership.has_perm(perm):
        return text
    opts = obj._meta
    try:
        url = reverse(f"tenant_admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return text
    return format_html('<a href="{}">{}</a>', url, text)


# --- The ledger ----------------------------------------------------------------------


class CurrencyFilter(admin.SimpleListFilter):
    """The base currency and those with exchange rates (a DISTINCT over the
    ledger itself would read every entry)."""

    title = "currency"
    parameter_name = "currency"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        base = tenant_of(request).base_currency
        others = (
            ExchangeRate.objects.exclude(currency=base)
            .order_by("currency")
            .values_list("currency", flat=True)
            .distinct()
        )
        return [(base, f"{base} (base)"), *((c, c) for c in others)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value():
            return queryset.filter(currency=self.value())
        return queryset


class StatementPeriodFilter(admin.SimpleListFilter):
    """The statement period an entry is booked in: the last twelve (and the
    chosen one), from the tenant's statement period setting."""

    title = "statement period"
    parameter_name = "statement"
    SHOWN = 12

    def _selected(self) -> Any:
        value = self.value()
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            return None

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        period = IncentiveSettings.for_tenant(tenant_of(request)).statement_period
        start = periods.period_start(tenant_of(request).local_today(), period)
        starts = []
        for _ in range(self.SHOWN):
            starts.append(start)
            start = periods.period_start(start - timedelta(days=1), period)
        selected = self._selected()
        if selected and selected not in starts:
            starts.insert(0, selected)
        return [(s.isoformat(), periods.label(s, period)) for s in starts]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() is None:
            return queryset
        selected = self._selected()
        return queryset.filter(statement_start=selected) if selected else queryset.none()


class VersionFilter(ChosenObjectFilter):
    title = "plan version"
    parameter_name = "version"
    field = "plan_version_id"

    def candidates(self, request: HttpRequest, model_admin: Any) -> QuerySet[Any]:
        return PlanVersion.objects.select_related("plan").order_by("plan__name", "-number")

    def chosen(self, pk: uuid.UUID) -> PlanVersion | None:
        return PlanVersion.objects.select_related("plan").filter(pk=pk).first()

    def label(self, obj: Any) -> str:
        return f"{obj.plan.name} v{obj.number}"


LEDGER_CSV_COLUMNS = [
    "id",
    "created at",
    "partner",
    "kind",
    "source",
    "amount",
    "currency",
    "exchange rate",
    "amount (base)",
    "base currency",
    "deal",
    "plan",
    "version",
    "effective date",
    "period start",
    "statement start",
    "available on",
    "reverses",
    "description",
    "created via",
    "created by",
    "idempotency key",
]


@admin.register(LedgerEntry, site=tenant_admin_site)
class LedgerEntryAdmin(TenantModelAdmin):
    list_display = [
        "booked",
        "partner",
        "what",
        "kind",
        "amount_display",
        "base_display",
        "fx_rate",
        "deal",
        "version",
        "effective_date",
        "available_on",
    ]
    list_display_links = ["booked"]
    list_filter = [
        MetricRowsFilter,
        "kind",
        "source",
        CurrencyFilter,
        PartnerFilter,
        StatementPeriodFilter,
        VersionFilter,
    ]
    search_fields = ["=registration__code", "partner__name", "=idempotency_key"]
    list_select_related = ["partner", "registration", "plan_version__plan", "created_by"]
    # Ids are time-ordered (UUID7): newest first without sorting the table.
    ordering = ["-id"]
    paginator = LargeTablePaginator
    change_list_template = "admin/incentives/ledgerentry/change_list.html"
    change_form_template = "admin/incentives/ledgerentry/change_form.html"
    fieldsets = [
        (
            "Entry",
            {
                "fields": [
                    "partner",
                    "what",
                    "kind",
                    "source",
                    "amount_display",
                    "fx_rate",
                    "base_display",
                    "description",
                ]
            },
        ),
        (
            "Where it comes from",
            {
                "fields": [
                    "registration",
                    "plan_version",
                    "basis_display",
                    "dispute",
                    "payout_run",
                    "reverses",
                ]
            },
        ),
        (
            "Dates",
            {"fields": ["effective_date", "period_start", "statement_start", "available_on"]},
        ),
        (
            "Record",
            {"fields": ["created_at", "created_by", "created_via", "idempotency_key", "checksum"]},
        ),
    ]

    # Entries are only ever added, and only through the services: nobody
    # edits or deletes one here.
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    # Columns

    @admin.display(description="booked", ordering="created_at")
    def booked(self, obj: LedgerEntry) -> str:
        return fmt.moment(obj.created_at)  # the tenant's zone (middleware)

    @admin.display(description="what happened")
    def what(self, obj: LedgerEntry) -> str:
        return cause(obj)

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj: LedgerEntry) -> str:
        return format_money(obj.amount, obj.currency)

    @admin.display(description="base amount", ordering="amount_base")
    def base_display(self, obj: LedgerEntry) -> str:
        return format_money(obj.amount_base, obj.base_currency)

    @admin.display(description="computed on")
    def basis_display(self, obj: LedgerEntry) -> str | None:
        if obj.basis_amount is None:
            return None
        return format_money(obj.basis_amount, obj.basis_currency or obj.currency)

    @admin.display(description="deal", ordering="registration__code")
    def deal(self, obj: Any) -> str | None:
        return obj.registration.code if obj.registration_id else None

    @admin.display(description="plan version")
    def version(self, obj: Any) -> str | None:
        if not obj.plan_version_id:
            return None
        return f"{obj.plan_version.plan.name} v{obj.plan_version.number}"

    # The entry's page: read-only, with its chain

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        entry = self.get_object(request, unquote(object_id))
        if entry is None:
            raise Http404("No such object.")
        membership = as_member(request).membership
        settlement = Settlement.objects.filter(entry=entry).select_related("run", "payout").first()
        chain = {
            "reverses": entry.reverses,
            "reversed_by": list(entry.reversed_by.order_by("created_at", "id")),
            "settlement": settlement,
            "settles_count": entry.settles.count() if entry.kind == LedgerEntry.Kind.PAYOUT else 0,
            "disputes": list(entry.disputes.order_by("created_at")),
            "resolves": Dispute.objects.filter(adjustment=entry).first(),
        }
        links = {
            "registration": entry.registration_id
            and admin_link(request, entry.registration, "dealreg.view_dealregistration"),
            "plan_version": entry.plan_version_id
            and admin_link(request, entry.plan_version, "incentives.view_planversion"),
            "payout_run": entry.payout_run_id
            and admin_link(request, entry.payout_run, "incentives.view_payoutrun"),
            "settlement_run": settlement
            and admin_link(request, settlement.run, "incentives.view_payoutrun"),
            "settlement_payout": settlement and admin_link(request, settlement.payout),
            "reverses": entry.reverses_id and admin_link(request, entry.reverses),
            "reversed_by": format_html_join(
                ", ", "{}", ((admin_link(request, e),) for e in chain["reversed_by"])
            ),
            "disputes": format_html_join(
                ", ",
                "{} ({})",
                (
                    (admin_link(request, d, "incentives.view_dispute"), d.get_status_display())
                    for d in chain["disputes"]
                ),
            ),
            "resolves": chain["resolves"]
            and admin_link(request, chain["resolves"], "incentives.view_dispute"),
        }
        context = {
            **(extra_context or {}),
            "entry": entry,
            "cause": cause(entry),
            "chain": chain,
            "links": links,
            "checksum_ok": entry.checksum == entry.compute_checksum(),
            "can_adjust": membership.has_perm("incentives.add_ledgerentry"),
        }
        return super().change_view(request, object_id, form_url, context)

    # The list: export, and "add" is a manual adjustment

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("export/", wrap(self.export_view), name="incentives_ledgerentry_export"),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        membership = as_member(request).membership
        extra_context = {
            **(extra_context or {}),
            "can_export": membership.has_perm("incentives.export_ledgerentry"),
            "can_adjust": self.has_add_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def export_view(self, request: MemberRequest) -> HttpResponseBase:
        """The list as it is filtered and searched, as CSV, streamed (the
        ledger may hold millions of entries)."""
        if not as_member(request).membership.has_perm("incentives.export_ledgerentry"):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            raise BadRequest(
                "The file was not made: a filter in the address names nothing here "
                "(a link may have been cut short or edited)."
            ) from None
        entries = changelist.get_queryset(request).select_related(
            "partner", "registration", "plan_version__plan", "created_by"
        )
        tenant = tenant_of(request)
        return csv_response(
            export_filename(tenant, "ledger"),
            _ledger_csv_rows(tenant, entries),
            LEDGER_CSV_COLUMNS,
            stream=True,
        )

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """A manual adjustment (finance): a new entry with a reason."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        tenant = tenant_of(request)
        today = tenant.local_today()
        initial = {}
        if request.GET.get("partner"):
            try:
                initial["partner"] = uuid.UUID(request.GET["partner"])
            except ValueError:
                notice(request, f"{quoted(request.GET['partner'])} is not a partner; choose one.")
        form = admin_forms.ManualAdjustmentForm(
            request.POST or None, tenant=tenant, today=today, initial=initial
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            token = str(data["token"])
            repeated = LedgerEntry.objects.filter(
                idempotency_key=adjustments.adjustment_key(token)
            ).exists()
            try:
                entry = adjustments.manual_adjustment(
                    tenant,
                    by=as_member(request).membership,
                    partner=data["partner"],
                    amount=data["amount"],
                    currency=data["currency"],
                    effective_date=data["effective_date"],
                    reason=data["reason"],
                    token=token,
                )
            except ledger.IncentiveError as error:
                form.add_error(error.field if error.field in form.fields else None, str(error))
            else:
                if repeated:
                    messages.info(request, "That adjustment was already recorded (once).")
                else:
                    base = format_money(entry.amount_base, entry.base_currency)
                    messages.success(
                        request,
                        f"Adjustment of {format_money(entry.amount, entry.currency)} recorded "
                        f"for {data['partner']} ({base} at rate {entry.fx_rate.normalize():f}).",
                    )
                return redirect("tenant_admin:incentives_ledgerentry_change", entry.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Record a manual adjustment",
            "form": form,
            "base_currency": tenant.base_currency,
            "changelist_url": reverse("tenant_admin:incentives_ledgerentry_changelist"),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/incentives/ledgerentry/adjustment.html", context)


def _ledger_csv_rows(tenant: Tenant, entries: QuerySet[LedgerEntry]) -> Iterator[list[object]]:
    """CSV rows of ``entries``; the response is read after the view has
    returned (outside the request's scope), so the scope is entered here."""
    tz = tenant.tzinfo
    with tenant_scope(tenant):
        for e in entries.iterator(chunk_size=2000):
            # LedgerEntry's optional references lose their types in
            # incentives.models (unchecked until the models package lands).
            version = cast(PlanVersion | None, e.plan_version)
            deal = cast(DealRegistration | None, e.registration)
            yield [
                e.pk,
                timezone.localtime(e.created_at, tz).strftime("%Y-%m-%d %H:%M:%S"),
                e.partner.name,
                e.kind,
                e.source,
                e.amount,
                e.currency,
                e.fx_rate,
                e.amount_base,
                e.base_currency,
                deal.code if deal is not None else "",
                version.plan.name if version else "",
                version.number if version else "",
                e.effective_date,
                e.period_start,
                e.statement_start,
                e.available_on,
                e.reverses_id or "",
                e.description,
                e.created_via,
                e.created_by.email if e.created_by is not None else "",
                e.idempotency_key,
            ]


# --- Deals whose accrual is stuck ----------------------------------------------------


@admin.register(DealAccrualState, site=tenant_admin_site)
class DealAccrualStateAdmin(TenantModelAdmin):
    """Won deals the ledger could not bring in line (e.g. no exchange rate
    for the deal's currency on its close date). "Retry now" runs the sync
    for the selected ones once the cause is fixed."""

    list_display = ["deal", "partner", "won", "close_date", "problem"]
    list_select_related = ["registration__partner"]
    search_fields = ["=registration__code", "registration__partner__name", "problem"]
    ordering = ["registration__won_close_date", "id"]
    actions = ["retry_selected"]
    fields = ["deal", "partner", "won", "close_date", "problem", "synced_at"]
    readonly_fields = fields  # type: ignore[assignment]  # all shown, none edited

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(~Q(problem=""))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="deal", ordering="registration__code")
    def deal(self, obj: DealAccrualState) -> str:
        r = obj.registration
        return format_html("<strong>{}</strong> {}", r.code, r.customer_name)

    @admin.display(description="partner", ordering="registration__partner__name")
    def partner(self, obj: DealAccrualState) -> str:
        return obj.registration.partner.name

    @admin.display(description="won")
    def won(self, obj: DealAccrualState) -> str | None:
        r = obj.registration
        if r.won_amount is None:
            return None
        return format_money(r.won_amount, r.won_currency or r.currency)

    @admin.display(description="close date", ordering="registration__won_close_date")
    def close_date(self, obj: DealAccrualState) -> date | None:
        return obj.registration.won_close_date

    @admin.action(permissions=["view"], description="Retry now")
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[DealAccrualState]) -> None:
        states = list(
            queryset.select_related("registration__partner", "registration__tenant")[
                : MAX_RETRY + 1
            ]
        )
        if len(states) > MAX_RETRY:
            messages.error(request, f"Retry at most {MAX_RETRY} deals at a time.")
            return None
        fixed, written, still = [], 0, []
        for state in states:
            registration = state.registration
            try:
                written += len(ledger.sync_deal(registration, via="admin:retry"))
            except ledger.IncentiveError as problem:
                ledger.record_problem(registration, str(problem))
                still.append(f"{registration.code}: {problem}")
            else:
                fixed.append(registration.code)
        if fixed:
            messages.success(
                request,
                f"In line now: {', '.join(fixed)} ({written} "
                f"{'entry' if written == 1 else 'entries'} written).",
            )
        for text in still:
            messages.error(request, f"Still stuck: {text}")
        return None

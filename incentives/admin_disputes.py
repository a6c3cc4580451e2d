"""Disputes and statements in the tenant admin.

Finance works disputes here: a list filtered by status, partner and the
disputed amount, and a page per dispute with the disputed line, the thread,
a reply form and the two ways to close it (an adjustment entry, or a
rejection with a reason). The dispute itself is never saved as a form: the
page is read-only and its forms post a named ``_action`` back to it, which
runs the matching ``incentives.disputes`` operation. Ops and executives
read the same pages.

Issued statements are listed read-only; any partner's statement for any
period (the current one included) opens on a page that reuses the portal's
statement partial, with its CSV and PDF, and the list exports as CSV.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import BadRequest, PermissionDenied
from django.db.models import QuerySet
from django.db.models.functions import Abs
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from partners.admin_filters import PartnerWithRowsFilter
from partners.models import Partner
from prm import format as fmt
from prm.csvio import csv_response, export_filename
from prm.tenancy.admin_base import ActionFormsMixin, TenantModelAdmin, tenant_admin_site
from prm.tenancy.chips import chip
from prm.tenancy.confirm import Confirmation
from prm.tenancy.requests import MemberRequest, as_member, tenant_of

from . import disputes, periods, statement_export, statements, views
from .forms import AdjustForm, AdminReplyForm, RejectForm, StatementPickForm
from .ledger import IncentiveError
from .models import Dispute, Statement
from .money import format_money

CSS = {"all": ["admin/dealreg.css", "admin/incentives_statements.css"]}


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("open_any", "Open or answered"), *Dispute.Status.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "open_any":
            return queryset.filter(status__in=disputes.OPEN)
        if self.value() in Dispute.Status.values:
            return queryset.filter(status=self.value())
        return queryset


class AmountFilter(admin.SimpleListFilter):
    """The disputed line's size in the base currency (either sign)."""

    title = "disputed amount"
    parameter_name = "amount"
    BANDS = {
        "lt100": (None, Decimal("100")),
        "100-1000": (Decimal("100"), Decimal("1000")),
        "1000-10000": (Decimal("1000"), Decimal("10000")),
        "gte10000": (Decimal("10000"), None),
    }

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [
            ("lt100", "under 100"),
            ("100-1000", "100 to 1,000"),
            ("1000-10000", "1,000 to 10,000"),
            ("gte10000", "10,000 and more"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        low, high = band
        queryset = queryset.annotate(disputed_abs=Abs("entry__amount_base"))
        if low is not None:
            queryset = queryset.filter(disputed_abs__gte=low)
        if high is not None:
            queryset = queryset.filter(disputed_abs__lt=high)
        return queryset


@admin.register(Dispute, site=tenant_admin_site)
class DisputeAdmin(ActionFormsMixin, TenantModelAdmin):
    list_display = ["dispute", "partner", "status_badge", "disputed_amount", "line", "opened"]
    list_display_links = ["dispute"]
    list_filter = [StatusFilter, PartnerWithRowsFilter, AmountFilter]
    search_fields = ["code", "partner__name", "entry__description"]
    list_select_related = ["partner", "entry", "opened_by"]
    ordering = ["-created_at"]
    change_form_template = "admin/incentives/dispute/change_form.html"
    fields = [
        "code",
        "partner",
        "status",
        "opened_by",
        "created_at",
        "resolution",
        "resolved_by",
        "resolved_at",
        "adjustment",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # all shown, none edited

    class Media:
        css = CSS

    # Partners open disputes; finance closes them through the page's forms.
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="dispute", ordering="code")
    def dispute(self, obj: Dispute) -> str:
        return format_html('<strong class="dr-code">{}</strong>', obj.code)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Dispute) -> str:
        return chip(obj.get_status_display(), obj.status, extra=f"dp-status dp-status-{obj.status}")

    @admin.display(description="disputed line", ordering="entry__amount_base")
    def disputed_amount(self, obj: Dispute) -> str:
        return format_money(obj.entry.amount_base, obj.entry.base_currency)

    @admin.display(description="line")
    def line(self, obj: Dispute) -> str:
        return obj.entry.description

    @admin.display(description="opened", ordering="created_at")
    def opened(self, obj: Dispute) -> str:
        return f"{fmt.moment(obj.created_at)} by {obj.opened_by}"

    action_forms = {"reply": AdminReplyForm, "adjust": AdjustForm, "reject": RejectForm}
    action_errors = IncentiveError

    def action_allowed(self, request: HttpRequest, action: str, dispute: Dispute) -> bool:
        return disputes.finance_may_decide(as_member(request).membership)

    def action_refused(
        self, request: HttpRequest, action: str, dispute: Dispute, form: Any, error: Exception
    ) -> HttpResponse | None:
        dispute.refresh_from_db()
        if not dispute.is_open and action != "reply":
            # Closed in the meantime (a second press, or a colleague).
            messages.warning(request, str(error))
            return redirect(request.path)
        return super().action_refused(request, action, dispute, form, error)

    def action_confirmation(
        self, request: HttpRequest, action: str, dispute: Dispute, form: Any
    ) -> Confirmation | None:
        """Closing a dispute cannot be undone (and an adjustment is money in
        the append-only ledger): asked first."""
        if action == "reply" or not dispute.is_open:
            return None
        partner, reason = dispute.partner.name, form.cleaned_data["reason"]
        told = f"{partner} is told, with your reason: \u201c{reason}\u201d"
        if action == "adjust":
            currency = tenant_of(request).base_currency
            try:
                amount = disputes.parse_amount(form.cleaned_data["amount"], currency)
            except IncentiveError:
                return None  # the service refuses it on the form
            consequences = [
                f"An adjustment of {format_money(amount, currency)} is booked to {partner}'s "
                "ledger, payable at once. Ledger entries are never changed or deleted: a "
                "mistake needs another adjustment.",
                f"{dispute.code} is closed as resolved. {told}",
            ]
            title, label = f"Resolve {dispute.code} with an adjustment?", "Book the adjustment"
        else:
            consequences = [
                f"{dispute.code} is closed without any change to the ledger. {told}",
                "A closed dispute cannot be reopened: the partner would dispute the line again.",
            ]
            title, label = f"Reject {dispute.code}?", "Reject the dispute"
        return Confirmation(
            title=title,
            object_label=f"{dispute.code} · {partner}",
            consequences=consequences,
            action_label=label,
            cancel_url=request.path,
        )

    def run_action(self, request: HttpRequest, action: str, dispute: Dispute, form: Any) -> str:
        by, data = as_member(request).membership, form.cleaned_data
        if action == "reply":
            disputes.add_message(dispute, by=by, body=data["body"])
            return "Message sent to the partner."
        if action == "adjust":
            done = disputes.resolve_with_adjustment(
                dispute, by=by, amount=data["amount"], reason=data["reason"]
            )
            entry = done.adjustment
            assert entry is not None  # resolved with an adjustment
            return (
                f"{done.code} resolved: an adjustment of "
                f"{format_money(entry.amount, entry.currency)} was booked."
            )
        disputes.reject(dispute, by=by, reason=data["reason"])
        return f"{dispute.code} rejected."

    def action_page_context(
        self, request: HttpRequest, dispute: Dispute, bound: dict[str, Form]
    ) -> dict[str, Any]:
        entry = dispute.entry
        forms = self.action_page_forms(request, dispute, bound) if dispute.is_open else {}
        return {
            "dispute_obj": dispute,
            "line": statement_export.line(entry, tenant_of(request).tzinfo),
            "thread": dispute.messages.select_related("author").order_by("created_at", "pk"),
            "forms": forms,
            "statement_url": _partner_statement_url(dispute.partner_id, entry.statement_start),
            "base_currency": tenant_of(request).base_currency,
        }


def _partner_statement_url(partner_id: uuid.UUID, start: date | None = None) -> str:
    query = {"partner": str(partner_id)}
    if start is not None:
        query["period"] = start.isoformat()
    return f"{reverse('tenant_admin:incentives_statement_partner')}?{urlencode(query)}"


# --- Statements -----------------------------------------------------------------------


class PeriodFilter(admin.SimpleListFilter):
    title = "period"
    parameter_name = "period_start"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        starts = (
            Statement.objects.order_by("-period_start")
            .values_list("period_start", "period")
            .distinct()[:36]
        )
        return [(s.isoformat(), periods.label(s, p)) for s, p in starts]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return queryset.none()
        return queryset.filter(period_start=day)


STATEMENT_CSV_COLUMNS = [
    "partner",
    "period",
    "period start",
    "period end",
    "currency",
    "opening",
    "accruals",
    "adjustments",
    "clawbacks",
    "MDF reimbursements",
    "payouts",
    "closing",
    "lines",
    "issued at",
]


@admin.register(Statement, site=tenant_admin_site)
class StatementAdmin(TenantModelAdmin):
    list_display = [
        "partner",
        "period_label",
        "opening_display",
        "accruals_display",
        "adjustments_display",
        "clawbacks_display",
        "reimbursements_display",
        "payouts_display",
        "closing_display",
        "line_count",
        "issued_at",
        "open_link",
    ]
    list_filter = [PeriodFilter, PartnerWithRowsFilter]
    search_fields = ["partner__name"]
    list_select_related = ["partner"]
    ordering = ["-period_start", "partner__name"]
    change_list_template = "admin/incentives/statement/change_list.html"
    fields = [
        "partner",
        "period",
        "period_start",
        "period_end",
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
        "open_link",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # all shown, none edited

    class Media:
        css = CSS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="period", ordering="period_start")
    def period_label(self, obj: Statement) -> str:
        return periods.label(obj.period_start, obj.period)

    def _money(self, obj: Statement, field: str) -> str:
        return format_money(getattr(obj, field), obj.currency)

    @admin.display(description="opening", ordering="opening")
    def opening_display(self, obj: Statement) -> str:
        return self._money(obj, "opening")

    @admin.display(description="accruals", ordering="accruals")
    def accruals_display(self, obj: Statement) -> str:
        return self._money(obj, "accruals")

    @admin.display(description="adjustments", ordering="adjustments")
    def adjustments_display(self, obj: Statement) -> str:
        return self._money(obj, "adjustments")

    @admin.display(description="clawbacks", ordering="clawbacks")
    def clawbacks_display(self, obj: Statement) -> str:
        return self._money(obj, "clawbacks")

    @admin.display(description="MDF reimbursements", ordering="reimbursements")
    def reimbursements_display(self, obj: Statement) -> str:
        return self._money(obj, "reimbursements")

    @admin.display(description="payouts", ordering="payouts")
    def payouts_display(self, obj: Statement) -> str:
        return self._money(obj, "payouts")

    @admin.display(description="closing", ordering="closing")
    def closing_display(self, obj: Statement) -> str:
        return self._money(obj, "closing")

    @admin.display(description="statement")
    def open_link(self, obj: Statement) -> str:
        return format_html(
            '<a href="{}">Open the statement</a>',
            _partner_statement_url(obj.partner_id, obj.period_start),
        )

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "partner/",
                wrap(self.partner_statement_view),
                name="incentives_statement_partner",
            ),
            path("export.csv", wrap(self.export_view), name="incentives_statement_export"),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "can_export": as_member(request).membership.has_perm("incentives.export_statement"),
            "export_query": request.GET.urlencode(),
            **self.portal_periods(request),
        }
        return super().changelist_view(request, extra_context)

    def portal_periods(self, request: HttpRequest) -> dict[str, Any]:
        """For the list filtered to one partner: every statement the partner
        sees in the portal (the period in progress and the ended ones not
        issued yet too, which have no issued row in this list), with the
        same figures and a link to each."""
        try:
            partner_id = uuid.UUID(request.GET.get("partner", ""))
        except ValueError:
            return {}
        partner = Partner.objects.filter(pk=partner_id).first()
        if partner is None:
            return {}
        partner.tenant = tenant_of(request)
        currency = partner.tenant.base_currency
        return {
            "portal_partner": partner,
            "portal_periods": [
                {
                    "summary": summary,
                    "opening": format_money(summary.opening, currency),
                    "closing": format_money(summary.closing, currency),
                    "url": _partner_statement_url(partner.pk, summary.start),
                    "state": "issued"
                    if summary.issued
                    else ("being issued" if summary.ended else "in progress"),
                }
                for summary in statements.periods_of(partner)
            ],
        }

    def export_view(self, request: MemberRequest) -> HttpResponseBase:
        """The issued statements the list shows (same filters), as CSV."""
        if not as_member(request).membership.has_perm("incentives.export_statement"):
            raise PermissionDenied
        rows: QuerySet[Statement] = Statement.objects.filter(
            tenant=tenant_of(request)
        ).select_related("partner")
        for filter_class in (PeriodFilter, PartnerWithRowsFilter):
            params = {filter_class.parameter_name: request.GET.getlist(filter_class.parameter_name)}
            if params[filter_class.parameter_name]:
                # Django 5 passes filters lists of values (the stubs say str).
                rows = filter_class(request, params, Statement, self).queryset(  # type: ignore[arg-type]
                    request, rows
                )
        rows = rows.order_by("-period_start", "partner__name")
        tz = tenant_of(request).tzinfo

        def csv_rows() -> Iterator[list[object]]:
            for s in rows.iterator(chunk_size=1000):
                yield [
                    s.partner.name,
                    periods.label(s.period_start, s.period),
                    s.period_start,
                    s.period_end,
                    s.currency,
                    *(
                        statement_export.plain(getattr(s, part), s.currency)
                        for part in (
                            "opening",
                            "accruals",
                            "adjustments",
                            "clawbacks",
                            "reimbursements",
                            "payouts",
                        )
                    ),
                    statement_export.plain(s.closing, s.currency),
                    s.line_count,
                    timezone.localtime(s.issued_at, tz).strftime("%Y-%m-%d %H:%M"),
                ]

        return csv_response(
            export_filename(tenant_of(request), "statements"), csv_rows(), STATEMENT_CSV_COLUMNS
        )

    def partner_statement_view(self, request: MemberRequest) -> HttpResponseBase:
        """Any partner's statement for any period, as the partner sees it
        (deal links open the admin), with its CSV and PDF."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = StatementPickForm(request.GET if "partner" in request.GET else None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Partner statement",
            "form": form,
            "media": self.media,
            "changelist_url": reverse("tenant_admin:incentives_statement_changelist"),
        }
        if form.is_valid():
            partner = form.cleaned_data["partner"]
            partner.tenant = tenant_of(request)
            period_text = form.cleaned_data["period"]
            wanted = request.GET.get("format")
            if wanted in ("csv", "pdf"):
                if not as_member(request).membership.has_perm("incentives.export_statement"):
                    raise PermissionDenied
                return self._statement_file(request, partner, period_text, wanted)
            try:
                context.update(
                    views.statement_context(request, partner, period_text=period_text, staff=True)
                )
            except Http404 as exc:
                form.add_error("period", str(exc))
            else:
                query = urlencode({"partner": str(partner.pk), "period": context["statement"].key})
                here = request.path
                context.update(
                    {
                        "title": f"Statement: {partner.name}",
                        "partner": partner,
                        "periods": statements.periods_of(partner),
                        "page_query": query,
                        "csv_url": f"{here}?{query}&format=csv",
                        "pdf_url": f"{here}?{query}&format=pdf",
                        "can_export": as_member(request).membership.has_perm(
                            "incentives.export_statement"
                        ),
                    }
                )
        return TemplateResponse(request, "admin/incentives/statement/partner.html", context)

    def _statement_file(
        self, request: HttpRequest, partner: Partner, period_text: str | None, wanted: str
    ) -> HttpResponseBase:
        period = statements.statement_period(tenant_of(request))
        try:
            start = statements.parse_period(tenant_of(request), period_text, period=period)
        except IncentiveError as exc:
            raise BadRequest(f"The file was not made: {exc}") from exc
        view = statements.statement(partner, start, period=period)
        entries = views.lines_for_file(partner, view)
        if wanted == "csv":
            return statement_export.csv_response(view, entries)
        return views.pdf_response(view, entries)

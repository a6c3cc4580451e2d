"""Payout runs in the tenant admin (finance runs them; executives read).

The add page asks for the cutoff only and starts the run through
``payouts.start_run``. A run's page shows its progress while a task computes
or writes it (the page reloads itself with a meta refresh: no scripts), the
partners' lines with hold/release, and the run's next steps: approve, mark
paid (payment reference and date), cancel, retry a failed run. As on the deal
registration page, the run is never saved as a form: each form posts a named
``_action`` back to the page, which calls the matching service. Accounts
payable get a CSV of an approved or paid run from the export page.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import BadRequest, PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from prm.csvio import csv_response, export_filename
from prm.tenancy.admin_base import ActionFormsMixin, TenantModelAdmin, tenant_admin_site
from prm.tenancy.chips import chip
from prm.tenancy.confirm import Confirmation
from prm.tenancy.models import AuditEntry, Tenant
from prm.tenancy.params import notice, page_of, quoted
from prm.tenancy.requests import MemberRequest, as_member, tenant_of
from prm.tenancy.text import plural

from . import payouts
from .models import IncentiveSettings, PayoutLine, PayoutRun
from .money import format_money

Status = PayoutRun.Status
LineStatus = PayoutLine.Status
LINES_PER_PAGE = 100
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


# --- Forms ------------------------------------------------------------------------------


class StartRunForm(forms.Form):
    cutoff = forms.DateField(
        widget=DATE_INPUT,
        help_text="Entries payable on or before this date are paid (today at the latest).",
    )


class ApproveForm(forms.Form):
    pass


class RetryForm(forms.Form):
    pass


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=300, widget=forms.TextInput(attrs={"size": 50}))


class MarkPaidForm(forms.Form):
    reference = forms.CharField(
        label="Payment reference",
        max_length=100,
        help_text="The bank's batch or transfer reference.",
    )
    paid_on = forms.DateField(
        label="Paid on", required=False, widget=DATE_INPUT, help_text="Empty for today."
    )


class LineForm(forms.Form):
    line = forms.UUIDField(widget=forms.HiddenInput)
    reason = forms.CharField(max_length=300, required=False)


# --- The admin -----------------------------------------------------------------------------


@admin.register(PayoutRun, site=tenant_admin_site)
class PayoutRunAdmin(ActionFormsMixin, TenantModelAdmin):
    list_display = [
        "reference",
        "cutoff",
        "status_label",
        "progress",
        "total",
        "payment_reference",
        "created_at",
        "approved_by",
    ]
    list_display_links = ["reference"]
    list_filter = ["status"]
    search_fields = ["reference", "payment_reference"]
    ordering = ["-created_at"]
    fields = [
        "reference",
        "status",
        "cutoff",
        "currency",
        "minimum_payout",
        "partners_total",
        "partners_done",
        "total_payable",
        "error",
        "created_by",
        "created_at",
        "heartbeat_at",
        "approved_by",
        "approved_at",
        "paid_by",
        "paid_at",
        "payment_reference",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # all shown, none edited
    add_form_template = "admin/incentives/payoutrun/add_form.html"
    export_template = "admin/incentives/payoutrun/export.html"

    action_forms = {
        "approve": ApproveForm,
        "mark_paid": MarkPaidForm,
        "cancel": CancelForm,
        "retry": RetryForm,
        "hold": LineForm,
        "release": LineForm,
    }
    action_errors = payouts.PayoutError
    ACTION_PERMS = {
        "approve": "incentives.approve_payoutrun",
        "mark_paid": "incentives.approve_payoutrun",
        "cancel": "incentives.change_payoutrun",
        "retry": "incentives.change_payoutrun",
        "hold": "incentives.change_payoutrun",
        "release": "incentives.change_payoutrun",
    }
    # Hold and release post from the lines' rows; their errors show there.
    LINE_ACTIONS = ("hold", "release")
    # Which run-level forms a run in each status offers.
    STEPS: dict[str, list[str]] = {
        Status.COMPUTING: ["cancel"],
        Status.REVIEW: ["approve", "cancel"],
        Status.APPROVED: ["mark_paid"],
        Status.FAILED: ["retry", "cancel"],
    }

    # Runs change only through the services (the page's forms); nobody
    # deletes one (its entries and settlements point at it).
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def action_allowed(self, request: HttpRequest, action: str, run: PayoutRun) -> bool:
        return as_member(request).membership.has_perm(self.ACTION_PERMS[action])

    def make_action_form(
        self, request: HttpRequest, action: str, run: PayoutRun, data: QueryDict | None = None
    ) -> Form:
        # Unprefixed: the lines' forms name their fields "line" and "reason".
        return self.action_forms[action](data)

    def action_done_url(self, request: HttpRequest) -> str:
        # Back to the same page of lines, with the same status filter.
        return request.get_full_path()

    def action_confirmation(
        self, request: HttpRequest, action: str, run: PayoutRun, form: Any
    ) -> Confirmation | None:
        """Cancelling a run cannot be undone: asked first."""
        if action != "cancel" or run.status not in (
            Status.COMPUTING,
            Status.REVIEW,
            Status.FAILED,
        ):
            return None
        partners = PayoutLine.objects.filter(run=run).count()
        ready = format_money(run.total_payable, run.currency)
        return Confirmation(
            title=f"Cancel {run.reference}?",
            object_label=f"{run.reference} · {run.get_status_display().lower()} · "
            f"entries payable on or before {run.cutoff.day} {run.cutoff:%b %Y}",
            consequences=[
                f"Nothing is paid from {run.reference}: its "
                f"{plural(partners, 'partner line')} ({ready} ready to pay) are dropped.",
                "Every entry stays payable: the next run picks it up.",
                "A cancelled run cannot be reopened: start a new run instead.",
                "Your reason is kept in the run's history: "
                f"\u201c{form.cleaned_data['reason']}\u201d",
            ],
            action_label="Cancel the run",
            cancel_url=request.get_full_path(),
        )

    def approve_withheld(self, request: HttpRequest, run: PayoutRun, ready: int) -> str:
        """Why "Approve" is not offered on a run in review ("" when it is)."""
        if ready == 0 or run.total_payable <= 0:
            return (
                "Nothing is payable in this run (every partner is on hold, below the minimum "
                "or owes a negative balance), so there is nothing to approve: cancel it."
            )
        if run.created_by_id == request.user.pk and payouts.maker_may_not_approve(run):
            return (
                f"You started {run.reference}: another finance person approves it "
                "(four eyes on payout runs, set in Incentive settings)."
            )
        return ""

    # Columns

    @admin.display(description="status", ordering="status")
    def status_label(self, obj: PayoutRun) -> str:
        return chip(obj.get_status_display(), obj.status)

    @admin.display(description="progress")
    def progress(self, obj: PayoutRun) -> str:
        if obj.status in (Status.COMPUTING, Status.APPROVING):
            return f"{obj.partners_done} of {obj.partners_total} partners"
        return f"{obj.partners_total} partners"

    @admin.display(description="total", ordering="total_payable")
    def total(self, obj: PayoutRun) -> str:
        return format_money(obj.total_payable, obj.currency)

    # Pages

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("export/", wrap(self.export_view), name="incentives_payoutrun_export"),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "can_export": as_member(request).membership.has_perm("incentives.export_payoutrun"),
        }
        return super().changelist_view(request, extra_context)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The cutoff only; ``start_run`` does the rest (and refuses a second
        open run, so a double submit starts one run)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        tenant = tenant_of(request)
        form = StartRunForm(initial={"cutoff": tenant.local_today()})
        if request.method == "POST":
            form = StartRunForm(request.POST)
            if form.is_valid():
                try:
                    run = payouts.start_run(
                        tenant, by=as_member(request).membership, cutoff=form.cleaned_data["cutoff"]
                    )
                except payouts.PayoutError as exc:
                    form.add_error("cutoff" if exc.field == "cutoff" else None, str(exc))
                else:
                    messages.success(
                        request,
                        f"{run.reference} started: the partners' payable amounts are being "
                        "computed.",
                    )
                    return redirect("tenant_admin:incentives_payoutrun_change", run.pk)
        settings_row = IncentiveSettings.for_tenant(tenant)
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "opts": self.opts,
            "title": "Start a payout run",
            "form": form,
            "holding_days": settings_row.holding_days,
            "minimum": format_money(settings_row.minimum_payout, tenant.base_currency),
            "open_run": payouts.open_run(),
            "changelist_url": reverse("tenant_admin:incentives_payoutrun_changelist"),
        }
        return TemplateResponse(request, self.add_form_template, context)

    def run_action(self, request: HttpRequest, action: str, run: PayoutRun, form: Any) -> str:
        by, data = as_member(request).membership, form.cleaned_data
        if action in self.LINE_ACTIONS:
            line = PayoutLine.objects.filter(run=run, pk=data["line"]).first()
            if line is None:
                raise Http404("No such line.")
            payouts.set_hold(line, by=by, hold=action == "hold", reason=data["reason"])
            name = line.partner.name
            if action == "hold":
                return f"{name} is on hold: not paid in {run.reference}."
            return f"{name} released."
        if action == "approve":
            payouts.approve(run, by=by)
            return f"{run.reference} approved: the payouts are being written."
        if action == "mark_paid":
            done = payouts.mark_paid(
                run, by=by, reference=data["reference"], paid_on=data["paid_on"]
            )
            return f"{run.reference} marked paid ({done.payment_reference}); partners notified."
        if action == "cancel":
            payouts.cancel(run, by=by, reason=data["reason"])
            return f"{run.reference} cancelled; every entry stays payable."
        payouts.retry(run, by=by)
        return f"{run.reference} restarted."

    def action_page_context(
        self, request: HttpRequest, run: PayoutRun, bound: dict[str, Form]
    ) -> dict[str, Any]:
        if bound:
            # A refused or invalid form: show the run as it is now.
            run.refresh_from_db()
        line_forms = [bound.pop(action) for action in self.LINE_ACTIONS if action in bound]
        line_errors = _line_errors(line_forms)
        lines = PayoutLine.objects.filter(run=run)
        counts = {
            row["status"]: row
            for row in lines.order_by()
            .values("status")
            .annotate(n=Count("id"), total=Sum("payable"))
        }
        status_filter = request.GET.get("status", "")
        if status_filter not in LineStatus.values:
            if status_filter:
                notice(
                    request, f"{quoted(status_filter)} is not a line status; showing every line."
                )
            status_filter = ""
        shown = lines.select_related("partner").order_by("partner__name", "partner_id")
        if status_filter:
            shown = shown.filter(status=status_filter)
        page = page_of(request, Paginator(shown, LINES_PER_PAGE))
        may_change = as_member(request).membership.has_perm("incentives.change_payoutrun")
        ready = counts.get(LineStatus.READY, {}).get("n", 0)
        approve_note = (
            self.approve_withheld(request, run, ready) if run.status == Status.REVIEW else ""
        )
        offered = [
            action
            for action in self.STEPS.get(run.status, [])
            if not (action == "cancel" and run.status == Status.FAILED and run.approved_at)
            and not (action == "approve" and approve_note)
        ]
        query = request.GET.copy()
        query.pop("page", None)
        paid_on = (
            run.settlements.exclude(paid_on=None).values_list("paid_on", flat=True).first()
            if run.status == Status.PAID
            else None
        )
        percent = int(100 * run.partners_done / run.partners_total) if run.partners_total else 0
        return {
            "run": run,
            "approve_note": approve_note,
            "refresh": run.status in (Status.COMPUTING, Status.APPROVING),
            "percent": percent,
            "status_rows": [
                {
                    "value": value,
                    "label": label,
                    "n": counts[value]["n"],
                    "total": format_money(counts[value]["total"], run.currency),
                }
                for value, label in LineStatus.choices
                if value in counts
            ],
            "status_filter": status_filter,
            "page_obj": page,
            "lines": [
                {
                    "line": line,
                    "payable": format_money(line.payable, run.currency),
                    "error": line_errors.get(str(line.pk), ""),
                }
                for line in page.object_list
            ],
            "line_errors": [msg for key, msg in line_errors.items() if key and msg],
            "query": query.urlencode(),
            "can_hold": may_change and run.status == Status.REVIEW,
            "forms": self.action_page_forms(request, run, bound, offered),
            "can_export": as_member(request).membership.has_perm("incentives.export_payoutrun")
            and run.status in (Status.APPROVED, Status.PAID),
            "export_url": reverse("tenant_admin:incentives_payoutrun_export") + f"?run={run.pk}",
            "paid_on": paid_on,
            "minimum": format_money(run.minimum_payout, run.currency),
            "total": format_money(run.total_payable, run.currency),
            "audit_entries": AuditEntry.objects.filter(
                object_type=PayoutRun._meta.label_lower, object_id=str(run.pk)
            )
            .select_related("actor")
            .order_by("created_at"),
        }

    def export_view(self, request: MemberRequest) -> HttpResponseBase:
        """Without ``run``: the runs accounts payable can take. With it: that
        run's payouts as CSV (formula-safe cells)."""
        if not as_member(request).membership.has_perm("incentives.export_payoutrun"):
            raise PermissionDenied
        exportable = self.get_queryset(request).filter(status__in=[Status.APPROVED, Status.PAID])
        wanted = request.GET.get("run")
        if wanted is None:
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Export payouts for accounts payable",
                "runs": exportable.order_by("-created_at")[:100],
                "changelist_url": reverse("tenant_admin:incentives_payoutrun_changelist"),
            }
            return TemplateResponse(request, self.export_template, context)
        try:
            run_id = uuid.UUID(wanted)
        except ValueError:
            raise BadRequest(
                f"The file was not made: {quoted(wanted)} is not a payout run."
            ) from None
        run = self.get_queryset(request).filter(pk=run_id).first()
        if run is None:
            raise Http404("No such payout run.")
        if run.status not in (Status.APPROVED, Status.PAID):
            messages.error(
                request,
                f"{run.reference} is {run.get_status_display().lower()}: only approved or paid "
                "runs have payouts to export.",
            )
            return redirect("tenant_admin:incentives_payoutrun_change", run.pk)
        return ap_csv(tenant_of(request), run)


def _line_errors(forms: Iterable[Form]) -> dict[str, str]:
    """The errors of a hold or release form, by the id of the line it posted."""
    errors = {}
    for form in forms:
        cleaned = getattr(form, "cleaned_data", {})
        line = str(cleaned["line"]) if "line" in cleaned else form.data.get("line", "")
        errors[line] = " ".join(
            str(e) for field_errors in form.errors.values() for e in field_errors
        )
    return errors


def ap_csv(tenant: Tenant, run: PayoutRun) -> HttpResponseBase:
    rows = ([row[key] for key, _ in payouts.AP_COLUMNS] for row in payouts.ap_rows(run))
    return csv_response(
        export_filename(tenant, f"{run.reference}-accounts-payable"),
        rows,
        [label for _, label in payouts.AP_COLUMNS],
    )

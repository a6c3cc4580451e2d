"""The fund request queue in the tenant admin.

Channel managers (their partners'), ops (anyone's) and, for a second
approval above the fund type's threshold, finance decide requests here: a
changelist with the decision deadline in colour, filters and bulk
approve/reject, and a read-only page with the cost lines, the timeline
(internal events too) and the decision forms. Each form posts a named
``_action`` that runs the matching ``mdf.requests`` service (the same
checks, events, audit and notifications as everywhere else); the admin
offers a decision only where the service would take it
(``requests.can_decide`` / ``can_second``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib import admin, messages
from django.db.models import F, QuerySet
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html

from prm import format as fmt
from prm.tenancy.admin_base import (
    ActionFormsMixin,
    ServiceFormsAdmin,
    tenant_admin_site,
)
from prm.tenancy.chips import chip
from prm.tenancy.confirm import Confirmation
from prm.tenancy.models import Membership
from prm.tenancy.requests import as_member

from . import admin_forms, admin_roi, requests
from .admin_lists import (
    DEADLINE_LABELS,
    DeadlineClock,
    DeadlineFilter,
    FundTypeFilter,
    PartnerFilter,
    RequestAssignedFilter,
    SecondApprovalFilter,
    StatusFilter,
)
from .errors import MdfError
from .models import ClaimExtension, FundRequest

Status = FundRequest.Status
MAX_BULK = 100


def may_decide_now(membership: Membership, request: FundRequest) -> bool:
    """Whether the request waits for a decision this member may take: the
    first (its channel manager or ops), or the second (ops or finance)."""
    if request.status not in FundRequest.PENDING:
        return False
    if request.first_approved_by_id:
        return requests.can_second(membership, request)
    return requests.can_decide(membership, request)


def deadline_chip(obj: Any) -> str | None:
    state = getattr(obj, "deadline_state", "")
    if not state:
        return None
    due = fmt.moment(obj.due_at) if state != "paused" else ""
    return format_html(
        '{} <span class="dr-due">{}</span>',
        chip(DEADLINE_LABELS[state], state, extra=f"dr-sla dr-sla-{state}"),
        due,
    )


def status_chip(obj: Any) -> str:
    return chip(obj.get_status_display(), obj.status, extra=f"dr-status dr-status-{obj.status}")


@admin.register(FundRequest, site=tenant_admin_site)
class FundRequestAdmin(ActionFormsMixin, ServiceFormsAdmin):
    list_display = [
        "request",
        "activity",
        "requested",
        "approved",
        "status_badge",
        "decision_due",
        "approver",
    ]
    list_display_links = ["request"]
    list_filter = [
        StatusFilter,
        DeadlineFilter,
        RequestAssignedFilter,
        SecondApprovalFilter,
        PartnerFilter,
        FundTypeFilter,
    ]
    search_fields = ["code", "title", "partner__name"]
    list_select_related = ["partner", "approver", "fund_type"]
    actions = ["approve_selected", "reject_selected"]
    change_form_template = "admin/mdf/fundrequest/change_form.html"
    change_list_template = "admin/mdf/fundrequest/change_list.html"
    fieldsets = [
        ("Activity", {"fields": ["description", "audience", "expected"]}),
        ("Decision", {"fields": ["decided_by", "decided_at", "decision_reason"]}),
    ]

    class Media:
        css = {"all": ["admin/dealreg.css", "admin/mdf.css"]}

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # partners propose activities in the portal

    def has_decide_permission(self, request: HttpRequest) -> bool:
        membership = as_member(request).membership
        return membership.has_perm(requests.DECIDE_PERM) or membership.has_perm(
            requests.SECOND_PERM
        )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if obj is not None and obj.decided_at is None:
            return [fs for fs in self.fieldsets if fs[0] != "Decision"]
        return list(self.fieldsets)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # A draft is the partner's own until it is submitted.
        return (
            super()
            .get_queryset(request)
            .exclude(status=Status.DRAFT)
            .annotate(deadline_state=DeadlineClock.for_request(request).annotation())
        )

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        """A work queue: oldest due first."""
        return [F("due_at").asc(nulls_last=True), "submitted_at"]

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        roi_page = wrap(partial(admin_roi.roi_view, self))
        return [path("roi/", roi_page, name="mdf_fundrequest_roi"), *super().get_urls()]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        shows_roi = as_member(request).membership.has_perm("mdf.view_roi")
        return super().changelist_view(request, {**(extra_context or {}), "roi": shows_roi})

    # Columns

    @admin.display(description="request", ordering="code")
    def request(self, obj: FundRequest) -> str:
        return format_html(
            '<strong class="dr-code">{}</strong> {}<br><span class="dr-muted">{}</span>',
            obj.code,
            obj.title,
            obj.partner.name,
        )

    @admin.display(description="activity", ordering="activity_type")
    def activity(self, obj: FundRequest) -> str:
        return format_html(
            '{}<br><span class="dr-muted">{}</span>', obj.get_activity_type_display(), obj.fund_type
        )

    @admin.display(description="requested", ordering="requested_amount")
    def requested(self, obj: FundRequest) -> str:
        return fmt.money(obj.requested_amount, obj.currency)

    @admin.display(description="approved", ordering="approved_amount")
    def approved(self, obj: FundRequest) -> str:
        if obj.approved_amount is None:
            return "-"
        return fmt.money(obj.approved_amount, obj.currency)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: FundRequest) -> str:
        if obj.is_pending and obj.first_approved_by_id:
            return format_html(
                "{} {}", status_chip(obj), chip("second approval", "pending", extra="dr-tag")
            )
        return status_chip(obj)

    @admin.display(description="decision due", ordering="due_at")
    def decision_due(self, obj: Any) -> str | None:
        return deadline_chip(obj)

    @admin.display(description="expected")
    def expected(self, obj: FundRequest) -> str:
        return (
            f"{fmt.number(obj.expected_reach)} reached, {fmt.number(obj.expected_leads)} leads, "
            f"{fmt.money(obj.expected_pipeline, obj.currency)} pipeline"
        )

    # Bulk decisions

    @admin.action(permissions=["decide"], description="Approve selected requests in full")
    def approve_selected(
        self, request: HttpRequest, queryset: QuerySet[FundRequest]
    ) -> HttpResponse | None:
        return self._bulk_decide(request, queryset, "approve")

    @admin.action(permissions=["decide"], description="Reject selected requests")
    def reject_selected(
        self, request: HttpRequest, queryset: QuerySet[FundRequest]
    ) -> HttpResponse | None:
        return self._bulk_decide(request, queryset, "reject")

    def _bulk_decide(
        self, request: HttpRequest, queryset: QuerySet[FundRequest], decision: str
    ) -> HttpResponse | None:
        """An intermediate page (the reason for a rejection; a note for an
        approval); its confirmation posts back to the list and each request
        goes through the service on its own, refusals reported per row."""
        membership = as_member(request).membership
        rows = list(
            queryset.select_related("partner", "approver", "fund_type").order_by(
                "due_at", "submitted_at"
            )[: MAX_BULK + 1]
        )
        if len(rows) > MAX_BULK:
            messages.error(request, f"Decide at most {MAX_BULK} requests at a time.")
            return None
        form = admin_forms.BulkDecisionForm(decision=decision)
        if "confirm" in request.POST:
            form = admin_forms.BulkDecisionForm(request.POST, decision=decision)
            if form.is_valid():
                run_bulk(request, rows, decision, form.cleaned_data["reason"], decide_request)
                return None
        return bulk_page(self, request, rows, decision, form, membership, may_decide_now)

    # The change page: read-only, with the decision forms

    action_forms = {
        "approve": admin_forms.ApproveRequestForm,
        "request_info": admin_forms.RequestInfoForm,
        "reject": admin_forms.RejectForm,
        "message": admin_forms.MessageForm,
        "extension": admin_forms.ExtensionDecisionForm,
    }
    action_errors = MdfError

    def action_allowed(self, request: HttpRequest, action: str, obj: FundRequest) -> bool:
        membership = as_member(request).membership
        if action == "message":
            return requests.can_decide(membership, obj) or requests.can_second(membership, obj)
        if action in ("approve", "reject"):
            return may_decide_now(membership, obj) or (
                action == "reject" and requests.can_decide(membership, obj)
            )
        return requests.can_decide(membership, obj)

    def make_action_form(
        self, request: HttpRequest, action: str, obj: FundRequest, data: QueryDict | None = None
    ) -> Form:
        return self.action_forms[action](data, prefix=action)

    def action_confirmation(
        self, request: HttpRequest, action: str, obj: FundRequest, form: Any
    ) -> Confirmation | None:
        if action != "reject" or not obj.is_pending:
            return None
        reason = form.cleaned_data.get("reason", "").strip()
        return Confirmation(
            title=f"Reject {obj.code}?",
            object_label=f"{obj.code} · {obj.title} · {obj.partner}",
            consequences=[
                f"{obj.partner} is told that {obj.code} was not approved, with your reason: "
                f"\u201c{reason}\u201d",
                "Nothing is reserved for it; a rejected request cannot be reopened (the partner "
                "would propose the activity again).",
            ],
            action_label="Reject request",
            cancel_url=request.path,
        )

    def run_action(self, request: HttpRequest, action: str, obj: FundRequest, form: Any) -> str:
        by, data, code = as_member(request).membership, form.cleaned_data, obj.code
        if action == "approve":
            done = requests.approve_request(
                obj, by=by, amount=data["amount"], reason=data["reason"]
            )
            amount = fmt.money(done.approved_amount, done.currency)
            if done.status == Status.APPROVED:
                return f"{code} approved: {amount} reserved."
            return f"{code}: your approval of {amount} is recorded; it waits for a second approval."
        if action == "reject":
            requests.reject_request(obj, by=by, reason=data["reason"])
            return f"{code} rejected."
        if action == "request_info":
            requests.request_info(obj, by=by, message=data["message"])
            return f"{code} sent back to the partner for more information."
        if action == "message":
            requests.post_message(obj, by=by, text=data["text"])
            return "Message sent to the partner."
        extension = ClaimExtension.objects.filter(request=obj, pk=data["extension"]).first()
        if extension is None:
            raise Http404("No such extension request.")
        approve = data["decision"] == "approve"
        decided = requests.decide_extension(
            extension, by=by, approve=approve, reason=data["reason"]
        )
        if approve:
            obj.refresh_from_db(fields=["claim_deadline"])
            return f"Extension approved: claim {code} by {fmt.day(obj.claim_deadline)}."
        return f"Extension of {decided.days} days refused."

    def action_page_context(
        self, request: HttpRequest, obj: FundRequest, bound: dict[str, Form]
    ) -> dict[str, Any]:
        membership = as_member(request).membership
        extensions = list(obj.extensions.select_related("requested_by", "decided_by"))
        pending = next((e for e in extensions if e.status == ClaimExtension.Status.PENDING), None)
        unavailable = set()
        if not obj.is_pending:
            unavailable |= {"approve", "reject", "request_info"}
        if obj.status != Status.SUBMITTED or obj.first_approved_by_id:
            unavailable.add("request_info")
        if obj.status != Status.SUBMITTED:
            unavailable.add("approve")
        if pending is None:
            unavailable.add("extension")
        offered = [a for a in self.action_forms if a not in unavailable]
        forms = self.action_page_forms(request, obj, bound, offered)
        if "extension" in forms and not forms["extension"].is_bound:
            assert pending is not None
            forms["extension"].initial["extension"] = pending.pk
        if "approve" in forms and not forms["approve"].is_bound:
            forms["approve"].fields["amount"].initial = obj.approved_amount or obj.requested_amount
        return {
            "fund_request": obj,
            "cost_lines": list(obj.cost_lines.all()),
            "events": obj.events.select_related("actor", "claim").order_by("created_at", "id"),
            "extensions": extensions,
            "pending_extension": pending,
            "claims": list(obj.claims.exclude(status="draft").order_by("-created_at")),
            "deadline_label": DEADLINE_LABELS.get(getattr(obj, "deadline_state", ""), ""),
            "second_approval": obj.is_pending and bool(obj.first_approved_by_id),
            "may_decide": may_decide_now(membership, obj),
            "forms": forms,
        }


# --- Bulk decisions, shared with the claim queue -------------------------------------------


def decide_request(obj: FundRequest, decision: str, *, by: Membership, reason: str) -> None:
    if decision == "approve":
        requests.approve_request(obj, by=by, reason=reason)
    else:
        requests.reject_request(obj, by=by, reason=reason)


def bulk_page(
    model_admin: Any,
    request: HttpRequest,
    rows: list[Any],
    decision: str,
    form: Form,
    membership: Membership,
    decidable: Any,
) -> TemplateResponse:
    noun = model_admin.opts.verbose_name
    listed = [{"obj": r, "decidable": decidable(membership, r)} for r in rows]
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": f"{decision.capitalize()} {fmt.plural(len(rows), str(noun))}",
        "decision": decision,
        "noun": noun,
        "action_name": f"{decision}_selected",
        "rows": listed,
        "decidable_count": sum(1 for r in listed if r["decidable"]),
        "form": form,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        "media": model_admin.media,
    }
    return TemplateResponse(request, "admin/mdf/bulk_decide.html", context)


def run_bulk(
    request: HttpRequest, rows: list[Any], decision: str, reason: str, decide: Any
) -> None:
    """Each row through its service on its own: a refusal (not pending any
    more, not yours, not enough available) is reported for that row and the
    others go on."""
    membership = as_member(request).membership
    done = []
    for obj in rows:
        try:
            decide(obj, decision, by=membership, reason=reason)
        except MdfError as error:
            messages.error(request, f"{obj.code}: {error}")
            continue
        done.append(obj.code)
    if done:
        verb = "Approved" if decision == "approve" else "Rejected"
        messages.success(request, f"{verb} {len(done)}: {', '.join(done)}.")

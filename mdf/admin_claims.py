"""The claim queue and claim review in the tenant admin.

Finance (and ops) decide claims; the partner's channel manager checks the
proof first ("verified"). The list shows the decision deadline in colour,
a ⚠ where the same invoice was claimed elsewhere in the tenant (naming the
other claims) and the channel manager's check. A claim's page is the
review: the approved activity beside what it actually cost (planned and
actual lines), the results, the proof shown inline where it is an image
or a PDF (through the proof view, ``mdf:proof`` with ``?inline=1``, which
checks the viewer again and lets the site frame it), other files as
downloads, and the decision forms, each running an ``mdf.claims`` service.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import F, QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join

from prm import format as fmt
from prm.tenancy.admin_base import (
    ActionFormsMixin,
    ServiceFormsAdmin,
    tenant_admin_site,
)
from prm.tenancy.confirm import Confirmation
from prm.tenancy.drill import MetricRowsFilter
from prm.tenancy.models import Membership
from prm.tenancy.requests import as_member

from . import admin_forms, claims, requests
from .admin_lists import (
    ClaimAssignedFilter,
    ClaimFundTypeFilter,
    DeadlineClock,
    DeadlineFilter,
    DuplicateFilter,
    PartnerFilter,
    StatusFilter,
    VerifiedFilter,
)
from .admin_requests import bulk_page, deadline_chip, run_bulk, status_chip
from .errors import MdfError
from .models import Claim, ProofFile

Status = Claim.Status
MAX_BULK = 100
CHANGELIST = "tenant_admin:mdf_claim_changelist"


def proof_url(claim: Claim, proof: ProofFile, *, inline: bool = False) -> str:
    """The proof view's address ("" while the view is not routed)."""
    try:
        url = reverse("mdf:proof", args=[claim.code, proof.pk])
    except NoReverseMatch:
        return ""
    return url + ("?inline=1" if inline else "")


def may_decide(membership: Membership, claim: Claim) -> bool:
    return claim.is_pending and membership.has_perm(claims.DECIDE_PERM, claim)


def decide_claim(claim: Claim, decision: str, *, by: Membership, reason: str) -> None:
    if decision == "approve":
        claims.approve_claim(claim, by=by, reason=reason)
    else:
        claims.reject_claim(claim, by=by, reason=reason)


@admin.register(Claim, site=tenant_admin_site)
class ClaimAdmin(ActionFormsMixin, ServiceFormsAdmin):
    list_display = [
        "claim",
        "activity",
        "claimed",
        "status_badge",
        "decision_due",
        "duplicate",
        "verified",
    ]
    list_display_links = ["claim"]
    list_filter = [
        MetricRowsFilter,
        StatusFilter,
        DeadlineFilter,
        ClaimAssignedFilter,
        DuplicateFilter,
        VerifiedFilter,
        PartnerFilter,
        ClaimFundTypeFilter,
    ]
    search_fields = ["code", "invoice_number", "supplier", "partner__name", "request__code"]
    list_select_related = ["partner", "request", "verified_by"]
    actions = ["approve_selected", "reject_selected"]
    change_form_template = "admin/mdf/claim/change_form.html"
    fieldsets = [
        ("Invoice", {"fields": ["invoice_number", "invoice_date", "supplier"]}),
        ("Decision", {"fields": ["decided_by", "decided_at", "decision_reason"]}),
    ]

    class Media:
        css = {"all": ["admin/dealreg.css", "admin/mdf.css"]}

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # partners claim in the portal

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return as_member(request).membership.has_perm(claims.DECIDE_PERM)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if obj is not None and obj.decided_at is None:
            return [fs for fs in self.fieldsets if fs[0] != "Decision"]
        return list(self.fieldsets)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .exclude(status=Status.DRAFT)
            .annotate(deadline_state=DeadlineClock.for_request(request).annotation())
        )

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        return [F("due_at").asc(nulls_last=True), "submitted_at"]

    # Columns

    @admin.display(description="claim", ordering="code")
    def claim(self, obj: Claim) -> str:
        return format_html(
            '<strong class="dr-code">{}</strong> {} {}<br><span class="dr-muted">{}</span>',
            obj.code,
            obj.supplier,
            obj.invoice_number,
            obj.partner.name,
        )

    @admin.display(description="activity", ordering="request__title")
    def activity(self, obj: Claim) -> str:
        return format_html(
            '{}<br><span class="dr-muted">{}</span>', obj.request.title, obj.request.code
        )

    @admin.display(description="claimed", ordering="claimed_amount")
    def claimed(self, obj: Claim) -> str:
        return fmt.money(obj.claimed_amount, obj.request.currency)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Claim) -> str:
        return status_chip(obj)

    @admin.display(description="decision due", ordering="due_at")
    def decision_due(self, obj: Any) -> str | None:
        return deadline_chip(obj)

    @admin.display(description="same invoice")
    def duplicate(self, obj: Claim) -> str:
        if not obj.duplicate_of:
            return ""
        url = reverse(CHANGELIST)
        links = format_html_join(
            ", ", '<a href="{}?q={}">{}</a>', ((url, code, code) for code in obj.duplicate_of)
        )
        return format_html(
            '<span class="mdf-duplicate" title="The same invoice is claimed elsewhere">⚠ {}</span>',
            links,
        )

    @admin.display(description="checked by CM")
    def verified(self, obj: Claim) -> str:
        if obj.verified_at is None:
            return ""
        return format_html(
            '<span class="mdf-verified" title="{}">✓ checked</span>',
            f"{obj.verified_by}, {fmt.moment(obj.verified_at)}",
        )

    # Bulk decisions

    @admin.action(permissions=["decide"], description="Approve selected claims in full")
    def approve_selected(
        self, request: HttpRequest, queryset: QuerySet[Claim]
    ) -> HttpResponse | None:
        return self._bulk_decide(request, queryset, "approve")

    @admin.action(permissions=["decide"], description="Reject selected claims")
    def reject_selected(
        self, request: HttpRequest, queryset: QuerySet[Claim]
    ) -> HttpResponse | None:
        return self._bulk_decide(request, queryset, "reject")

    def _bulk_decide(
        self, request: HttpRequest, queryset: QuerySet[Claim], decision: str
    ) -> HttpResponse | None:
        membership = as_member(request).membership
        rows = list(
            queryset.select_related("partner", "request").order_by("due_at", "submitted_at")[
                : MAX_BULK + 1
            ]
        )
        if len(rows) > MAX_BULK:
            messages.error(request, f"Decide at most {MAX_BULK} claims at a time.")
            return None
        form = admin_forms.BulkDecisionForm(decision=decision)
        if "confirm" in request.POST:
            form = admin_forms.BulkDecisionForm(request.POST, decision=decision)
            if form.is_valid():
                run_bulk(request, rows, decision, form.cleaned_data["reason"], decide_claim)
                return None
        return bulk_page(self, request, rows, decision, form, membership, may_decide)

    # The review page

    action_forms = {
        "verify": admin_forms.VerifyForm,
        "approve": admin_forms.ApproveClaimForm,
        "request_info": admin_forms.RequestInfoForm,
        "reject": admin_forms.RejectForm,
        "message": admin_forms.MessageForm,
    }
    action_errors = MdfError

    def action_allowed(self, request: HttpRequest, action: str, obj: Claim) -> bool:
        membership = as_member(request).membership
        decides = membership.has_perm(claims.DECIDE_PERM, obj)
        verifies = membership.has_perm(claims.VERIFY_PERM, obj)
        if action == "verify":
            return verifies
        if action in ("approve", "reject"):
            return decides
        return decides or verifies

    def make_action_form(
        self, request: HttpRequest, action: str, obj: Claim, data: QueryDict | None = None
    ) -> Form:
        return self.action_forms[action](data, prefix=action)

    def action_confirmation(
        self, request: HttpRequest, action: str, obj: Claim, form: Any
    ) -> Confirmation | None:
        if action != "reject" or not obj.is_pending:
            return None
        reason = form.cleaned_data.get("reason", "").strip()
        return Confirmation(
            title=f"Reject {obj.code}?",
            object_label=f"{obj.code} · {obj.supplier} {obj.invoice_number} · {obj.partner}",
            consequences=[
                f"{obj.partner} is told that {obj.code} was not approved, with your reason: "
                f"\u201c{reason}\u201d",
                "Nothing is reimbursed for it. The partner may claim again while the claim "
                "window is open.",
            ],
            action_label="Reject claim",
            cancel_url=request.path,
        )

    def run_action(self, request: HttpRequest, action: str, obj: Claim, form: Any) -> str:
        by, data, code = as_member(request).membership, form.cleaned_data, obj.code
        if action == "verify":
            claims.verify_claim(obj, by=by, note=data["note"])
            return f"{code}: the proof is marked as checked."
        if action == "approve":
            done = claims.approve_claim(
                obj, by=by, approved_cost=data["approved_cost"], reason=data["reason"]
            )
            amount = fmt.money(done.reimbursement_amount, done.request.currency)
            return f"{code} approved: {amount} will be paid with the next payout run."
        if action == "reject":
            claims.reject_claim(obj, by=by, reason=data["reason"])
            return f"{code} rejected."
        if action == "request_info":
            claims.request_claim_info(obj, by=by, message=data["message"])
            return f"{code} sent back to the partner for more information."
        requests.post_message(obj.request, by=by, text=data["text"], claim=obj)
        return "Message sent to the partner."

    def action_page_context(
        self, request: HttpRequest, obj: Claim, bound: dict[str, Form]
    ) -> dict[str, Any]:
        unavailable = set()
        if obj.status != Status.SUBMITTED:
            unavailable |= {"verify", "approve", "request_info"}
        if not obj.is_pending:
            unavailable.add("reject")
        if obj.verified_at is not None:
            unavailable.add("verify")
        offered = [a for a in self.action_forms if a not in unavailable]
        forms = self.action_page_forms(request, obj, bound, offered)
        fund_request = obj.request
        proofs = [
            {
                "proof": p,
                "url": proof_url(obj, p),
                "inline_url": proof_url(obj, p, inline=True) if p.inline_preview else "",
            }
            for p in obj.proofs.select_related("uploaded_by")
        ]
        duplicates = list(
            Claim.objects.filter(code__in=obj.duplicate_of or []).select_related("partner")
        )
        return {
            "claim": obj,
            "fund_request": fund_request,
            "planned_lines": list(fund_request.cost_lines.all()),
            "actual_lines": list(obj.lines.all()),
            "proofs": proofs,
            "proof_view_missing": bool(proofs) and not proofs[0]["url"],
            "duplicates": duplicates,
            "missing_duplicates": sorted(
                set(obj.duplicate_of or []) - {d.code for d in duplicates}
            ),
            "paid_on": claims.paid_on(obj) if obj.status == Status.APPROVED else None,
            "events": fund_request.events.select_related("actor", "claim").order_by(
                "created_at", "id"
            ),
            "may_decide": may_decide(as_member(request).membership, obj),
            "forms": forms,
        }

"""Deal registrations in the tenant admin.

Channel managers and ops decide registrations here: a changelist with the
SLA state in colour and the conflict count, bulk approve/reject, and a
change page that shows the conflicts, the extension requests and the
timeline, with the decision forms. The registration itself is never saved
as a form: the page is read-only and its forms post a named ``_action``
back to it, which runs the matching ``dealreg.services`` operation (the
same checks, events, audit and notifications as everywhere else).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import F, QuerySet
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from partners.admin_filters import ManagedPartnerFilter
from prm import format as fmt
from prm.tenancy.admin_base import (
    ActionFormsMixin,
    LargeTablePaginator,
    TenantModelAdmin,
    tenant_admin_site,
)
from prm.tenancy.chips import chip
from prm.tenancy.confirm import Confirmation
from prm.tenancy.drill import MetricRowsFilter
from prm.tenancy.models import AuditEntry
from prm.tenancy.requests import as_member, tenant_of
from prm.tenancy.text import plural

from . import admin_forms, duplicates, services
from .admin_lists import (
    BY_DEADLINE,
    SLA_LABELS,
    AssignedFilter,
    ExtensionFilter,
    QueueFilter,
    SlaClock,
    SlaStateFilter,
    StatusFilter,
    conflict_count,
    conflict_rows,
    current_queue,
)
from .forms import OutcomeForm
from .models import (
    CustomField,
    DealRegistration,
    ExtensionRequest,
)

Status = DealRegistration.Status
# Bulk decisions are for a page of routine registrations, not the backlog.
MAX_BULK = 100


# --- Registrations ---------------------------------------------------------------------


def _hours(duration: timedelta) -> str:
    minutes = int(duration.total_seconds()) // 60
    return f"{minutes // 60} h {minutes % 60:02d} min"


@admin.register(DealRegistration, site=tenant_admin_site)
class DealRegistrationAdmin(ActionFormsMixin, TenantModelAdmin):
    # Five columns, so that the value shows beside the filters at 1366 px:
    # the partner under the customer, the conflict count beside the status.
    list_display = ["registration", "value", "status_badge", "sla_due", "approver"]
    list_display_links = ["registration"]
    list_filter = [
        MetricRowsFilter,
        QueueFilter,
        StatusFilter,
        SlaStateFilter,
        AssignedFilter,
        ManagedPartnerFilter,
        "conflict_state",
        ExtensionFilter,
    ]
    search_fields = ["code", "customer_name", "customer_domain", "partner__name"]
    list_select_related = ["partner", "approver"]
    ordering = ["-created_at"]
    paginator = LargeTablePaginator
    actions = ["approve_selected", "reject_selected"]
    object_history_template = "admin/dealreg/dealregistration/object_history.html"
    # What the summary at the top of the page does not show already.
    fieldsets = [
        (
            "Customer contact",
            {
                "fields": [
                    "customer_contact_name",
                    "customer_contact_email",
                    "customer_contact_phone",
                    "customer_region",
                ]
            },
        ),
        ("Deal", {"fields": ["description", "custom_answers"]}),
        (
            "Decision",
            {"fields": ["decision", "decision_reason", "decided_within_sla", "extension_count"]},
        ),
    ]

    class Media:
        css = {"all": ["admin/dealreg.css"]}

    # The registration changes only through the services (the page's forms).
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return as_member(request).membership.has_perm("dealreg.decide_dealregistration")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        # Nothing to say about a decision before there is one.
        if obj is not None and obj.decided_at is None and obj.sla_met is None:
            return [fs for fs in self.fieldsets if fs[0] != "Decision"]
        return list(self.fieldsets)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        current = current_queue(request)
        views = QueueFilter(request, {}, self.model, self).lookup_choices
        queues = [{"key": key, "label": label, "current": key == current} for key, label in views]
        return super().changelist_view(request, {**(extra_context or {}), "queues": queues})

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        """A work queue reads oldest due first; other views newest first."""
        if current_queue(request) in BY_DEADLINE:
            return [F("sla_due_at").asc(nulls_last=True), "submitted_at"]
        return list(self.ordering)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # A draft is the partner's own until it is submitted; one withdrawn
        # before it was ever submitted (as drafts were once) is never shown.
        return (
            super()
            .get_queryset(request)
            .exclude(status=Status.DRAFT)
            .exclude(status=Status.WITHDRAWN, submitted_at__isnull=True)
            .annotate(
                conflict_total=conflict_count(),
                sla_state=SlaClock.for_request(request).annotation(),
            )
        )

    # Columns

    @admin.display(description="registration", ordering="customer_name")
    def registration(self, obj: DealRegistration) -> str:
        return format_html(
            '<strong class="dr-code">{}</strong> {}<br><span class="dr-muted">{}</span>',
            obj.code,
            obj.customer_name,
            obj.partner.name,
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Any) -> str:
        status = chip(
            obj.get_status_display(), obj.status, extra=f"dr-status dr-status-{obj.status}"
        )
        if not obj.conflict_total:
            return status
        return format_html(
            '{} <span title="{}">{}</span>',
            status,
            plural(obj.conflict_total, "possible conflict"),
            chip(obj.conflict_total, "conflict", extra="dr-conflict-count"),
        )

    @admin.display(description="decision due", ordering="sla_due_at")
    def sla_due(self, obj: Any) -> str | None:
        if obj.sla_state:
            due = fmt.moment(obj.sla_due_at)
            return format_html(
                '{} <span class="dr-due">{}</span>',
                chip(
                    SLA_LABELS[obj.sla_state],
                    obj.sla_state,
                    extra=f"dr-sla dr-sla-{obj.sla_state}",
                ),
                due,
            )
        if obj.sla_met is not None:
            met = "met" if obj.sla_met else "missed"
            return chip(f"SLA {met}", met, extra=f"dr-sla-done dr-sla-{met}")
        return None

    @admin.display(description="value", ordering="estimated_value")
    def value(self, obj: DealRegistration) -> str:
        return fmt.money(obj.estimated_value, obj.currency)

    @admin.display(description="decision")
    def decision(self, obj: DealRegistration) -> str:
        if obj.decided_at is None:
            return "Not decided yet" if obj.is_pending else "Never decided"
        return f"{obj.decided_by or 'Automatically (SLA)'}, {fmt.moment(obj.decided_at)}"

    @admin.display(description="decided within SLA")
    def decided_within_sla(self, obj: DealRegistration) -> str:
        if obj.sla_met is not None:
            return "Yes" if obj.sla_met else "No: decided after the deadline"
        if obj.is_pending:
            return "Not decided yet"
        return "Not measured" if obj.decided_at else "No decision was taken"

    @admin.display(description="custom questions")
    def custom_answers(self, obj: DealRegistration) -> str:
        labels = dict(CustomField.objects.values_list("key", "label"))
        answers = [(labels.get(k, k), v) for k, v in (obj.custom_data or {}).items()]
        if not answers:
            return self.get_empty_value_display()
        return format_html(
            '<dl class="dr-answers">{}</dl>',
            format_html_join("", "<dt>{}</dt><dd>{}</dd>", answers),
        )

    # Bulk decisions

    @admin.action(permissions=["decide"], description="Approve selected registrations")
    def approve_selected(
        self, request: HttpRequest, queryset: QuerySet[DealRegistration]
    ) -> HttpResponse | None:
        return self._bulk_decide(request, queryset, "approve")

    @admin.action(permissions=["decide"], description="Reject selected registrations")
    def reject_selected(
        self, request: HttpRequest, queryset: QuerySet[DealRegistration]
    ) -> HttpResponse | None:
        return self._bulk_decide(request, queryset, "reject")

    def _bulk_decide(
        self, request: HttpRequest, queryset: QuerySet[DealRegistration], decision: str
    ) -> HttpResponse | None:
        """An intermediate page asks for the reason; its confirmation posts
        back to the changelist (which is wrapped by admin_view) and each
        registration then goes through the service on its own: one that may
        not be decided here (not yours, no longer pending, or conflicting with
        an approved registration, which needs an override reason given on its
        own page) is reported and left as it is."""
        membership = as_member(request).membership
        registrations = list(
            queryset.select_related("partner", "approver").order_by("submitted_at", "created_at")[
                : MAX_BULK + 1
            ]
        )
        if len(registrations) > MAX_BULK:
            messages.error(request, f"Decide at most {MAX_BULK} registrations at a time.")
            return None
        form = admin_forms.BulkDecisionForm(decision=decision)
        if "confirm" in request.POST:
            form = admin_forms.BulkDecisionForm(request.POST, decision=decision)
            if form.is_valid():
                self._run_bulk(request, registrations, decision, form.cleaned_data["reason"])
                return None
        rows = [
            {
                "registration": r,
                "decidable": r.is_pending and services.can_decide(membership, r),
            }
            for r in registrations
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{decision.capitalize()} {fmt.plural(len(rows), 'registration')}",
            "decision": decision,
            "action_name": f"{decision}_selected",
            "rows": rows,
            "decidable_count": sum(1 for r in rows if r["decidable"]),
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/dealreg/dealregistration/bulk_decide.html", context)

    def _run_bulk(
        self,
        request: HttpRequest,
        registrations: list[DealRegistration],
        decision: str,
        reason: str,
    ) -> None:
        membership = as_member(request).membership
        done = []
        for registration in registrations:
            if not registration.is_pending:
                messages.warning(
                    request,
                    f"{registration.code} is {registration.get_status_display().lower()}; "
                    "left as it is.",
                )
                continue
            if not services.can_decide(membership, registration):
                messages.error(request, f"{registration.code}: you may not decide it.")
                continue
            try:
                if decision == "approve":
                    services.approve(registration, by=membership, reason=reason)
                else:
                    services.reject(registration, by=membership, reason=reason)
            except services.DealRegError as exc:
                if exc.field == "override_reason":
                    message = (
                        "it conflicts with an approved registration; approve it on its own "
                        "page with an override reason."
                    )
                else:
                    message = str(exc)
                messages.error(request, f"{registration.code}: {message}")
                continue
            done.append(registration.code)
        if done:
            verb = "Approved" if decision == "approve" else "Rejected"
            messages.success(
                request, f"{verb} {fmt.plural(len(done), 'registration')}: {', '.join(done)}."
            )

    # The change page: read-only, with the decision forms

    action_forms = {
        "approve": admin_forms.ApproveForm,
        "reject": admin_forms.RejectForm,
        "request_info": admin_forms.RequestInfoForm,
        "message": admin_forms.MessageForm,
        "reassign": admin_forms.ReassignForm,
        "extension": admin_forms.ExtensionDecisionForm,
        "outcome": OutcomeForm,
        "correct": admin_forms.CorrectOutcomeForm,
        "reverse": admin_forms.ReverseWinForm,
    }

    action_errors = services.DealRegError

    def action_allowed(
        self, request: HttpRequest, action: str, registration: DealRegistration
    ) -> bool:
        membership = as_member(request).membership
        if action == "reassign":
            return membership.has_perm("dealreg.reassign_dealregistration")
        if action == "extension" and not membership.has_perm("dealreg.decide_extensionrequest"):
            return False
        # Deciding, asking for information and writing to the partner are
        # for the person who may decide the registration.
        return services.can_decide(membership, registration)

    def make_action_form(
        self,
        request: HttpRequest,
        action: str,
        registration: DealRegistration,
        data: QueryDict | None = None,
    ) -> Form:
        kwargs: dict[str, Any] = {"prefix": action, "data": data}
        if action == "reassign":
            kwargs.update(tenant=tenant_of(request), current=registration.approver)
        if action == "outcome":
            kwargs.update(registration=registration)
        form = self.action_forms[action](**kwargs)
        if action == "correct" and data is None:
            form.initial = {
                "amount": registration.won_amount,
                "close_date": registration.won_close_date,
            }
        return form

    def action_confirmation(
        self, request: HttpRequest, action: str, registration: DealRegistration, form: Any
    ) -> Confirmation | None:
        """Rejecting and reversing a win cannot be undone: asked first."""
        partner, customer = registration.partner.name, registration.customer_name
        reason = form.cleaned_data.get("reason", "").strip()
        if action == "reject" and registration.is_pending:
            consequences = [
                f"{partner} is told that {registration.code} was not approved, with your "
                f"reason: \u201c{reason}\u201d",
                f"{customer} gets no protection from this registration.",
                "A rejected registration cannot be reopened: the partner would have to "
                "register the deal again.",
            ]
            title, label = f"Reject {registration.code}?", "Reject registration"
        elif action == "reverse" and registration.status == Status.WON:
            won = registration.won_amount
            amount = f"{won:,.2f} {registration.won_currency}" if won is not None else ""
            consequences = [
                f"The win ({amount}) no longer stands: {registration.code} is marked reversed, "
                f"with your reason: \u201c{reason}\u201d",
                f"Incentives accrued to {partner} on this deal are clawed back: a reversing "
                "entry in their statement lowers what their next payout pays.",
                f"{partner} is told. A reversed win cannot be recorded as won again.",
            ]
            title, label = f"Reverse the win of {registration.code}?", "Reverse the win"
        else:
            return None
        return Confirmation(
            title=title,
            object_label=f"{registration.code} · {customer} · {partner}",
            consequences=consequences,
            action_label=label,
            cancel_url=request.path,
        )

    def run_action(
        self, request: HttpRequest, action: str, registration: DealRegistration, form: Any
    ) -> str:
        by, data, code = as_member(request).membership, form.cleaned_data, registration.code
        if action == "approve":
            done = services.approve(
                registration, by=by, reason=data["reason"], override_reason=data["override_reason"]
            )
            return f"{code} approved: protected until {fmt.day(done.protected_until)}."
        if action == "reject":
            services.reject(registration, by=by, reason=data["reason"])
            return f"{code} rejected."
        if action == "request_info":
            services.request_info(registration, by=by, message=data["message"])
            return f"{code} sent back to the partner for more information; the SLA is paused."
        if action == "message":
            services.add_message(registration, by=by, text=data["text"])
            return "Message sent to the partner."
        if action == "reassign":
            services.reassign(registration, by=by, approver=data["approver"], reason=data["reason"])
            return f"{code} reassigned to {data['approver']}."
        if action == "outcome":
            won = data["outcome"] == OutcomeForm.WON
            services.record_outcome(
                registration,
                by=by,
                won=won,
                amount=data["amount"],
                close_date=data["close_date"],
                reason=data["reason"],
            )
            return f"{code} recorded as {'won' if won else 'lost'}."
        if action == "correct":
            services.correct_outcome(
                registration,
                by=by,
                amount=data["amount"],
                close_date=data["close_date"],
                reason=data["reason"],
            )
            return f"{code}: won amount corrected; incentives will be adjusted."
        if action == "reverse":
            services.reverse_win(registration, by=by, reason=data["reason"])
            return f"{code}: win reversed; incentives accrued on it will be clawed back."
        extension = ExtensionRequest.objects.filter(
            registration=registration, pk=data["extension"]
        ).first()
        if extension is None:
            raise Http404("No such extension request.")
        approve = data["decision"] == "approve"
        decided = services.decide_extension(
            extension, by=by, approve=approve, reason=data["reason"]
        )
        if approve:
            return f"Extension approved: {code} is protected until {fmt.day(decided.new_until)}."
        return "Extension refused."

    def action_page_context(
        self, request: HttpRequest, registration: DealRegistration, bound: dict[str, Form]
    ) -> dict[str, Any]:
        rows = conflict_rows(registration)
        pending_extension = next(
            (
                e
                for e in registration.extension_requests.all()
                if e.status == ExtensionRequest.Status.PENDING
            ),
            None,
        )
        context = {
            "registration": registration,
            "conflict_rows": rows,
            "needs_override": any(
                row["other"] is not None and row["other"].status == Status.APPROVED for row in rows
            ),
            "events": registration.events.select_related("actor").order_by("created_at"),
            "extensions": registration.extension_requests.select_related(
                "requested_by", "decided_by"
            ),
            "pending_extension": pending_extension,
            # The same partner's other open registrations of this customer.
            "same_customer": [
                {"registration": r, "registered_on": duplicates.registered_on(r)}
                for r in duplicates.of_registration(registration)
            ],
            # sla_state: annotated by get_queryset.
            "sla_label": SLA_LABELS.get(registration.sla_state, ""),  # type: ignore[attr-defined]
            "time_left": _hours(services.business_time_left(registration))
            if registration.is_pending
            else "",
        }
        # No forms for what the registration's state no longer allows, unless
        # they carry the service's refusal to show.
        unavailable = set()
        if not registration.is_pending:
            unavailable |= {"approve", "reject", "request_info", "reassign"}
        if registration.status != Status.SUBMITTED:
            unavailable.add("request_info")
        if registration.status != Status.APPROVED:
            unavailable.add("outcome")
        if registration.status != Status.WON:
            unavailable |= {"correct", "reverse"}
        if pending_extension is None:
            unavailable.add("extension")
        offered = [action for action in self.action_forms if action not in unavailable]
        forms = self.action_page_forms(request, registration, bound, offered)
        if "extension" in forms and not forms["extension"].is_bound:
            assert pending_extension is not None  # else "extension" is unavailable
            forms["extension"].initial["extension"] = pending_extension.pk
        context["forms"] = forms
        return context

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        registration = self.get_object(request, unquote(object_id))
        if registration is None:
            raise Http404("No such object.")
        context = {
            **(extra_context or {}),
            "events": registration.events.select_related("actor").order_by("created_at"),
            "audit_entries": AuditEntry.objects.filter(
                object_type=DealRegistration._meta.label_lower, object_id=str(registration.pk)
            ).select_related("actor"),
        }
        return super().history_view(request, object_id, context)

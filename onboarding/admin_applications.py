"""The partner application queue in the tenant admin.

Ops and channel managers vet applications here: a changelist that opens
on the queue (waiting for review, oldest due first, the deadline in colour)
with filters for status, mine, overdue and duplicates; and a read-only page
with what the company sent (its answers under the questions' labels), the
duplicates found naming the partner or application, the vetting checklist,
notes, the timeline and the decision forms. Each form posts a named
``_action`` that runs the matching ``onboarding.vetting`` service: ops
decide any application, a channel manager the ones routed to them (403
otherwise); everyone on the staff may read. Applications are made by the
public form only, and never deleted here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import F, QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.html import format_html, format_html_join

from partners.models import Tier
from prm import format as fmt
from prm.tenancy.admin_base import (
    ActionFormsMixin,
    ServiceFormsAdmin,
    tenant_admin_site,
)
from prm.tenancy.chips import chip
from prm.tenancy.confirm import Confirmation
from prm.tenancy.models import User
from prm.tenancy.requests import as_member, tenant_of

from . import vetting
from .admin_applications_lists import (
    DEADLINE_LABELS,
    DeadlineFilter,
    DuplicateFilter,
    ReviewerFilter,
    StatusFilter,
    current_status,
    deadline_state,
)
from .assignment import active_channel_managers, choose_manager
from .errors import OnboardingError
from .models import Application, ApplicationCheck, OnboardingSettings, Question, VettingCheck

Status = Application.Status


def _text(label: str, *, required: bool = True, rows: int = 3, help_text: str = "") -> Any:
    return forms.CharField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows, "cols": 60}),
    )


class ApproveForm(forms.Form):
    tier: forms.ModelChoiceField[Tier] = forms.ModelChoiceField(
        queryset=Tier.objects.none(),
        required=False,
        empty_label="The joining tier",
        help_text="Empty: the tier the onboarding settings name for new partners.",
    )
    channel_manager: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label="By the assignment rules",
        help_text="Empty: the first matching assignment rule's, else the least busy.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tier = self.fields["tier"]
        manager = self.fields["channel_manager"]
        assert isinstance(tier, forms.ModelChoiceField)
        assert isinstance(manager, forms.ModelChoiceField)
        tier.queryset = Tier.objects.order_by("rank", "name")
        manager.queryset = active_channel_managers().order_by("email")


class RejectForm(forms.Form):
    reason = _text("Reason for the applicant", help_text="Mailed to the applicant.")


class RequestInfoForm(forms.Form):
    question = _text(
        "Question for the applicant",
        rows=4,
        help_text="Mailed with a link to answer; the deadline waits for the answer.",
    )


class NoteForm(forms.Form):
    text = _text("Note", help_text="Internal: the applicant never sees it.")


class CheckForm(forms.Form):
    check = forms.UUIDField(widget=forms.HiddenInput)
    note = forms.CharField(label="Note", required=False, max_length=300)


def _answers(obj: Application) -> list[tuple[str, str]]:
    """The answers under their questions' labels (in the form's order;
    answers to questions removed since keep their key)."""
    answers = dict(obj.answers or {})
    rows = []
    for question in Question.objects.filter(key__in=list(answers)).order_by("position", "label"):
        value = answers.pop(question.key)
        rows.append((question.label, _answer_text(value)))
    rows += [(key, _answer_text(value)) for key, value in answers.items()]
    return rows


def _answer_text(value: Any) -> str:
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if value in (None, ""):
        return "-"
    return str(value)


@admin.register(Application, site=tenant_admin_site)
class ApplicationAdmin(ActionFormsMixin, ServiceFormsAdmin):
    list_display = [
        "application",
        "type_column",
        "country_column",
        "received",
        "status_badge",
        "decision_due",
        "reviewer_column",
        "duplicate_flag",
    ]
    list_display_links = ["application"]
    list_filter = [StatusFilter, ReviewerFilter, DeadlineFilter, DuplicateFilter]
    search_fields = ["code", "company_name", "legal_name", "contact_email", "domain"]
    list_select_related = ["reviewer", "duplicate_partner", "duplicate_application"]
    change_form_template = "admin/onboarding/application/change_form.html"
    fieldsets = [
        (
            "Company",
            {
                "fields": [
                    "company_name",
                    "legal_name",
                    "website",
                    "country",
                    "partner_type",
                    "company_size",
                    "specialities",
                    "markets",
                ]
            },
        ),
        ("Applicant", {"fields": ["contact_name", "contact_email", "contact_phone"]}),
        ("Answers to the program's questions", {"fields": ["answer_list"]}),
        ("Received", {"fields": ["created_at", "confirmed_at", "ip_address", "user_agent"]}),
        ("Decision", {"fields": ["decided_by", "decided_at", "decision_reason"]}),
    ]

    class Media:
        css = {"all": ["admin/dealreg.css", "admin/onboarding.css"]}

    # Applications come from the public form and change through the
    # services only (the page's forms); none is deleted.
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if obj is not None and obj.decided_at is None:
            return [fs for fs in self.fieldsets if fs[0] != "Decision"]
        return list(self.fieldsets)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(deadline_state=deadline_state(request))

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        """The queue reads oldest due first; other views newest first."""
        if current_status(request) == Status.SUBMITTED:
            return [F("due_at").asc(nulls_last=True), "created_at"]
        return ["-created_at"]

    # Columns

    @admin.display(description="application", ordering="company_name")
    def application(self, obj: Application) -> str:
        return format_html(
            '<strong class="dr-code">{}</strong> {}<br><span class="dr-muted">{}</span>',
            obj.code,
            obj.company_name,
            obj.contact_email,
        )

    @admin.display(description="type", ordering="partner_type")
    def type_column(self, obj: Application) -> str:
        return obj.get_partner_type_display()

    @admin.display(description="country", ordering="country")
    def country_column(self, obj: Application) -> str:
        return str(obj.country.name)

    @admin.display(description="received", ordering="created_at")
    def received(self, obj: Application) -> str:
        return fmt.moment(obj.confirmed_at or obj.created_at)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Application) -> str:
        return chip(obj.get_status_display(), obj.status, extra=f"dr-status dr-status-{obj.status}")

    @admin.display(description="decision due", ordering="due_at")
    def decision_due(self, obj: Any) -> str | None:
        state = getattr(obj, "deadline_state", "")
        if not state:
            return None
        due = fmt.moment(obj.due_at) if state != "paused" else ""
        return format_html(
            '{} <span class="dr-due">{}</span>',
            chip(DEADLINE_LABELS[state], state, extra=f"dr-sla dr-sla-{state}"),
            due,
        )

    @admin.display(description="reviewer", ordering="reviewer__email")
    def reviewer_column(self, obj: Application) -> str:
        return str(obj.reviewer) if obj.reviewer_id else "ops"

    @admin.display(description="duplicate")
    def duplicate_flag(self, obj: Application) -> str | None:
        if obj.duplicate_partner_id:
            what = f"already a partner: {obj.duplicate_partner}"
        elif obj.duplicate_application_id:
            what = f"applied before: {obj.duplicate_application}"
        else:
            return None
        return format_html(
            '<span title="{}">{}</span>', what, chip("duplicate", "conflict", extra="dr-tag")
        )

    @admin.display(description="answers")
    def answer_list(self, obj: Application) -> str:
        rows = _answers(obj)
        if not rows:
            return self.get_empty_value_display()
        return format_html(
            '<dl class="dr-answers">{}</dl>', format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows)
        )

    # The change page: read-only, with the vetting forms

    action_forms = {
        "approve": ApproveForm,
        "request_info": RequestInfoForm,
        "reject": RejectForm,
        "note": NoteForm,
        "tick": CheckForm,
        "untick": CheckForm,
    }
    action_errors = OnboardingError

    def action_allowed(self, request: HttpRequest, action: str, obj: Application) -> bool:
        membership = as_member(request).membership
        if action == "note":
            return membership.has_perm(vetting.NOTE_PERM)
        if action == "approve":
            return vetting.may_approve(membership, obj)
        return vetting.may_decide(membership, obj)

    def make_action_form(
        self, request: HttpRequest, action: str, obj: Application, data: QueryDict | None = None
    ) -> Form:
        return self.action_forms[action](data, prefix=action)

    def action_confirmation(
        self, request: HttpRequest, action: str, obj: Application, form: Any
    ) -> Confirmation | None:
        if action == "reject" and obj.is_open:
            reason = form.cleaned_data["reason"].strip()
            return Confirmation(
                title=f"Reject {obj.code}?",
                object_label=f"{obj.code} · {obj.company_name}",
                consequences=[
                    f"{obj.contact_email} is told the application was not accepted, with your "
                    f"reason: \u201c{reason}\u201d",
                    "A rejected application cannot be reopened; the company may apply again.",
                ],
                action_label="Reject application",
                cancel_url=request.path,
            )
        if action == "approve" and obj.status == Status.SUBMITTED:
            return self._approval_preview(request, obj, form)
        return None

    def _approval_preview(self, request: HttpRequest, obj: Application, form: Any) -> Confirmation:
        tier = form.cleaned_data.get("tier") or (
            OnboardingSettings.for_tenant(tenant_of(request)).joining_tier()
        )
        manager = form.cleaned_data.get("channel_manager") or choose_manager(obj)
        return Confirmation(
            title=f"Approve {obj.company_name}?",
            object_label=f"{obj.code} · {obj.company_name}",
            consequences=[
                f"{obj.company_name} becomes a partner of the program "
                f"({obj.get_partner_type_display()}, {tier or 'no tier'}), onboarding.",
                f"{obj.contact_email} is invited as its partner admin and told it is approved.",
                f"Channel manager: {manager}." if manager else "No channel manager to assign.",
                "Its onboarding plan starts now (the template for its type and tier).",
            ],
            action_label="Approve and invite",
            cancel_url=request.path,
            danger=False,
        )

    def run_action(self, request: HttpRequest, action: str, obj: Application, form: Any) -> str:
        by, data, code = as_member(request).membership, form.cleaned_data, obj.code
        if action == "approve":
            done = vetting.approve(
                obj, by=by, tier=data.get("tier"), channel_manager=data.get("channel_manager")
            )
            return (
                f"{code} approved: {done.company_name} is a partner now and "
                f"{done.contact_email} is invited as its admin."
            )
        if action == "reject":
            vetting.reject(obj, by=by, reason=data["reason"])
            return f"{code} rejected; the applicant is told why."
        if action == "request_info":
            vetting.request_info(obj, by=by, question=data["question"])
            return f"Question sent to {obj.contact_email}; the deadline waits for the answer."
        if action == "note":
            vetting.add_note(obj, by=by, text=data["text"])
            return "Note added."
        check = VettingCheck.objects.filter(pk=data["check"]).first()
        if check is None:
            raise OnboardingError("This check is not on the checklist.", "check")
        if action == "tick":
            vetting.tick_check(obj, check, by=by, note=data["note"])
            return f"“{check.name}” ticked."
        vetting.untick_check(obj, check, by=by, note=data["note"])
        return f"“{check.name}” unticked."

    def action_page_context(
        self, request: HttpRequest, obj: Application, bound: dict[str, Form]
    ) -> dict[str, Any]:
        membership = as_member(request).membership
        offered = {"note"}
        if obj.is_open:
            offered |= {"reject", "tick", "untick"}
        if obj.status == Status.SUBMITTED:
            offered |= {"approve", "request_info"}
        forms_ = self.action_page_forms(request, obj, bound, offered)
        done = {
            c.check_item_id: c
            for c in ApplicationCheck.objects.filter(application=obj).select_related("done_by")
        }
        checks = list(VettingCheck.objects.filter(is_active=True).order_by("position", "name"))
        checklist = [
            {"check": check, "done": done.get(check.pk), "errors": _check_errors(bound, check)}
            for check in checks
        ]
        missing = [check for check in checks if check.required and check.pk not in done]
        return {
            "application": obj,
            "deadline_label": DEADLINE_LABELS.get(getattr(obj, "deadline_state", ""), ""),
            "checklist": checklist,
            "missing_checks": missing,
            "may_decide": vetting.may_decide(membership, obj),
            "may_approve": vetting.may_approve(membership, obj),
            "events": obj.events.select_related("by").order_by("at", "id"),
            "forms": forms_,
        }

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return super().changelist_view(
            request, {**(extra_context or {}), "title": "Partner applications"}
        )


def _check_errors(bound: dict[str, Form], check: VettingCheck) -> list[str]:
    """The errors of a tick or untick of this check that failed."""
    for action in ("tick", "untick"):
        form = bound.get(action)
        if form is not None and form.data.get(f"{action}-check") == str(check.pk):
            return [str(e) for errors in form.errors.values() for e in errors]
    return []

"""Onboarding plans in the tenant admin.

Plan templates (ops): the ordered steps partners of a type (and optionally
a tier) go through, each with its kind, owner and due offset, inline on the
template's page; a step names what its kind needs (an agreement, a document,
a course) and is due within the template's target.

Plans: the list every staff role reads, with progress, the next step and
what is overdue or stalled worked out in the list's one query; filters for
the status, overdue steps or targets, stalled plans and "my partners". A
plan's page is read-only with the steps (who completed what, how) and, for
the partner's channel manager and ops, a form per step they may tick
(kickoff calls, custom steps, courses) with a note. Plans are never added
by hand: ops start one for a partner without one (``plans.start_plan``)
from the "Start onboarding plan" page, linked from the partner's page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from partners.admin_filters import MyPartnersFilter
from prm import format as fmt
from prm.tenancy.admin_base import (
    ActionFormsMixin,
    TenantModelAdmin,
    TenantTabularInline,
    admin_url,
    audit_form_changes,
    tenant_admin_site,
)
from prm.tenancy.errors import add_service_error
from prm.tenancy.requests import as_member, tenant_of

from . import plans
from .errors import OnboardingError
from .forms_plans import StartPlanForm, StepTickForm
from .models import OnboardingSettings, Plan, PlanStep, PlanTemplate, StepKind, TemplateStep

CHANGE_PERM = "onboarding.change_plan"
START_PERM = plans.START_PERM
Status = Plan.Status


# --- Templates ----------------------------------------------------------------------------


class TemplateStepForm(forms.ModelForm):
    """A template's step (the inline builds its fields, inside the request's
    tenant scope): what its kind needs must be named."""

    # What each kind must name, and the message when it does not.
    NEEDS = {
        StepKind.AGREEMENT: ("agreement", "Choose the agreement this step asks to accept."),
        StepKind.DOCUMENT: ("document_name", "Name the document to upload (e.g. W-9)."),
        StepKind.TRAINING: ("course_code", "Give the code of the course or certification."),
    }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        need = self.NEEDS.get(data.get("kind", ""))
        if need is not None:
            name, message = need
            value = data.get(name)
            if not (value.strip() if isinstance(value, str) else value):
                self.add_error(name, message)
        return data


class TemplateStepFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        target = self.instance.target_days
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if data.get("DELETE") or data.get("due_days") is None:
                continue
            if target is not None and data["due_days"] > target:
                form.add_error(
                    "due_days",
                    f"Due after the template's target ({fmt.plural(target, 'day')}): "
                    "make it sooner or the target later.",
                )
        if any(form.errors for form in self.forms):
            raise ValidationError("Correct the steps below.")


class TemplateStepInline(TenantTabularInline):
    model = TemplateStep
    form = TemplateStepForm
    formset = TemplateStepFormSet
    fields = [
        "position",
        "title",
        "kind",
        "owner",
        "due_days",
        "required",
        "agreement",
        "document_name",
        "course_code",
        "instructions",
    ]
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2})}}
    ordering = ["position", "due_days"]

    # A template's steps are part of the template: its permissions apply.
    def _perm(self, action: str) -> str:
        return f"onboarding.{action}_plantemplate"


@admin.register(PlanTemplate, site=tenant_admin_site)
class PlanTemplateAdmin(TenantModelAdmin):
    list_display = ["name", "partner_type", "tier", "target_days", "steps", "plans", "is_active"]
    list_filter = ["partner_type", "is_active"]
    list_select_related = ["tier"]
    search_fields = ["name"]
    fields = ["name", "partner_type", "tier", "target_days", "is_active"]
    inlines = [TemplateStepInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                step_count=Count("steps", distinct=True), plan_count=Count("plans", distinct=True)
            )
        )

    @admin.display(description="steps", ordering="step_count")
    def steps(self, obj: Any) -> int:
        return int(obj.step_count)

    @admin.display(description="plans started", ordering="plan_count")
    def plans(self, obj: Any) -> int:
        return int(obj.plan_count)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_form_changes(
            request,
            obj,
            form,
            "onboarding.template_changed" if change else "onboarding.template_added",
        )


# --- Plans: the list ----------------------------------------------------------------------


def _count(steps: QuerySet[PlanStep]) -> Coalesce:
    """How many of ``steps`` (filtered on ``plan=OuterRef("pk")``) there are."""
    counted = steps.order_by().values("plan_id").annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _stalled_before(request: HttpRequest) -> datetime:
    """The moment before which an active plan's last progress makes it
    stalled (the tenant's setting; read once per request)."""
    found = getattr(request, "_onboarding_stalled_before", None)
    if found is None:
        settings_row = OnboardingSettings.for_tenant(tenant_of(request))
        found = plans.stalled_before(settings_row, timezone.now())
        request._onboarding_stalled_before = found  # type: ignore[attr-defined]
    return found


def _overdue_steps(today: Any) -> Exists:
    return Exists(
        PlanStep.objects.filter(plan=OuterRef("pk"), completed_at__isnull=True, due_on__lt=today)
    )


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("steps", "A step is overdue"), ("target", "Past the target date")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        today = tenant_of(request).local_today()
        if self.value() == "steps":
            return queryset.filter(_overdue_steps(today), status=Status.ACTIVE)
        if self.value() == "target":
            return queryset.filter(status=Status.ACTIVE, target_on__lt=today)
        return queryset


class StalledFilter(admin.SimpleListFilter):
    title = "stalled"
    parameter_name = "stalled"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("yes", "Stalled (no step completed lately)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(
                status=Status.ACTIVE, last_progress_at__lt=_stalled_before(request)
            )
        return queryset


def flags(obj: Any) -> str:
    """Chips for what needs attention: overdue steps, a passed target, no
    progress lately."""
    if obj.status != Status.ACTIVE:
        return ""
    found = []
    if obj.overdue_steps:
        found.append((f"{fmt.plural(obj.overdue_steps, 'step')} overdue", "bad"))
    if obj.past_target:
        found.append(("past target", "bad"))
    if obj.stalled:
        found.append(("stalled", "warn"))
    return format_html_join(
        " ", '<span class="chip chip-{} ob-flag">{}</span>', ((t, label) for label, t in found)
    )


@admin.register(Plan, site=tenant_admin_site)
class PlanAdmin(ActionFormsMixin, TenantModelAdmin):
    list_display = [
        "partner_name",
        "template_name",
        "started",
        "target",
        "progress",
        "next_step",
        "attention",
        "channel_manager",
    ]
    list_display_links = ["partner_name"]
    list_filter = ["status", OverdueFilter, StalledFilter, MyPartnersFilter]
    list_select_related = ["partner__channel_manager", "template"]
    search_fields = ["partner__name", "name"]
    fields = ("name", "status", "started_at", "target_on", "completed_at", "started_by")
    readonly_fields = fields
    change_form_template = "admin/onboarding/plan/change_form.html"
    change_list_template = "admin/onboarding/plan/change_list.html"

    class Media:
        css = {"all": ["admin/dealreg.css"]}

    # A plan changes only through the services (its page's forms).
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        today = tenant_of(request).local_today()
        steps = PlanStep.objects.filter(plan=OuterRef("pk"))
        open_steps = steps.filter(completed_at__isnull=True).order_by("due_on", "position")
        return (
            super()
            .get_queryset(request)
            .annotate(
                required_total=_count(steps.filter(required=True)),
                required_done=_count(steps.filter(required=True, completed_at__isnull=False)),
                overdue_steps=_count(steps.filter(completed_at__isnull=True, due_on__lt=today)),
                next_title=Subquery(open_steps.values("title")[:1]),
                next_due=Subquery(open_steps.values("due_on")[:1]),
                past_target=Case(
                    When(status=Status.ACTIVE, target_on__lt=today, then=Value(True)),
                    default=Value(False),
                    output_field=BooleanField(),
                ),
                stalled=Case(
                    When(
                        status=Status.ACTIVE,
                        last_progress_at__lt=_stalled_before(request),
                        then=Value(True),
                    ),
                    default=Value(False),
                    output_field=BooleanField(),
                ),
            )
        )

    # Columns

    @admin.display(description="partner", ordering="partner__name")
    def partner_name(self, obj: Plan) -> str:
        return obj.partner.name

    @admin.display(description="template", ordering="name")
    def template_name(self, obj: Plan) -> str:
        return obj.name

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: Plan) -> str:
        return fmt.day(obj.started_at)

    @admin.display(description="target", ordering="target_on")
    def target(self, obj: Plan) -> str:
        if obj.status == Status.COMPLETED and obj.completed_at:
            return format_html(
                '{}<br><span class="dr-muted">completed {}</span>',
                fmt.day(obj.target_on),
                fmt.day(obj.completed_at),
            )
        return fmt.day(obj.target_on)

    @admin.display(description="progress")
    def progress(self, obj: Any) -> str:
        total, done = obj.required_total, obj.required_done
        percent = 100 if not total else (100 * done) // total
        return format_html(
            '<progress value="{}" max="100" aria-label="{} % done">{} %</progress> {} %'
            '<br><span class="dr-muted">{} of {}</span>',
            percent,
            percent,
            percent,
            percent,
            done,
            fmt.plural(total, "step"),
        )

    @admin.display(description="next step", ordering="next_due")
    def next_step(self, obj: Any) -> str:
        if obj.status != Status.ACTIVE or not obj.next_title:
            return "-"
        return format_html(
            '{}<br><span class="dr-due">due {}</span>', obj.next_title, fmt.day(obj.next_due)
        )

    @admin.display(description="attention")
    def attention(self, obj: Any) -> str:
        return flags(obj)

    @admin.display(description="channel manager", ordering="partner__channel_manager__email")
    def channel_manager(self, obj: Plan) -> str:
        return str(obj.partner.channel_manager or "-")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        starts = as_member(request).membership.has_perm(START_PERM)
        return super().changelist_view(request, {**(extra_context or {}), "may_start": starts})

    # The plan's page: read-only, with a tick form per step the person may tick

    action_forms = {"tick": StepTickForm}
    action_errors = OnboardingError

    def action_allowed(self, request: HttpRequest, action: str, obj: Plan) -> bool:
        membership = as_member(request).membership
        return obj.status == Status.ACTIVE and membership.has_perm(CHANGE_PERM, obj.partner)

    def make_action_form(
        self, request: HttpRequest, action: str, obj: Plan, data: QueryDict | None = None
    ) -> Form:
        return StepTickForm(data, prefix="tick")

    def run_action(self, request: HttpRequest, action: str, obj: Plan, form: Any) -> str:
        step = PlanStep.objects.filter(plan=obj, pk=form.cleaned_data["step"]).first()
        if step is None:
            raise Http404("No such step.")
        plans.tick(step, by=as_member(request).membership, note=form.cleaned_data["note"])
        return f"“{step.title}” ticked as done."

    def action_page_context(
        self, request: HttpRequest, obj: Plan, bound: dict[str, Form]
    ) -> dict[str, Any]:
        membership = as_member(request).membership
        today = tenant_of(request).local_today()
        progress = plans.progress(obj, today=today)
        may_act = self.action_allowed(request, "tick", obj)
        failed = bound.get("tick")
        failed_step = str(failed.data.get("tick-step", "")) if failed is not None else ""
        rows = []
        for step in progress.steps:
            form = None
            if may_act and step.completed_at is None and plans.may_tick(membership, step):
                if failed is not None and failed_step == str(step.pk):
                    form = failed
                else:
                    form = StepTickForm(
                        prefix="tick", initial={"step": step.pk}, auto_id=f"id_%s_{step.pk}"
                    )
            rows.append(
                {
                    "step": step,
                    "overdue": step in progress.overdue,
                    "form": form,
                    "document_url": reverse("onboarding:step_document", args=[step.pk])
                    if step.document
                    else "",
                }
            )
        settings_row = OnboardingSettings.for_tenant(obj.tenant)
        return {
            "plan": obj,
            "progress": progress,
            "rows": rows,
            "stalled": plans.is_stalled(obj, settings_row, timezone.now()),
            "stalled_days": settings_row.stalled_after_days,
            "partner_url": admin_url(obj.partner),
            "may_tick": may_act,
            "tick_error": failed is not None and not any(r["form"] is failed for r in rows),
            "failed_form": failed,
        }

    # Starting a plan

    def get_urls(self) -> list[URLPattern]:
        start = self.admin_site.admin_view(self.start_view)
        return [path("start/", start, name="onboarding_plan_start"), *super().get_urls()]

    def start_view(self, request: HttpRequest) -> HttpResponse:
        """Ops start the plan of a partner without one: from the template
        for its type and tier, or one they choose."""
        membership = as_member(request).membership
        if not membership.has_perm(START_PERM):
            raise PermissionDenied
        if request.method == "POST":
            form = StartPlanForm(request.POST)
            if form.is_valid():
                partner = form.cleaned_data["partner"]
                try:
                    plan = plans.start_plan(
                        partner, by=membership.user, template=form.cleaned_data["template"]
                    )
                except OnboardingError as exc:
                    add_service_error(form, exc)
                else:
                    if plan is not None:
                        messages.success(request, f"Onboarding plan of {partner} started.")
                        return redirect(admin_url(plan))
                    form.add_error(
                        "template",
                        f"No active template applies to {partner} "
                        f"({partner.get_partner_type_display()}, {partner.tier}): "
                        "add one under plan templates, or choose one.",
                    )
        else:
            # ?partner=<id> from the partner's page (any other value selects nothing).
            form = StartPlanForm(initial={"partner": request.GET.get("partner", "")})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Start an onboarding plan",
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(
            request, "admin/onboarding/plan_start.html", context, status=400 if form.errors else 200
        )


__all__ = ["PlanAdmin", "PlanTemplateAdmin", "flags"]

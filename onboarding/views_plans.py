"""Partner portal "Onboarding": the organisation's plan, its steps and what
to do for each, the company profile, and the documents uploaded for the
plan.

Every member of the partner (``portal.onboarding``) sees the plan; its
partner admins tick their own custom steps, upload documents and edit the
profile (a partner user gets 403 on those). A step of another partner, or
of another tenant, answers 404. A document is served to the partner's own
people and to staff (``onboarding.view_plan``), nobody else.
"""

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from partners.models import Partner
from prm.tenancy.access import own_or_404, role_required, visible_or_404
from prm.tenancy.errors import add_service_error
from prm.tenancy.files import serve
from prm.tenancy.models import Membership
from prm.tenancy.requests import MemberRequest
from prm.tenancy.roles import Role

from . import plan_documents, plans
from .errors import OnboardingError
from .forms_plans import DocumentForm, ProfileForm, TickForm
from .models import Owner, Plan, PlanStep, StepKind

PERM = "portal.onboarding"
STAFF_PERM = "onboarding.view_plan"
DEALREG_PERM = "portal.dealreg"


def _steps() -> QuerySet[PlanStep]:
    return PlanStep.objects.select_related("plan__partner")


def _own_step(request: MemberRequest, step_id: UUID) -> PlanStep:
    """The step of the member's own plan: 404 when unknown (or another
    tenant's or partner's), 403 for a member without the portal page."""
    step = visible_or_404(_steps(), pk=step_id)
    own_or_404(request, step.plan, perm=PERM)
    return step


def _url(name: str) -> str | None:
    """A page of another area, where the product has it (the agreements
    pages are their own area's)."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def plan_url(step: PlanStep | None = None) -> str:
    url = reverse("onboarding:plan")
    return f"{url}#step-{step.pk}" if step is not None else url


# --- The plan page -----------------------------------------------------------------------


@dataclass
class StepRow:
    """A step as the plan page shows it: whether it is late, how it was
    done, the hint and links for what to do, and the forms the member may
    use on it."""

    step: PlanStep
    overdue: bool
    done_text: str = ""
    hint: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    tick_form: forms.Form | None = None
    upload_form: forms.Form | None = None
    document_url: str = ""


def _done_text(step: PlanStep) -> str:
    if step.completed_at is None:
        return ""
    person = step.completed_by
    who = (person.get_full_name() or person.email) if person is not None else ""
    if step.source == PlanStep.Source.MANUAL:
        return f"Ticked by {who or 'someone no longer here'}" + (
            f": {step.note}" if step.note else ""
        )
    if step.kind == StepKind.DOCUMENT:
        return f"Uploaded by {who}" if who else "Uploaded"
    return f"Automatically: {step.evidence}" if step.evidence else "Automatically"


def _hint(step: PlanStep, admin: bool) -> str:
    """What completes the step, for the partner's people."""
    kind = step.kind
    if kind == StepKind.AGREEMENT:
        title = step.agreement.title if step.agreement else "the agreement"
        who = "" if admin else " by a partner admin of yours"
        return f"Done when {title} is accepted{who}."
    if kind == StepKind.PROFILE:
        return "Done when the company profile is complete."
    if kind == StepKind.DOCUMENT:
        what = step.document_name or "the document"
        return f"Upload {what}." if admin else f"A partner admin of yours uploads {what}."
    if kind == StepKind.TRAINING:
        course = f" {step.course_code}" if step.course_code else ""
        return (
            f"Done when the training records show the course{course} completed; "
            "your channel manager may also tick it."
        )
    if kind == StepKind.FIRST_REGISTRATION:
        return "Done when you submit your first deal registration."
    if kind == StepKind.FIRST_APPROVAL:
        return "Done when your first deal registration is approved."
    if kind == StepKind.KICKOFF or step.owner == Owner.CHANNEL_MANAGER:
        return "Your channel manager ticks it once it is done."
    return "Tick it once it is done." if admin else "A partner admin of yours ticks it once done."


def step_rows(
    progress: plans.Progress,
    membership: Membership,
    today: date,
    bound: dict[Any, forms.Form] | None = None,
) -> list[StepRow]:
    plan = progress.plan
    admin = membership.role == Role.PARTNER_ADMIN
    running = plan.status == Plan.Status.ACTIVE
    gaps: list[str] | None = None
    rows = []
    for step in progress.steps:
        row = StepRow(
            step=step,
            overdue=running and step.completed_at is None and step.due_on < today,
            done_text=_done_text(step),
            hint=_hint(step, admin),
        )
        open_step = running and step.completed_at is None
        if step.kind == StepKind.AGREEMENT and open_step:
            url = _url("onboarding:agreements")
            if url:
                row.links.append((url, "Read and accept" if admin else "See the agreements"))
        elif step.kind == StepKind.PROFILE and open_step:
            if gaps is None:
                gaps = plans.profile_gaps(plan.partner)
            row.gaps = gaps
            row.links.append(
                (reverse("onboarding:profile"), "Complete the profile" if admin else "See it")
            )
        elif open_step and membership.has_perm(DEALREG_PERM):
            if step.kind == StepKind.FIRST_REGISTRATION:
                row.links.append((reverse("dealreg:new"), "Register a deal"))
            elif step.kind == StepKind.FIRST_APPROVAL:
                row.links.append((reverse("dealreg:list"), "See your registrations"))
        if step.document:
            row.document_url = reverse("onboarding:step_document", args=[step.pk])
        given = (bound or {}).get(step.pk)
        if open_step and plans.may_tick(membership, step):
            row.tick_form = given if given is not None else TickForm(prefix=f"tick-{step.pk}")
        if plan_documents.may_upload(membership, step):
            row.upload_form = given if given is not None else DocumentForm(prefix=f"doc-{step.pk}")
        rows.append(row)
    return rows


@role_required(PERM)
def plan_page(
    request: MemberRequest, bound: dict[Any, forms.Form] | None = None, status: int = 200
) -> HttpResponse:
    membership = request.membership
    assert membership.partner_id is not None  # portal.onboarding is a partner role's
    plan = (
        Plan.objects.select_related("partner__channel_manager", "tenant")
        .filter(partner_id=membership.partner_id)
        .first()
    )
    if plan is None:
        return render(request, "onboarding/plan.html", {"plan": None}, status=status)
    today = request.tenant.local_today()
    progress = plans.progress(plan, today=today)
    return render(
        request,
        "onboarding/plan.html",
        {
            "plan": plan,
            "progress": progress,
            "rows": step_rows(progress, membership, today, bound),
            "done": sum(1 for s in progress.steps if s.required and s.completed_at),
            "required": sum(1 for s in progress.steps if s.required),
            "late_days": -progress.days_left,
            "completed_late": plan.completed_at is not None
            and plan.tenant.local_today(plan.completed_at) > plan.target_on,
        },
        status=status,
    )


# --- Acting on a step ------------------------------------------------------------------


def _require_partner_admin(request: MemberRequest) -> None:
    if request.membership.role != Role.PARTNER_ADMIN:
        raise PermissionDenied


@require_POST
@role_required()
def step_tick(request: MemberRequest, step_id: UUID) -> HttpResponse:
    step = _own_step(request, step_id)
    _require_partner_admin(request)
    form = TickForm(request.POST, prefix=f"tick-{step.pk}")
    if not form.is_valid():
        return plan_page(request, bound={step.pk: form}, status=400)
    try:
        plans.tick(step, by=request.membership, note=form.cleaned_data["note"])
    except OnboardingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"“{step.title}” is done.")
    return redirect(plan_url(step))


@require_POST
@role_required()
def step_upload(request: MemberRequest, step_id: UUID) -> HttpResponse:
    step = _own_step(request, step_id)
    _require_partner_admin(request)
    if step.kind != StepKind.DOCUMENT:
        raise Http404("No such document step.")
    form = DocumentForm(request.POST, request.FILES, prefix=f"doc-{step.pk}")
    if form.is_valid():
        replacing = bool(step.document)
        try:
            plan_documents.upload(step, form.cleaned_data["document"], by=request.membership)
        except OnboardingError as exc:
            add_service_error(form, exc)
        else:
            messages.success(
                request,
                f"{'Replaced' if replacing else 'Uploaded'} the document for “{step.title}”.",
            )
            return redirect(plan_url(step))
    return plan_page(request, bound={step.pk: form}, status=400)


@require_GET
@role_required(PERM, STAFF_PERM)
def step_document(request: MemberRequest, step_id: UUID) -> FileResponse:
    """The step's document, as an attachment under the name it was
    uploaded with, typed as detected at upload."""
    step = visible_or_404(_steps(), pk=step_id)
    membership = request.membership
    if membership.partner_id is not None:
        mine = membership.has_perm(PERM) and step.plan.partner_id == membership.partner_id
    else:
        mine = membership.has_perm(STAFF_PERM)
    if not mine or not step.document:
        raise Http404("No such file.")
    return serve(
        step.document,
        filename=step.document_original_name or "document",
        content_type=step.document_type,
    )


# --- The company profile ---------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@role_required(PERM)
def profile(request: MemberRequest) -> HttpResponse:
    """The company profile the plan's profile step asks for: partner
    admins edit it, partner users read it."""
    membership = request.membership
    assert membership.partner_id is not None  # portal.onboarding is a partner role's
    partner = Partner.objects.select_related("channel_manager").get(pk=membership.partner_id)
    may_edit = membership.role == Role.PARTNER_ADMIN
    status = 200
    form = ProfileForm.for_partner(partner) if may_edit else None
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                plans.update_profile(partner, by=membership, data=form.cleaned_data)
            except OnboardingError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, "Company profile saved.")
                return redirect("onboarding:profile")
        status = 400
    gaps = plans.profile_gaps(partner)
    return render(
        request,
        "onboarding/plan_profile.html",
        {
            "partner": partner,
            "form": form,
            "gaps": gaps,
            "contact_missing": plans.CONTACT_GAP in gaps,
        },
        status=status,
    )

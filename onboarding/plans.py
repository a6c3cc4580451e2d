"""Onboarding plans: starting one from its template, and steps that
complete themselves from what happened.

A plan is a copy of its template's steps, each due ``due_days`` after the
start. A step of an automatic kind completes when ``sync_partner`` finds
its evidence: the partner's first submitted registration, its first
approved one, an acceptance of the step's agreement, a complete company
profile, a course completion reported by the training records. The time
it completed is the time of that event, not of the sync, so the figures
("time to first registration") are true however late the sync runs. The
sync runs after each such event commits, and a sweep runs it for every
active plan, so a missed signal costs a sweep's wait, never a step.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Min, Q
from django.utils import timezone

from dealreg.models import DealRegistration
from partners import services as partner_services
from partners.models import Contact, Partner
from prm.broker import kick_on_commit
from prm.tenancy.errors import ServiceError
from prm.tenancy.models import Membership, User
from prm.tenancy.roles import Role
from prm.tenancy.services import audit

from .errors import OnboardingError
from .models import (
    Acceptance,
    Application,
    OnboardingSettings,
    Owner,
    Plan,
    PlanStep,
    PlanTemplate,
    StepKind,
)

SYNC_TASK = "onboarding.tasks.sync_partner"
# Who starts a partner's plan by hand (ops, from the partner's page).
START_PERM = "onboarding.start_plan"


def resolve_now(now: datetime | None) -> datetime:
    return now or timezone.now()


def template_for(partner: Partner) -> PlanTemplate | None:
    """The active template for the partner's type and tier, else the one
    for its type in any tier."""
    candidates = PlanTemplate.objects.filter(
        is_active=True, partner_type=partner.partner_type
    ).filter(Q(tier_id=partner.tier_id) | Q(tier__isnull=True))
    return min(candidates, key=lambda t: t.tier_id is None, default=None)


def start_plan(
    partner: Partner,
    *,
    by: User | None,
    application: Application | None = None,
    template: PlanTemplate | None = None,
    now: datetime | None = None,
) -> Plan | None:
    """Start the partner's onboarding plan from ``template`` (default: the
    one for its type and tier). None when no template applies. A partner
    has one plan: starting a second is refused."""
    now = resolve_now(now)
    template = template or template_for(partner)
    if template is None:
        return None
    if Plan.objects.filter(partner=partner).exists():
        raise OnboardingError(f"{partner.name} already has an onboarding plan.")
    start_day = partner.tenant.local_today(now)
    with transaction.atomic():
        try:
            with transaction.atomic():
                plan = Plan.objects.create(
                    tenant=partner.tenant,
                    partner=partner,
                    template=template,
                    name=template.name,
                    application=application,
                    started_at=now,
                    target_on=start_day + timedelta(days=template.target_days),
                    last_progress_at=now,
                    started_by=by,
                )
        except IntegrityError as exc:  # started a moment ago by someone else
            raise OnboardingError(f"{partner.name} already has an onboarding plan.") from exc
        PlanStep.objects.bulk_create(
            PlanStep(
                tenant=partner.tenant,
                plan=plan,
                position=step.position,
                title=step.title,
                kind=step.kind,
                owner=step.owner,
                required=step.required,
                instructions=step.instructions,
                agreement_id=step.agreement_id,
                document_name=step.document_name,
                course_code=step.course_code,
                due_on=start_day + timedelta(days=step.due_days),
            )
            for step in template.steps.all()
        )
        audit(
            partner.tenant,
            by=by,
            action="onboarding.plan_started",
            obj=plan,
            data={"template": template.name, "target_on": str(plan.target_on)},
            now=now,
        )
        # What already happened (an agreement accepted before the plan, a
        # registration) counts at once.
        sync_plan(plan, now=now)
    return plan


# --- Evidence ------------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """Evidence that a step is complete: when it happened and what it was."""

    at: datetime
    evidence: str


PROFILE_FIELDS = ("legal_name", "website", "phone", "address")
# The gap a partner's people cannot fill in the portal: the vendor records contacts.
CONTACT_GAP = "a contact"


def profile_gaps(partner: Partner) -> list[str]:
    """What the company profile still lacks (empty: complete)."""
    gaps = [
        str(field.verbose_name)
        for field in Partner._meta.concrete_fields
        if field.name in PROFILE_FIELDS and not getattr(partner, field.name)
    ]
    if not Contact.objects.filter(partner=partner).exists():
        gaps.append(CONTACT_GAP)
    return [str(gap) for gap in gaps]


def _first_registration(partner: Partner) -> Done | None:
    first = (
        DealRegistration.objects.filter(partner=partner, submitted_at__isnull=False)
        .order_by("submitted_at")
        .values("submitted_at", "code")
        .first()
    )
    # Filtered on submitted_at: never None here.
    return Done(first["submitted_at"], first["code"]) if first and first["submitted_at"] else None


def _first_approval(partner: Partner) -> Done | None:
    first = (
        DealRegistration.objects.filter(partner=partner, decided_at__isnull=False)
        .exclude(status=DealRegistration.Status.REJECTED)
        .order_by("decided_at")
        .values("decided_at", "code")
        .first()
    )
    return Done(first["decided_at"], first["code"]) if first and first["decided_at"] else None


def _acceptance(partner: Partner, step: PlanStep) -> Done | None:
    """The step's agreement accepted (any version: the plan asks for it
    once; a new version is the agreements' own business)."""
    if step.agreement_id is None:
        return None
    row = (
        Acceptance.objects.filter(partner=partner, version__agreement_id=step.agreement_id)
        .select_related("version")
        .order_by("accepted_at")
        .first()
    )
    if row is None:
        return None
    return Done(row.accepted_at, f"version {row.version.number} accepted by {row.typed_name}")


def evidence(partner: Partner, step: PlanStep, now: datetime) -> Done | None:
    """What completes ``step`` now, if anything has."""
    if step.kind == StepKind.FIRST_REGISTRATION:
        return _first_registration(partner)
    if step.kind == StepKind.FIRST_APPROVAL:
        return _first_approval(partner)
    if step.kind == StepKind.AGREEMENT:
        return _acceptance(partner, step)
    if step.kind == StepKind.PROFILE:
        return None if profile_gaps(partner) else Done(now, "company profile complete")
    return None  # documents, courses and manual steps complete through their own service


# --- Completing steps ----------------------------------------------------------------


def _complete(step: PlanStep, *, at: datetime, by: User | None, source: str, evidence: str) -> None:
    step.completed_at = at
    step.completed_by = by
    step.source = source
    step.evidence = evidence[:200]
    step.save(update_fields=["completed_at", "completed_by", "source", "evidence"])


def _finish_if_done(plan: Plan, now: datetime) -> bool:
    """Complete the plan when its last required step is done: at the time
    that step completed."""
    if plan.status != Plan.Status.ACTIVE:
        return False
    steps = list(plan.steps.filter(required=True))
    if any(step.completed_at is None for step in steps):
        return False
    last = max((step.completed_at for step in steps if step.completed_at), default=now)
    plan.status = Plan.Status.COMPLETED
    plan.completed_at = last
    plan.save(update_fields=["status", "completed_at"])
    audit(
        plan.tenant,
        by=None,
        action="onboarding.plan_completed",
        obj=plan,
        data={"within_target": plan.tenant.local_today(last) <= plan.target_on},
        now=now,
    )
    return True


def sync_plan(plan: Plan, *, now: datetime | None = None) -> list[PlanStep]:
    """Complete the plan's open automatic steps that have evidence; the
    steps completed, in order. Call inside a transaction."""
    now = resolve_now(now)
    if plan.status != Plan.Status.ACTIVE:
        return []
    completed = []
    for step in plan.steps.select_for_update().filter(completed_at__isnull=True):
        found = evidence(plan.partner, step, now)
        if found is None:
            continue
        _complete(
            step, at=found.at, by=None, source=PlanStep.Source.AUTOMATIC, evidence=found.evidence
        )
        completed.append(step)
    if completed:
        plan.last_progress_at = max(now, plan.last_progress_at)
        plan.save(update_fields=["last_progress_at"])
        _finish_if_done(plan, now)
    return completed


def sync_partner(partner_id: Any, *, now: datetime | None = None) -> list[PlanStep]:
    """``sync_plan`` for the partner's active plan, if it has one."""
    with transaction.atomic():
        plan = (
            Plan.objects.select_for_update()
            .select_related("partner", "tenant")
            .filter(partner_id=partner_id, status=Plan.Status.ACTIVE)
            .first()
        )
        if plan is None:
            return []
        return sync_plan(plan, now=now)


def sync_after_commit(partner: Partner) -> None:
    """Sync the partner's plan once the current transaction commits (a
    kick: the sweep catches it if the broker is away)."""
    kick_on_commit(SYNC_TASK, tenant_id=str(partner.tenant_id), partner_id=str(partner.pk))


def may_tick(by: Membership, step: PlanStep) -> bool:
    """Who ticks a step by hand: the channel manager of the partner (or
    ops) any step that is not automatic, and a training step until the
    training records report it; the partner's admin its own custom steps."""
    partner = step.plan.partner
    if by.is_staff_role:
        if by.role == Role.OPS_ADMIN:
            return not step.automatic or step.kind == StepKind.TRAINING
        if by.role == Role.CHANNEL_MANAGER and partner.channel_manager_id == by.user_id:
            return not step.automatic or step.kind == StepKind.TRAINING
        return False
    return (
        by.partner_id == partner.pk
        and by.role == Role.PARTNER_ADMIN
        and step.kind == StepKind.CUSTOM
        and step.owner == Owner.PARTNER
    )


def tick(
    step: PlanStep, *, by: Membership, note: str = "", now: datetime | None = None
) -> PlanStep:
    """Mark a step done by hand (a kickoff call held, a custom step done)."""
    now = resolve_now(now)
    with transaction.atomic():
        step = PlanStep.objects.select_for_update().select_related("plan__partner").get(pk=step.pk)
        if step.completed_at is not None:
            raise OnboardingError(f"“{step.title}” is already done.")
        if step.plan.status != Plan.Status.ACTIVE:
            raise OnboardingError("This onboarding plan is no longer in progress.")
        if not may_tick(by, step):
            raise OnboardingError(
                "You may not tick this step: it completes itself, or it is not yours."
            )
        _complete(step, at=now, by=by.user, source=PlanStep.Source.MANUAL, evidence="")
        step.note = note.strip()[:300]
        step.save(update_fields=["note"])
        plan = Plan.objects.select_for_update().get(pk=step.plan_id)
        plan.last_progress_at = now
        plan.save(update_fields=["last_progress_at"])
        audit(
            step.tenant,
            by=by.user,
            action="onboarding.step_ticked",
            obj=step,
            data={"note": step.note},
            now=now,
        )
        _finish_if_done(plan, now)
    return step


def record_course_completed(
    partner: Partner, course_code: str, *, at: datetime, evidence: str = ""
) -> list[PlanStep]:
    """The training records' report that someone of ``partner`` completed
    ``course_code``: completes the plan's open training steps for it."""
    with transaction.atomic():
        steps = list(
            PlanStep.objects.select_for_update().filter(
                plan__partner=partner,
                plan__status=Plan.Status.ACTIVE,
                kind=StepKind.TRAINING,
                course_code__iexact=course_code,
                completed_at__isnull=True,
            )
        )
        for step in steps:
            _complete(
                step,
                at=at,
                by=None,
                source=PlanStep.Source.AUTOMATIC,
                evidence=evidence or course_code,
            )
        if steps:
            plan = Plan.objects.select_for_update().get(pk=steps[0].plan_id)
            plan.last_progress_at = max(at, plan.last_progress_at)
            plan.save(update_fields=["last_progress_at"])
            _finish_if_done(plan, at)
    return steps


# --- Reading a plan ------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """A plan as its partner and channel manager see it."""

    plan: Plan
    steps: list[PlanStep]
    percent: int
    next_step: PlanStep | None
    overdue: list[PlanStep]
    days_left: int

    @property
    def late(self) -> bool:
        return self.days_left < 0 and self.plan.status == Plan.Status.ACTIVE


def progress(
    plan: Plan, *, today: date | None = None, steps: Iterable[PlanStep] | None = None
) -> Progress:
    """Required steps done ÷ required steps, the next open step (the one
    due first), the steps past their due date, days to the target.
    ``steps``: the plan's steps when the caller read them already (a list
    of plans prefetches them), in their order."""
    today = today or plan.tenant.local_today()
    rows = list(plan.steps.select_related("agreement", "completed_by") if steps is None else steps)
    required = [step for step in rows if step.required]
    done = sum(1 for step in required if step.completed_at is not None)
    percent = 100 if not required else (100 * done) // len(required)
    open_steps = sorted(
        (step for step in rows if step.completed_at is None), key=lambda s: (s.due_on, s.position)
    )
    return Progress(
        plan=plan,
        steps=rows,
        percent=percent,
        next_step=open_steps[0] if open_steps and plan.status == Plan.Status.ACTIVE else None,
        overdue=[step for step in open_steps if step.due_on < today]
        if plan.status == Plan.Status.ACTIVE
        else [],
        days_left=(plan.target_on - today).days,
    )


def first_event_times(partner_ids: Iterable[Any]) -> dict[Any, dict[str, datetime | None]]:
    """Partner id → the time of its first submitted and first approved
    registration (for the plan lists and figures)."""
    rows = (
        DealRegistration.objects.filter(partner_id__in=list(partner_ids))
        .values("partner_id")
        .annotate(
            first_submitted=Min("submitted_at"),
            first_approved=Min("decided_at", filter=~Q(status=DealRegistration.Status.REJECTED)),
        )
    )
    return {
        row["partner_id"]: {
            "first_submitted": row["first_submitted"],
            "first_approved": row["first_approved"],
        }
        for row in rows
    }


def settings_for(plan: Plan) -> OnboardingSettings:
    return OnboardingSettings.for_tenant(plan.tenant)


# --- Pages, cards and sweeps ---------------------------------------------------------


def complete_step(
    step: PlanStep, *, at: datetime, by: User | None, source: str, evidence: str, now: datetime
) -> None:
    """Record ``step`` (locked by the caller) done and move its plan on:
    its last progress and, when it was its last required step, its
    completion. Inside a transaction."""
    _complete(step, at=at, by=by, source=source, evidence=evidence)
    plan = Plan.objects.select_for_update().select_related("tenant").get(pk=step.plan_id)
    plan.last_progress_at = max(at, plan.last_progress_at)
    plan.save(update_fields=["last_progress_at"])
    _finish_if_done(plan, now)


def stalled_before(settings_row: OnboardingSettings, now: datetime) -> datetime:
    """An active plan whose last step was completed (or which started)
    before this moment is stalled."""
    return now - timedelta(days=settings_row.stalled_after_days)


def is_stalled(plan: Plan, settings_row: OnboardingSettings, now: datetime) -> bool:
    return plan.status == Plan.Status.ACTIVE and plan.last_progress_at < stalled_before(
        settings_row, now
    )


def update_profile(
    partner: Partner, *, by: Membership, data: dict[str, Any], now: datetime | None = None
) -> Partner:
    """The partner admin completes their company profile (legal name,
    website, phone, address) through the partner directory's own service,
    and the plan's profile step completes if that made it complete."""
    now = resolve_now(now)
    if by.partner_id != partner.pk or by.role != Role.PARTNER_ADMIN:
        raise OnboardingError("Only a partner admin of this organisation edits its profile.")
    changes = {name: data[name] for name in PROFILE_FIELDS if name in data}
    with transaction.atomic():
        try:
            partner_services.update_partner(partner, by=by.user, data=changes)
        except ServiceError as exc:
            raise OnboardingError(exc.message, field=exc.field) from exc
        plan = (
            Plan.objects.select_for_update()
            .select_related("partner", "tenant")
            .filter(partner=partner, status=Plan.Status.ACTIVE)
            .first()
        )
        if plan is not None:
            sync_plan(plan, now=now)
    return partner

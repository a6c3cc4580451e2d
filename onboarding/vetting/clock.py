"""The vetting queue's clock: a confirmed application is queued with a
reviewer and a decision deadline on the vendor's business calendar; a
question to the applicant pauses the clock and their answer resumes it."""

from datetime import datetime

from django.db import transaction
from django.db.models import Count, Q

from prm import format as fmt
from prm.tenancy.businesstime import BusinessCalendar
from prm.tenancy.services import audit, notify
from prm.webhooks.events import emit

from ..assignment import choose_reviewer
from ..models import Application, ApplicationEvent, OnboardingSettings
from ..representations import application_data
from .access import DECIDE, admin_url, copy_back, event, lock, resolve_now, reviewers

Status = Application.Status
Kind = ApplicationEvent.Kind


def calendar_of(application: Application) -> tuple[OnboardingSettings, BusinessCalendar]:
    settings_row = OnboardingSettings.for_tenant(application.tenant)
    return settings_row, settings_row.calendar()


def reminder_at(
    settings_row: OnboardingSettings, calendar: BusinessCalendar, start: datetime, due: datetime
) -> datetime:
    """When the reviewer is reminded: ``reminder_business_days`` before the
    deadline. With no reminder set, or no time left for one, the first
    check is the deadline itself (the escalation)."""
    before = calendar.hours_per_day * settings_row.reminder_business_days
    left = calendar.between(start, due)
    if not before or left <= before:
        return due
    return calendar.add(start, left - before)


def _start_clock(application: Application, now: datetime) -> None:
    settings_row, calendar = calendar_of(application)
    application.due_at = calendar.add_days(now, settings_row.decision_business_days)
    application.next_check_at = reminder_at(settings_row, calendar, now, application.due_at)
    application.reminded_at = None
    application.escalated_at = None


CLOCK_FIELDS = ["due_at", "next_check_at", "reminded_at", "escalated_at"]
RECEIVED_EVENT = "application.received"


def queue(application: Application, now: datetime | None = None) -> Application:
    """Put a confirmed (SUBMITTED) application in the vetting queue: route
    its reviewer, start its decision clock, tell the reviewer. Queuing an
    application twice, or one that is not waiting, changes nothing."""
    now = resolve_now(now)
    with transaction.atomic():
        locked = lock(application)
        if locked.status != Status.SUBMITTED or locked.due_at is not None:
            return copy_back(locked, application)
        reviewer, rule = choose_reviewer(locked)
        locked.reviewer = reviewer
        _start_clock(locked, now)
        locked.save(update_fields=["reviewer", *CLOCK_FIELDS])
        assert locked.due_at is not None
        due = fmt.moment(locked.due_at, locked.tenant.tzinfo)
        who = f"{reviewer} (rule “{rule}”)" if rule is not None else "ops (no assignment rule)"
        event(locked, Kind.ASSIGNED, now, message=f"Reviewer: {who}. Decision due {due}.")
        audit(
            locked.tenant,
            by=None,
            action="onboarding.application_queued",
            obj=locked,
            data={"reviewer": str(reviewer or ""), "due_at": locked.due_at.isoformat()},
            now=now,
        )
        # Received: confirmed by its applicant, in the queue with a reviewer.
        emit(locked.tenant, RECEIVED_EVENT, application_data(locked), now=now)
        notify(
            locked.tenant,
            reviewers(locked),
            kind="onboarding.application_assigned",
            title=f"Partner application {locked.code} ({locked.company_name}) to review",
            body=f"{locked.company_name} applied to join as {locked.get_partner_type_display()}"
            f" from {locked.country.name}. Decide by {due}.",
            url=admin_url(locked),
            about=locked,
            task=DECIDE,
        )
    return copy_back(locked, application)


def resume(application: Application, now: datetime | None = None) -> Application:
    """The applicant answered the reviewer's question (the answer service
    has set the application SUBMITTED again): the deadline moves on by the
    business time the question waited, and the reviewer is told. Once per
    question: a second call changes nothing."""
    now = resolve_now(now)
    with transaction.atomic():
        locked = lock(application)
        asked = locked.info_requested_at
        if locked.status != Status.SUBMITTED or asked is None or locked.due_at is None:
            return copy_back(locked, application)
        # Queued once, then back in the queue once per question answered.
        tally = ApplicationEvent.objects.filter(application=locked).aggregate(
            queued=Count("pk", filter=Q(kind=Kind.ASSIGNED)),
            asked=Count("pk", filter=Q(kind=Kind.INFO_REQUESTED)),
        )
        if tally["queued"] > tally["asked"]:  # this answer resumed it already
            return copy_back(locked, application)
        settings_row, calendar = calendar_of(locked)
        due = calendar.add(locked.due_at, calendar.between(asked, now))
        locked.due_at = due
        if due <= now:  # overdue before the question: still overdue
            locked.next_check_at = None if locked.escalated_at else due
        else:
            locked.reminded_at = locked.escalated_at = None
            locked.next_check_at = reminder_at(settings_row, calendar, now, due)
        locked.save(update_fields=CLOCK_FIELDS)
        when = fmt.moment(due, locked.tenant.tzinfo)
        answered = (
            ApplicationEvent.objects.filter(application=locked, kind=Kind.INFO_PROVIDED)
            .order_by("-at")
            .first()
        )
        answer = answered.message if answered else ""
        event(
            locked,
            Kind.ASSIGNED,
            now,
            message=f"Back in the queue after the applicant's answer. Decision due {when}.",
        )
        audit(
            locked.tenant,
            by=None,
            action="onboarding.application_resumed",
            obj=locked,
            data={"due_at": due.isoformat()},
            now=now,
        )
        notify(
            locked.tenant,
            reviewers(locked),
            kind="onboarding.application_answered",
            title=f"{locked.company_name} answered your question on {locked.code}",
            body=f"{answer}\n\nThe application is back in your queue. Decide by {when}.",
            url=admin_url(locked),
            about=locked,
            task=DECIDE,
        )
    return copy_back(locked, application)


def on_queued(application: Application, now: datetime) -> None:
    """The applications' hook (``applications.ON_QUEUED``): ``queue``."""
    queue(application, now)


def on_answered(application: Application, now: datetime) -> None:
    """The applications' hook (``applications.ON_ANSWERED``): ``resume``."""
    resume(application, now)

"""What an applicant does: apply on the public page, confirm their email,
answer the reviewer's question.

An application is created unconfirmed, with a link mailed to the address
given; only confirming it (``confirm``) puts it in the reviewers' queue
(``queued``). The vetting module plugs into that moment without this module
importing it: at import it appends to ``ON_QUEUED`` (reviewer routing, the
decision deadline) and ``ON_ANSWERED`` (the clock restarted after the
applicant answers). The callbacks run inside the confirming transaction.

Abuse: a per-address (hourly) and per-email-domain (daily) limit counted in
Redis (``count_attempt``), checked after the input is valid and before
anything is created; the page's honeypot is the form's business. Whether the
company or the address is known changes nothing an applicant sees.
"""

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, TypeVar
from uuid import UUID

from django import forms
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django_countries import countries

from dealreg.forms import custom_form_field, json_safe_value
from partners.models import Partner
from partners.normalize import normalize_domain, normalize_name
from prm import format as fmt
from prm.tenancy.models import AuditEntry, Tenant
from prm.tenancy.ratelimits import try_again
from prm.tenancy.services import AlreadyDone, audit, once

from . import mail
from .errors import OnboardingError
from .models import Application, ApplicationEvent, OnboardingSettings, Question
from .models.applications import hash_token, new_token

M = TypeVar("M", bound=Model)

Status = Application.Status
Kind = ApplicationEvent.Kind

# Called with (application, now) once an application is queued (its email
# confirmed), and once the applicant has answered a question, inside the
# transaction: the vetting module appends its reviewer routing and decision
# clock here when it is imported.
ON_QUEUED: list[Callable[[Application, datetime], None]] = []
ON_ANSWERED: list[Callable[[Application, datetime], None]] = []

QUESTION_PREFIX = "q_"
ANSWER_MAX = 4000
LONG_TEXT_MAX = 2000  # specialities, markets
USER_AGENT_MAX = Application._meta.get_field("user_agent").max_length or 300
IP_WINDOW = 3600  # seconds: ``limit_per_ip`` counts per hour

# Checked in this order; the model's own validators check the rest.
REQUIRED = {
    "company_name": "Enter your company's name.",
    "contact_name": "Enter your name.",
    "contact_email": "Enter your work email address.",
}
TEXT_FIELDS = (
    "company_name",
    "legal_name",
    "website",
    "country",
    "partner_type",
    "company_size",
    "specialities",
    "markets",
    "contact_name",
    "contact_email",
    "contact_phone",
)


@dataclass
class ApplicationInput:
    """What the applicant typed, and their answers to the tenant's questions
    (by question key, as ``json_safe_value`` stores them)."""

    company_name: str
    contact_name: str
    contact_email: str
    country: str
    partner_type: str
    company_size: str
    legal_name: str = ""
    website: str = ""
    specialities: str = ""
    markets: str = ""
    contact_phone: str = ""
    answers: dict[str, Any] = field(default_factory=dict)


class TooMany(OnboardingError):
    """A rate limit refused the application; ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def resolve_now(now: datetime | None) -> datetime:
    return now or timezone.now()


def questions() -> list[Question]:
    """The tenant's active questions, in their order on the form."""
    return list(Question.objects.filter(is_active=True).order_by("position", "label"))


def question_field(question: Question) -> forms.Field:
    """The form field asking ``question`` (deal registration's builder)."""
    return custom_form_field(question)


# --- Checking the input -----------------------------------------------------------------


def _clean_answers(asked: Iterable[Question], answers: dict[str, Any]) -> dict[str, Any]:
    """The answers to the active questions, checked by the same form fields
    the page shows and stored JSON-safe; answers to nothing asked are
    dropped."""
    stored: dict[str, Any] = {}
    for question in asked:
        try:
            cleaned = question_field(question).clean(answers.get(question.key))
        except ValidationError as exc:
            raise OnboardingError(
                f"{question.label}: {' '.join(exc.messages)}", QUESTION_PREFIX + question.key
            ) from exc
        value = json_safe_value(question, cleaned)
        if value is not None:
            stored[question.key] = value
    return stored


def _website(value: str) -> tuple[str, str]:
    """(the website as stored, its domain). A bare domain gets https://."""
    value = value.strip()
    if not value:
        return "", ""
    try:
        domain = normalize_domain(value)
    except ValueError as exc:
        raise OnboardingError(str(exc), "website") from exc
    return (value if "://" in value else f"https://{value}"), domain


def build(tenant: Tenant, data: ApplicationInput, *, asked: Iterable[Question]) -> Application:
    """An unsaved application from the input, or ``OnboardingError`` naming
    the field to correct."""
    values = {name: str(getattr(data, name) or "").strip() for name in TEXT_FIELDS}
    for name, message in REQUIRED.items():
        if not values[name]:
            raise OnboardingError(message, name)
    email_local, at, email_domain = values["contact_email"].rpartition("@")
    if at:
        values["contact_email"] = f"{email_local}@{email_domain.lower()}"
    if values["country"] not in dict(countries):
        raise OnboardingError("Choose your company's country.", "country")
    if values["partner_type"] not in Partner.Type.values:
        raise OnboardingError(
            "Choose the kind of partnership you are applying for.", "partner_type"
        )
    if values["company_size"] not in Application.Size.values:
        raise OnboardingError("Choose your company's size.", "company_size")
    for name in ("specialities", "markets"):
        if len(values[name]) > LONG_TEXT_MAX:
            raise OnboardingError(
                f"Keep this under {fmt.number(LONG_TEXT_MAX)} characters "
                f"(it has {fmt.number(len(values[name]))}).",
                name,
            )
    values["website"], domain = _website(values["website"])
    normalized = normalize_name(values["company_name"])
    if not normalized:
        raise OnboardingError("Enter a name with at least one letter or digit.", "company_name")
    application = Application(tenant=tenant, normalized_name=normalized, domain=domain, **values)
    try:
        application.clean_fields(exclude=["tenant", "reviewer", "answers"])
    except ValidationError as exc:
        name, messages = next(iter(exc.message_dict.items()))
        raise OnboardingError(" ".join(messages), name) from exc
    application.answers = _clean_answers(asked, data.answers)
    return application


# --- Rate limits ------------------------------------------------------------------------


def _count(key: str, timeout: int) -> int:
    """One more under ``key`` (atomic in Redis); the count so far."""
    for _ in range(2):
        cache.add(key, 0, timeout=timeout)
        try:
            return int(cache.incr(key))
        except ValueError:  # expired between add and incr: start it again
            continue
    raise RuntimeError(f"Could not count {key}")


# Public mailbox providers: an email domain limit would let three strangers
# with a gmail.com address a day shut out every other one.
MAILBOX_PROVIDERS = frozenset(
    {
        "aol.com",
        "gmail.com",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hotmail.com",
        "icloud.com",
        "live.com",
        "mail.com",
        "me.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "web.de",
        "yahoo.com",
        "yandex.ru",
    }
)


def count_attempt(
    tenant: Tenant,
    policy: OnboardingSettings,
    *,
    ip_address: str | None,
    email_domain: str,
    now: datetime,
) -> None:
    """Count an application from ``ip_address`` (per clock hour) and from
    ``email_domain`` (per day of the tenant's calendar); ``TooMany`` once
    either is over the tenant's limit (``policy``). A refused attempt counts
    too: a flood stays refused until its window ends."""
    stamp = int(now.timestamp())
    hour = stamp // IP_WINDOW
    ip_key = f"onboarding:apply:{tenant.pk}:ip:{ip_address or 'unknown'}:{hour}"
    if _count(ip_key, IP_WINDOW + 60) > policy.limit_per_ip:
        wait = (hour + 1) * IP_WINDOW - stamp
        raise TooMany(
            "Too many applications were sent from your network this past hour. "
            + try_again(wait, now=now),
            retry_after=wait,
        )
    if email_domain in MAILBOX_PROVIDERS:
        return  # thousands of unrelated people: the address limit alone applies
    today = tenant.local_today(now)
    domain_key = f"onboarding:apply:{tenant.pk}:domain:{email_domain}:{today.isoformat()}"
    midnight = datetime.combine(today + timedelta(days=1), time(0), tzinfo=tenant.tzinfo)
    wait = max(int((midnight - now).total_seconds()), 1)
    if _count(domain_key, wait + 60) > policy.limit_per_domain:
        raise TooMany(
            f"Too many applications came from {email_domain} addresses today. Try again tomorrow.",
            retry_after=wait,
        )


# --- Applying ---------------------------------------------------------------------------


def clean_ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def record(
    application: Application, kind: str, *, now: datetime, message: str = ""
) -> ApplicationEvent:
    return ApplicationEvent.objects.create(
        tenant=application.tenant, application=application, kind=kind, message=message, at=now
    )


def submit(
    tenant: Tenant,
    data: ApplicationInput,
    *,
    ip_address: str | None,
    user_agent: str = "",
    client_token: UUID | None = None,
    now: datetime | None = None,
) -> Application | None:
    """Receive an application: checked, rate-limited, saved unconfirmed with
    a confirmation link mailed to the applicant (after commit). Returns it,
    or None when this form (``client_token``) was sent before: nothing new
    is created or mailed. Refusals: ``OnboardingError`` (the field to
    correct) and ``TooMany``. Known companies and addresses are treated as
    any other: the reviewer sees duplicates once the email is confirmed."""
    now = resolve_now(now)
    application = build(tenant, data, asked=questions())
    once_key = f"onboarding.apply:{client_token}" if client_token else ""
    if once_key and AuditEntry.objects.filter(tenant=tenant, once_key=once_key).exists():
        return None
    ip_address = clean_ip(ip_address)
    policy = OnboardingSettings.for_tenant(tenant)
    count_attempt(
        tenant, policy, ip_address=ip_address, email_domain=application.email_domain, now=now
    )
    token, token_hash = new_token()
    application.ip_address = ip_address
    application.user_agent = (user_agent or "")[:USER_AGENT_MAX]
    application.created_at = now
    application.confirm_token_hash = token_hash
    application.confirm_by = now + timedelta(hours=policy.confirm_within_hours)
    try:
        with transaction.atomic(), once(tenant, once_key) as key:
            application.save()
            record(application, Kind.RECEIVED, now=now)
            audit(
                tenant,
                by=None,
                action="onboarding.application_received",
                obj=application,
                data={"ip": ip_address or ""},
                now=now,
                once_key=key,
            )
            mail.to_applicant(application, "confirm", token=token)
    except AlreadyDone:
        return None
    return application


# --- Confirming the email ---------------------------------------------------------------


def by_confirm_token(token: str) -> Application | None:
    """The current tenant's application whose confirmation link this is."""
    return Application.objects.filter(confirm_token_hash=hash_token(token)).first()


def is_expired(application: Application, now: datetime | None = None) -> bool:
    """An unconfirmed application past its confirmation deadline."""
    if application.status == Status.EXPIRED:
        return True
    return (
        application.status == Status.UNCONFIRMED
        and application.confirm_by is not None
        and resolve_now(now) > application.confirm_by
    )


def confirm(application: Application, *, now: datetime | None = None) -> bool:
    """The applicant confirmed their email: the application is queued for
    review and they are mailed that it was received. True if this confirmed
    it, False if it was confirmed before (nothing changes). A link past its
    deadline is refused and changes nothing."""
    now = resolve_now(now)
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        if is_expired(application, now):
            raise OnboardingError(
                "This confirmation link has expired, so the application was not sent to "
                "the team. Please apply again."
            )
        if application.status != Status.UNCONFIRMED:
            return False
        queued(application, now)
        audit(
            application.tenant,
            by=None,
            action="onboarding.application_confirmed",
            obj=application,
            now=now,
        )
        mail.to_applicant(application, "received")
    return True


def queued(application: Application, now: datetime) -> None:
    """Put a confirmed application (locked by the caller) in the reviewers'
    queue: submitted, its duplicates named, its timeline told; then each
    ``ON_QUEUED`` callback (the reviewer and the decision deadline)."""
    application.status = Status.SUBMITTED
    application.confirmed_at = now
    application.duplicate_partner, application.duplicate_application = find_duplicates(application)
    application.save(
        update_fields=["status", "confirmed_at", "duplicate_partner", "duplicate_application"]
    )
    record(application, Kind.CONFIRMED, now=now)
    for callback in ON_QUEUED:
        callback(application, now)


# --- Duplicates -------------------------------------------------------------------------


def company_names(application: Application) -> set[str]:
    """The application's company and legal names, normalized as the
    partner directory does."""
    names = {normalize_name(application.company_name), normalize_name(application.legal_name)}
    return names - {""}


def _same_company(candidates: QuerySet[M], names: set[str], domain: str) -> M | None:
    """The earliest of ``candidates`` with one of the normalized ``names``
    or the web ``domain``; else the first whose legal name normalizes into
    ``names`` (legal names are not stored normalized: compared here)."""
    if not names and not domain:
        return None
    same = Q(normalized_name__in=names)
    if domain:
        same |= Q(domain=domain)
    found = candidates.filter(same).order_by("created_at").first()
    if found is None and names:
        rows = candidates.exclude(legal_name="").values_list("pk", "legal_name")
        pk = next((pk for pk, legal in rows.iterator() if normalize_name(legal) in names), None)
        found = candidates.filter(pk=pk).first() if pk is not None else None
    return found


def find_duplicates(application: Application) -> tuple[Partner | None, Application | None]:
    """The existing partner, and the earliest other open or approved
    application, that are the same company: the same normalized name
    (company or legal name, on either side) or the same web domain.
    Unconfirmed applications do not count: anyone can type any name."""
    names, domain = company_names(application), application.domain
    others = Application.objects.filter(status__in=[*Application.OPEN, Status.APPROVED]).exclude(
        pk=application.pk
    )
    return (
        _same_company(Partner.objects.all(), names, domain),
        _same_company(others, names, domain),
    )


def _why(application: Application, name: str, domain: str) -> str:
    if application.domain and domain == application.domain:
        return f"the same web domain, {domain}"
    if normalize_name(name) in company_names(application):
        return "the same name"
    return "the same legal name"


def duplicate_notes(application: Application) -> list[str]:
    """What the reviewer is told about the duplicates found when the
    application was queued, each named (plain text: templates escape it)."""
    notes = []
    partner = application.duplicate_partner
    if partner is not None:
        why = _why(application, partner.name, partner.domain)
        notes.append(
            f"Already a partner: “{partner.name}” ({partner.get_status_display().lower()}), "
            f"with {why}."
        )
    other = application.duplicate_application
    if other is not None:
        why = _why(application, other.company_name, other.domain)
        notes.append(
            f"Already applied: {other.code} “{other.company_name}” on "
            f"{fmt.day(other.created_at, application.tenant.tzinfo)} "
            f"({other.get_status_display().lower()}), with {why}."
        )
    return notes


# --- Answering the reviewer's question -------------------------------------------------


def by_info_token(token: str) -> Application | None:
    """The current tenant's application waiting for the answer this link is for."""
    return Application.objects.filter(
        info_token_hash=hash_token(token), status=Status.MORE_INFO
    ).first()


def admin_url(application: Application) -> str:
    """The application's page in the admin ("" while no admin shows it)."""
    try:
        return reverse("tenant_admin:onboarding_application_change", args=[application.pk])
    except NoReverseMatch:
        return ""


def provide_info(
    application: Application, *, answer: str, now: datetime | None = None
) -> Application:
    """The applicant answered the reviewer's question (through the link in
    the mail, which works once): back in the queue, the reviewer (ops when
    there is none) told, the decision clock restarted (``ON_ANSWERED``)."""
    now = resolve_now(now)
    answer = (answer or "").strip()
    if not answer:
        raise OnboardingError("Write your answer.", "answer")
    if len(answer) > ANSWER_MAX:
        raise OnboardingError(
            f"Keep your answer under {fmt.number(ANSWER_MAX)} characters "
            f"(it has {fmt.number(len(answer))}).",
            "answer",
        )
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        if application.status != Status.MORE_INFO or not application.info_token_hash:
            raise OnboardingError("This link was already used or is no longer valid.")
        application.status = Status.SUBMITTED
        application.info_token_hash = ""
        application.save(update_fields=["status", "info_token_hash"])
        record(application, Kind.INFO_PROVIDED, now=now, message=answer)
        audit(
            application.tenant, by=None, action="onboarding.info_provided", obj=application, now=now
        )
        # Vetting's hook puts it back in the queue and tells the reviewer.
        for callback in ON_ANSWERED:
            callback(application, now)
    return application

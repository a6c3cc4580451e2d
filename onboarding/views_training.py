"""Partner portal "Training": the team's certifications (what each person
holds, until when, what expires soon, what waits for the vendor), the
vendor's catalogue, reporting a course or certification with its
certificate, and downloading a certificate.

Every member of the partner (``portal.training``) sees the whole team: it
is their own organisation. A person reports their own training; a partner
admin also a colleague's (``training.may_report_for``). Staff keep records
in the admin (403 here); another partner's or tenant's record is 404.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from prm.tenancy.access import own_or_404, role_required, visible_or_404
from prm.tenancy.errors import add_service_error
from prm.tenancy.files import serve
from prm.tenancy.models import Membership
from prm.tenancy.params import page_of
from prm.tenancy.requests import MemberRequest
from prm.tenancy.roles import Role

from . import training
from .errors import OnboardingError
from .forms_training import ReportForm
from .models import Certification, Course, Function, TrainingRecord
from .portal_training import PERM, SOON_DAYS, renewed

PAGE_SIZE = 25
Status = TrainingRecord.Status
FUNCTIONS = dict(Function.choices)


def expiring_soon(partner_id: Any, today: date) -> QuerySet[TrainingRecord]:
    """The partner's active people's certifications that stop counting
    within ``SOON_DAYS`` days and were not earned again since."""
    return (
        training.expiring(today, today + timedelta(days=SOON_DAYS))
        .filter(partner_id=partner_id, membership__is_active=True)
        .exclude(renewed())
    )


@dataclass
class CertRow:
    record: TrainingRecord
    state: str  # valid, soon, expired


@dataclass
class PersonRow:
    person: Membership
    certifications: list[CertRow] = field(default_factory=list)
    courses: list[TrainingRecord] = field(default_factory=list)
    pending: list[TrainingRecord] = field(default_factory=list)
    rejected: list[TrainingRecord] = field(default_factory=list)


def _state(record: TrainingRecord, today: date) -> str:
    if record.expires_on is None or record.expires_on > today + timedelta(days=SOON_DAYS):
        return "valid"
    return "soon" if record.expires_on > today else "expired"


def person_rows(people: list[Membership], today: date) -> list[PersonRow]:
    """Each person with their records (one query): the latest confirmed
    record of each certification, completed courses, reports waiting for
    the vendor and those it did not confirm."""
    rows = {p.pk: PersonRow(person=p) for p in people}
    records = TrainingRecord.objects.filter(membership_id__in=rows).select_related(
        "course", "certification"
    )
    seen: dict[Any, set[Any]] = defaultdict(set)
    for record in records.order_by("-completed_on", "-recorded_at"):
        row = rows[record.membership_id]
        if record.status == Status.PENDING:
            row.pending.append(record)
        elif record.status == Status.REJECTED:
            row.rejected.append(record)
        elif record.course_id is not None:
            row.courses.append(record)
        elif record.certification_id not in seen[row.person.pk]:
            seen[row.person.pk].add(record.certification_id)
            row.certifications.append(CertRow(record, _state(record, today)))
    return list(rows.values())


def catalogue() -> QuerySet[Certification]:
    return Certification.objects.filter(is_active=True).prefetch_related(
        Prefetch("courses", queryset=Course.objects.filter(is_active=True))
    )


@require_GET
@role_required(PERM)
def training_page(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    assert membership.partner_id is not None  # portal.training is a partner role's
    today = request.tenant.local_today()
    people = (
        Membership.objects.filter(partner_id=membership.partner_id, is_active=True)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )
    page = page_of(request, Paginator(people, PAGE_SIZE))
    certifications = [
        (c, [FUNCTIONS.get(f, f) for f in c.functions], list(c.courses.all())) for c in catalogue()
    ]
    return render(
        request,
        "onboarding/training.html",
        {
            "today": today,
            "soon_days": SOON_DAYS,
            "expiring": expiring_soon(membership.partner_id, today)
            .select_related("certification", "membership__user")
            .order_by("expires_on"),
            "rows": person_rows(list(page.object_list), today),
            "page_obj": page,
            "certifications": certifications,
            "courses": Course.objects.filter(is_active=True),
        },
    )


@require_http_methods(["GET", "POST"])
@role_required(PERM)
def report(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    status = 200
    if request.method == "POST":
        form = ReportForm(request.POST, request.FILES, membership=membership)
        if form.is_valid():
            data = form.cleaned_data
            try:
                row = training.report(
                    person=form.person_or_self(),
                    achievement=data["achievement"],
                    completed_on=data["completed_on"],
                    by=membership,
                    certificate=data["document"],
                    certificate_id=data["certificate_id"],
                    score=data["score"],
                )
            except OnboardingError as exc:
                add_service_error(form, exc)
            else:
                messages.success(
                    request,
                    f"Reported {row.achievement} for {row.membership.user}: "
                    "the vendor confirms it once they have checked the certificate.",
                )
                return redirect("onboarding:training")
        status = 400
    else:
        form = ReportForm(membership=membership)
    return render(
        request,
        "onboarding/training_report.html",
        {"form": form, "for_colleagues": membership.role == Role.PARTNER_ADMIN},
        status=status,
    )


@require_GET
@role_required()
def certificate(request: MemberRequest, record_id: UUID) -> FileResponse:
    """A record's certificate, to the partner's own people: an attachment
    under the name it was uploaded with, typed as detected at upload."""
    record = visible_or_404(TrainingRecord.objects.all(), pk=record_id)
    own_or_404(request, record, perm=PERM)
    if not record.evidence:
        raise Http404("No such file.")
    return serve(
        record.evidence,
        filename=record.evidence_name or "certificate",
        content_type=record.evidence_type,
    )

"""Partner portal: the organisation's deal registrations.

Partner users and partner admins see and act on every registration of their
organisation. A code that is unknown or another tenant's answers 404, staff
(who work on registrations in the admin) get 403, and another partner's
registration answers 404 like a missing one.
"""

from collections.abc import Iterator
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, QuerySet
from django.forms import Form
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from prm.csvio import csv_response, export_filename
from prm.tenancy import registry
from prm.tenancy.access import member_object, role_required
from prm.tenancy.codes import normalize_code
from prm.tenancy.errors import add_service_error
from prm.tenancy.models import Membership
from prm.tenancy.params import filter_notices, page_of, refuse_download
from prm.tenancy.requests import MemberRequest

from . import duplicates, services
from .forms import (
    AnswerForm,
    ExtensionForm,
    ListFilterForm,
    MessageForm,
    OutcomeForm,
    RegistrationForm,
    WithdrawForm,
)
from .models import (
    CustomField,
    DealRegistration,
    DealRegSettings,
    ExtensionRequest,
    RegistrationEvent,
)
from .services import DealRegError
from .submission import REGISTER

PERM = "portal.dealreg"
PAGE_SIZE = 25
Status = DealRegistration.Status
# A draft is deleted, not withdrawn (nobody else has seen it): views_ending.
WITHDRAWABLE = (*DealRegistration.PENDING, Status.APPROVED)
Kind = services.Kind


def organisation_registrations(membership: Membership) -> QuerySet[DealRegistration]:
    assert membership.partner_id is not None  # the portal is for partner roles
    return DealRegistration.objects.filter(partner_id=membership.partner_id)


def status_counts(registrations: QuerySet[DealRegistration]) -> list[dict[str, Any]]:
    """How many registrations are in each status (one query), in workflow order."""
    counts = dict(registrations.order_by().values_list("status").annotate(n=Count("pk")))
    return [
        {"status": value, "label": label, "count": counts.get(value, 0)}
        for value, label in Status.choices
    ]


# A view of one of the organisation's registrations, found by its code.
registration_view = member_object(
    lambda: DealRegistration.objects.select_related("partner", "tenant"),
    perm=PERM,
    lookup="code",
    normalize=normalize_code,
)


def _detail_url(registration: DealRegistration, anchor: str = "") -> str:
    url = reverse("dealreg:detail", args=[registration.code])
    return f"{url}#{anchor}" if anchor else url


def business_duration(left: timedelta) -> str:
    """Business time as "5 h 20 min" (business days vary in length)."""
    minutes = max(int(left.total_seconds()) // 60, 0)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    if hours:
        return f"{hours} h"
    return f"{minutes} min"


# --- List and export -------------------------------------------------------------


@role_required(PERM)
def registration_list(request: MemberRequest) -> HttpResponse:
    mine = organisation_registrations(request.membership)
    refused = registry.refusal(REGISTER, request.membership.partner)
    filters = ListFilterForm(request.GET)
    filter_notices(request, filters)
    rows = filters.filter(mine).select_related("submitted_by").order_by("-created_at", "-pk")
    page = page_of(request, Paginator(rows, PAGE_SIZE))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "dealreg/list.html",
        {
            "filters": filters,
            "page_obj": page,
            "registrations": page.object_list,
            "counts": status_counts(mine),
            "query": query.urlencode(),
            "active_status": filters.cleaned_data.get("status", ""),
            "review_statuses": DealRegistration.PENDING,
            "refused": refused,
        },
    )


CSV_COLUMNS = [
    "code",
    "status",
    "conflict review",
    "customer",
    "domain",
    "country",
    "region",
    "contact name",
    "contact email",
    "contact phone",
    "product lines",
    "estimated value",
    "currency",
    "expected close date",
    "submitted at",
    "submitted by",
    "decision due",
    "protected until",
    "won amount",
    "won close date",
    "lost reason",
]


def _csv_time(moment: datetime | None, tzinfo: tzinfo) -> str:
    return timezone.localtime(moment, tzinfo).strftime("%Y-%m-%d %H:%M") if moment else ""


@role_required(PERM)
def registration_export(request: MemberRequest) -> HttpResponse | StreamingHttpResponse:
    """The organisation's registrations as the list shows them filtered, as
    CSV; every cell is safe to open in a spreadsheet."""
    tenant = request.tenant
    filters = ListFilterForm(request.GET)
    refuse_download(filters)
    rows = (
        filters.filter(organisation_registrations(request.membership))
        .select_related("submitted_by", "customer_region")
        .prefetch_related("product_lines")
        .order_by("-created_at", "-pk")
    )
    tz = tenant.tzinfo

    def csv_rows() -> Iterator[list[object]]:
        for reg in rows.iterator(chunk_size=500):
            pending = reg.status in DealRegistration.PENDING
            yield [
                reg.code,
                reg.get_status_display(),
                "yes" if reg.conflict_state == DealRegistration.ConflictState.CONFLICT else "",
                reg.customer_name,
                reg.customer_domain,
                reg.customer_country.code,
                reg.customer_region.name if reg.customer_region else "",
                reg.customer_contact_name,
                reg.customer_contact_email,
                reg.customer_contact_phone,
                "; ".join(p.name for p in reg.product_lines.all()),
                reg.estimated_value,
                reg.currency,
                reg.expected_close_date,
                _csv_time(reg.submitted_at, tz),
                reg.submitted_by.email,
                _csv_time(reg.sla_due_at, tz) if pending and not reg.sla_paused else "",
                reg.protected_until or "",
                reg.won_amount if reg.won_amount is not None else "",
                reg.won_close_date or "",
                reg.lost_reason,
            ]

    return csv_response(export_filename(tenant, "deal-registrations"), csv_rows(), CSV_COLUMNS)


# --- New registrations and drafts ---------------------------------------------------


def _save(
    request: MemberRequest, form: RegistrationForm, registration: DealRegistration | None
) -> DealRegistration | None:
    """Save a draft or submit, as the button pressed says. Returns the
    registration, or None with the refusal shown on the form."""
    submitting = request.POST.get("action") == "submit"
    operation = services.submit if submitting else services.save_draft
    try:
        with transaction.atomic():
            saved = operation(
                tenant=request.tenant,
                by=request.membership,
                given=form.to_input(),
                registration=registration,
                client_token=form.cleaned_data.get("client_token"),
            )
            if saved.partner_id == request.membership.partner_id:
                form.save_extensions(saved)
    except DealRegError as exc:
        add_service_error(form, exc)
        return None
    if saved.partner_id != request.membership.partner_id:
        # A form token only ever matches the organisation's own form.
        form.add_error(None, "This form has expired; reload the page and enter it again.")
        return None
    if submitting and saved.status == Status.DRAFT:
        messages.warning(
            request, f"This form was already saved as draft {saved.code}; check it and submit it."
        )
    elif submitting:
        messages.success(
            request, f"{saved.code} submitted. We will tell you as soon as it is decided."
        )
    else:
        messages.success(request, f"Draft {saved.code} saved.")
    return saved


def _duplicates(
    request: MemberRequest, form: RegistrationForm, registration: DealRegistration | None
) -> list[DealRegistration]:
    """The organisation's open registrations of the customer on the form."""
    data = form.cleaned_data if form.is_bound else form.initial
    return duplicates.own_duplicates(
        request.membership.partner_id,
        data.get("customer_name", ""),
        data.get("customer_domain", ""),
        exclude=registration,
        client_token=data.get("client_token"),
    )


def _ack(found: list[DealRegistration]) -> str:
    """What the form sends back once the partner has seen the warning."""
    return ",".join(sorted(r.code for r in found))


def _save_or_warn(
    request: MemberRequest, form: RegistrationForm, registration: DealRegistration | None
) -> tuple[DealRegistration | None, list[DealRegistration]]:
    """Save (``_save``), unless the partner submits a customer they already
    registered without having seen the warning: then nothing is saved and
    the form shows the warning once (the next submit goes through). A draft
    is saved with the warning as a message."""
    found = _duplicates(request, form, registration)
    submitting = request.POST.get("action") == "submit"
    if found and submitting and request.POST.get("duplicate_ack") != _ack(found):
        return None, found
    saved = _save(request, form, registration)
    if saved is not None and not submitting:
        for other in found:
            messages.warning(request, duplicates.warning(other))
    return saved, found


def _form_page(
    request: MemberRequest,
    form: RegistrationForm,
    registration: DealRegistration | None,
    found: list[DealRegistration],
) -> HttpResponse:
    """The form; a warning about registrations of the same customer is not an
    error (200), a form with errors is (400)."""
    warned = bool(found) and not form.errors
    return render(
        request,
        "dealreg/form.html",
        {
            "form": form,
            "registration": registration,
            "duplicates": [
                {"registration": r, "registered_on": duplicates.registered_on(r)} for r in found
            ],
            "duplicate_ack": _ack(found),
        },
        status=400 if form.is_bound and not warned else 200,
    )


@role_required(PERM)
def registration_new(request: MemberRequest) -> HttpResponse:
    """A new registration; refused (403, saying why and what to do) while
    another app's restriction refuses the partner new registrations."""
    refused = registry.refusal(REGISTER, request.membership.partner)
    if refused is not None:
        return render(request, "dealreg/refused.html", {"refused": refused}, status=403)
    form = RegistrationForm(
        request.POST or None,
        tenant=request.tenant,
        with_token=True,
        membership=request.membership,
    )
    found: list[DealRegistration] = []
    if request.method == "POST" and form.is_valid():
        saved, found = _save_or_warn(request, form, None)
        if saved is not None:
            return redirect(_detail_url(saved))
    if request.method == "GET":
        assert request.membership.partner is not None  # PERM is a partner permission
        form.initial.setdefault("customer_country", request.membership.partner.country.code)
    return _form_page(request, form, None, found)


@registration_view
def registration_edit(request: MemberRequest, registration: DealRegistration) -> HttpResponse:
    if registration.status != Status.DRAFT:
        messages.info(request, f"{registration.code} is no longer a draft.")
        return redirect(_detail_url(registration))
    form = RegistrationForm(
        request.POST or None,
        tenant=request.tenant,
        registration=registration,
        membership=request.membership,
    )
    found: list[DealRegistration] = []
    if request.method == "POST" and form.is_valid():
        saved, found = _save_or_warn(request, form, registration)
        if saved is not None:
            return redirect(_detail_url(saved))
    if request.method == "GET":
        # A draft of a customer already registered says so before it is submitted.
        found = _duplicates(request, form, registration)
    return _form_page(request, form, registration, found)


@require_POST
@registration_view
def registration_submit(request: MemberRequest, registration: DealRegistration) -> HttpResponse:
    """Submit a draft as it was saved."""
    try:
        services.submit(tenant=request.tenant, by=request.membership, registration=registration)
    except DealRegError as exc:
        messages.error(request, f"{registration.code} was not submitted: {exc}")
        if registration.status == Status.DRAFT:
            return redirect("dealreg:edit", registration.code)
        return redirect(_detail_url(registration))
    messages.success(
        request, f"{registration.code} submitted. We will tell you as soon as it is decided."
    )
    return redirect(_detail_url(registration))


# --- Detail and actions -----------------------------------------------------------


def _sla(registration: DealRegistration) -> dict[str, Any] | None:
    state = services.sla_state(registration)
    if not state:
        return None
    left = services.business_time_left(registration)
    return {"state": state, "left": business_duration(left), "due": registration.sla_due_at}


def _custom_answers(registration: DealRegistration) -> list[tuple[str, object]]:
    stored = registration.custom_data or {}
    answers = []
    for definition in CustomField.objects.filter(key__in=list(stored)):
        value = stored[definition.key]
        if definition.field_type == CustomField.Type.CHECKBOX:
            value = "Yes" if value else "No"
        answers.append((definition.label, value))
    return answers


def _protected_until(event: RegistrationEvent) -> date | None:
    """The protection end an approval or an extension set, if any."""
    value = (event.data or {}).get("protected_until") or (event.data or {}).get("new_until")
    try:
        return date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def _render_detail(
    request: MemberRequest, registration: DealRegistration, status: int = 200, **forms: Form
) -> HttpResponse:
    events = list(
        registration.events.filter(visible_to_partner=True)
        .select_related("actor")
        .order_by("created_at", "pk")
    )
    for event in events:
        event.protected_until = _protected_until(event)  # type: ignore[attr-defined]  # for the page
    settings_row = DealRegSettings.for_tenant(request.tenant)
    pending_extension = registration.extension_requests.filter(
        status=ExtensionRequest.Status.PENDING
    ).first()
    info_request = next(
        (e for e in reversed(events) if e.kind == Kind.INFO_REQUESTED),
        None,
    )
    can_extend = (
        registration.status == Status.APPROVED
        and pending_extension is None
        and registration.extension_count < settings_row.max_extensions
    )
    # Only that the registration is under review (while a decision is
    # pending): never whose claim it meets. Once approved it is protected.
    in_conflict_review = (
        registration.conflict_state == DealRegistration.ConflictState.CONFLICT
        and registration.status in DealRegistration.PENDING
    )
    context = {
        "registration": registration,
        "review_statuses": DealRegistration.PENDING,
        "our_people": set(
            Membership.objects.filter(partner_id=registration.partner_id).values_list(
                "user_id", flat=True
            )
        ),
        "timeline": [e for e in events if e.kind != Kind.MESSAGE],
        "conversation": [e for e in events if e.kind == Kind.MESSAGE],
        "info_request": info_request if registration.status == Status.MORE_INFO else None,
        "sla": _sla(registration),
        "product_lines": list(registration.product_lines.all()),
        "custom_answers": _custom_answers(registration),
        "settings": settings_row,
        "pending_extension": pending_extension,
        "can_withdraw": registration.status in WITHDRAWABLE,
        "can_extend": can_extend,
        "in_conflict_review": in_conflict_review,
        "message_form": forms.get("message_form") or MessageForm(),
        "answer_form": forms.get("answer_form") or AnswerForm(),
        "withdraw_form": forms.get("withdraw_form") or WithdrawForm(),
        "extension_form": forms.get("extension_form") or ExtensionForm(),
        "outcome_form": forms.get("outcome_form") or OutcomeForm(registration=registration),
    }
    return render(request, "dealreg/detail.html", context, status=status)


@registration_view
def registration_detail(request: MemberRequest, registration: DealRegistration) -> HttpResponse:
    return _render_detail(request, registration)


@require_POST
@registration_view
def registration_message(request: MemberRequest, registration: DealRegistration) -> HttpResponse:
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            services.add_message(
                registration, by=request.membership, text=form.cleaned_data["text"]
            )
        except DealRegError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "Message sent.")
            return redirect(_detail_url(registration, "messages"))
    return _render_detail(request, registration, status=400, message_form=form)


@registration_view
def registration_answer(request: MemberRequest, registration: DealRegistration) -> HttpResponse:
    """Answer an information request: a message, and optionally corrected
    details (sent only when something was changed)."""
    if registration.status != Status.MORE_INFO:
        messages.info(request, f"{registration.code} is not waiting for an answer.")
        return redirect(_detail_url(registration))
    posting = request.method == "POST"
    with_details = not posting or request.POST.get("with_details") == "1"
    answer = AnswerForm(request.POST if posting else None)
    details = None
    if with_details:
        details = RegistrationForm(
            request.POST if posting else None, tenant=request.tenant, registration=registration
        )
    if posting:
        answer_ok = answer.is_valid()
        details_ok = details is None or details.is_valid()
        if answer_ok and details_ok:
            given = (
                details.to_input() if details is not None and details.details_changed() else None
            )
            try:
                services.provide_info(
                    registration,
                    by=request.membership,
                    message=answer.cleaned_data["message"],
                    given=given,
                )
            except DealRegError as exc:
                target = details if details is not None and exc.field in details.fields else answer
                add_service_error(target, exc)
            else:
                messages.success(request, "Answer sent; the approver's clock runs again.")
                return redirect(_detail_url(registration))
        if details is None:
            return _render_detail(request, registration, status=400, answer_form=answer)
    return render(
        request,
        "dealreg/answer.html",
        {
            "registration": registration,
            "answer_form": answer,
            "form": details,
            "info_request": registration.events.filter(kind=Kind.INFO_REQUESTED)
            .order_by("-created_at")
            .first(),
        },
        status=400 if posting else 200,
    )


@require_POST
@registration_view
def registration_extension(request: MemberRequest, registration: DealRegistration) -> HttpResponse:
    form = ExtensionForm(request.POST)
    if form.is_valid():
        try:
            extension = services.request_extension(
                registration, by=request.membership, reason=form.cleaned_data["reason"]
            )
        except DealRegError as exc:
            add_service_error(form, exc)
        else:
            messages.success(
                request, f"Extension of {extension.days} days requested for {registration.code}."
            )
            return redirect(_detail_url(registration))
    return _render_detail(request, registration, status=400, extension_form=form)


@require_POST
@registration_view
def registration_outcome(request: MemberRequest, registration: DealRegistration) -> HttpResponse:
    form = OutcomeForm(request.POST, registration=registration)
    if form.is_valid():
        won = form.cleaned_data["outcome"] == OutcomeForm.WON
        try:
            services.record_outcome(
                registration,
                by=request.membership,
                won=won,
                amount=form.cleaned_data["amount"] if won else None,
                close_date=form.cleaned_data["close_date"] if won else None,
                reason="" if won else form.cleaned_data["reason"],
            )
        except DealRegError as exc:
            add_service_error(form, exc)
        else:
            messages.success(
                request, f"{registration.code} recorded as {'won' if won else 'lost'}."
            )
            return redirect(_detail_url(registration))
    return _render_detail(request, registration, status=400, outcome_form=form)

"""Partner portal: a fund request's form, its page and what the partner
does on it (submit, answer, write, cancel, ask for more time to claim)."""

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import messages
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from prm import format as fmt
from prm.tenancy import confirm
from prm.tenancy.access import role_required
from prm.tenancy.errors import add_service_error
from prm.tenancy.models import Membership
from prm.tenancy.requests import MemberRequest

from . import requests as services
from . import roi
from .errors import MdfError
from .forms import (
    AnswerForm,
    BaseLineFormSet,
    CancelForm,
    ExtensionForm,
    MessageForm,
    RequestForm,
    line_formset,
)
from .models import ActivityEvent, Claim, ClaimExtension, FundRequest
from .views import PERM, Status, deadline, request_url, request_view

Kind = ActivityEvent.Kind
EDITABLE = (Status.DRAFT, Status.MORE_INFO)
CANCELLABLE = (Status.DRAFT, Status.SUBMITTED, Status.MORE_INFO, Status.APPROVED)
LINES = "lines"


# --- The form ---------------------------------------------------------------------------


class InfoAnswerForm(forms.Form):
    """The answer sent with a request changed after the reviewer asked."""

    answer = forms.CharField(
        label="Your answer to the reviewer",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def show_error(form: Form, lines: BaseLineFormSet, error: MdfError, line_field: str) -> list[str]:
    """A refusal on its field, or above the cost lines when it is about them."""
    if error.field == line_field:
        return [str(error)]
    add_service_error(form, error)
    return []


def _requested(form: RequestForm) -> Decimal | None:
    """The amount asked for as the form holds it (a refusal on the field
    takes it out of ``cleaned_data``: then as typed, if it is a number)."""
    if not form.is_bound:
        value = form.initial.get("requested_amount")
        return value if isinstance(value, Decimal) else None
    value = (getattr(form, "cleaned_data", None) or {}).get("requested_amount")
    if value is not None:
        return value
    try:
        found = Decimal(str(form.data.get("requested_amount", "")).strip())
    except InvalidOperation:
        return None
    return found if found.is_finite() else None


def money_figures(form: RequestForm, lines: BaseLineFormSet) -> dict[str, Any] | None:
    """Total cost, what the fund pays at most, the amount asked and the
    partner's contribution, from what the form holds (recomputed on every
    render, so the figures need no JavaScript)."""
    allocation = form.chosen_allocation()
    total = lines.total()
    if allocation is None and not total:
        return None
    currency = form.tenant.base_currency
    requested = _requested(form)
    percent = allocation.budget.fund_type.reimbursement_percent if allocation else None
    limit = services.max_reimbursable(total, percent, currency) if percent is not None else None
    return {
        "currency": currency,
        "total": total,
        "percent": percent.normalize() if percent is not None else None,
        "limit": limit,
        "requested": requested,
        "contribution": (total - requested) if requested is not None else None,
        "over": requested is not None and limit is not None and requested > limit,
    }


def _form_page(
    request: MemberRequest,
    form: RequestForm,
    lines: BaseLineFormSet,
    fund_request: FundRequest | None,
    line_errors: list[str],
    answer: InfoAnswerForm | None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "mdf/request_form.html",
        {
            "form": form,
            "lines": lines,
            "line_errors": line_errors,
            "fund_request": fund_request,
            "answer_form": answer,
            "figures": money_figures(form, lines),
            "info_request": _last(fund_request, Kind.INFO_REQUESTED) if fund_request else None,
        },
        status=status,
    )


def _last(fund_request: FundRequest, kind: str) -> ActivityEvent | None:
    return (
        fund_request.events.filter(kind=kind, visible_to_partner=True)
        .order_by("-created_at", "-pk")
        .first()
    )


def _save(
    request: MemberRequest,
    form: RequestForm,
    lines: BaseLineFormSet,
    fund_request: FundRequest | None,
    answer: InfoAnswerForm | None,
) -> tuple[FundRequest | None, list[str]]:
    """Save a draft or submit (or, for a request sent back, answer), as
    the button pressed says. Returns the request, or None and the errors
    the page shows."""
    submitting = request.POST.get("action") == "submit"
    answering = submitting and fund_request is not None and fund_request.status == Status.MORE_INFO
    text = ""
    if answering:
        assert answer is not None
        text = (answer.cleaned_data.get("answer") or "").strip()
        if not text:
            answer.add_error("answer", "Tell the reviewer what you changed or answer the question.")
            return None, []
    data = form.to_data(lines.lines())
    try:
        saved = services.save_request(
            data,
            by=request.membership,
            request=fund_request,
            client_token=form.cleaned_data.get("client_token"),
            submit=submitting and not answering,
        )
        if answering:
            services.provide_info(saved, by=request.membership, message=text)
    except MdfError as exc:
        return None, show_error(form, lines, exc, "cost_lines")
    if saved.partner_id != request.membership.partner_id:
        form.add_error(None, "This form has expired; reload the page and enter it again.")
        return None, []
    if answering:
        messages.success(request, f"Answer sent on {saved.code}; the reviewer has it again.")
    elif submitting and saved.status == Status.DRAFT:
        messages.warning(
            request, f"This form was already saved as draft {saved.code}; check it and submit it."
        )
    elif submitting:
        messages.success(
            request, f"{saved.code} submitted. We will tell you as soon as it is decided."
        )
    else:
        messages.success(request, f"Draft {saved.code} saved.")
    return saved, []


def _handle(
    request: MemberRequest, fund_request: FundRequest | None, *, with_token: bool
) -> HttpResponse:
    membership = request.membership
    posted = request.POST if request.method == "POST" else None
    form = RequestForm(
        posted,
        tenant=request.tenant,
        partner_id=membership.partner_id,
        request=fund_request,
        with_token=with_token,
    )
    lines = line_formset(
        posted,
        prefix=LINES,
        lines=[(c.description, c.amount) for c in fund_request.cost_lines.all()]
        if fund_request is not None
        else None,
    )
    answer = None
    if fund_request is not None and fund_request.status == Status.MORE_INFO:
        answer = InfoAnswerForm(posted)
    line_errors: list[str] = []
    if posted is None:
        return _form_page(request, form, lines, fund_request, line_errors, answer)
    valid = form.is_valid() & lines.is_valid() & (answer is None or answer.is_valid())
    if request.POST.get("action") == "recalc":
        return _form_page(request, form, lines, fund_request, line_errors, answer)
    if valid:
        saved, line_errors = _save(request, form, lines, fund_request, answer)
        if saved is not None:
            return redirect(request_url(saved))
    return _form_page(request, form, lines, fund_request, line_errors, answer, status=400)


@role_required(PERM)
def request_new(request: MemberRequest) -> HttpResponse:
    return _handle(request, None, with_token=True)


@request_view
def request_edit(request: MemberRequest, fund_request: FundRequest) -> HttpResponse:
    if fund_request.status not in EDITABLE:
        messages.info(request, f"{fund_request.code} can no longer be changed.")
        return redirect(request_url(fund_request))
    return _handle(request, fund_request, with_token=False)


@require_POST
@request_view
def request_submit(request: MemberRequest, fund_request: FundRequest) -> HttpResponse:
    """Submit a draft as it was saved."""
    try:
        services.submit_request(fund_request, by=request.membership)
    except MdfError as exc:
        messages.error(request, f"{fund_request.code} was not submitted: {exc}")
        if fund_request.status == Status.DRAFT:
            return redirect("mdf:request_edit", fund_request.code)
        return redirect(request_url(fund_request))
    messages.success(
        request, f"{fund_request.code} submitted. We will tell you as soon as it is decided."
    )
    return redirect(request_url(fund_request))


# --- The page ---------------------------------------------------------------------------


def activity_figures(fund_request: FundRequest, claim_approved: bool) -> dict[str, Any]:
    """The activity's closed loop as ``mdf.roi`` computes it (one query for
    the figures, one for the sourced registrations): spent, the vendor's
    and the partner's shares and ROI once its claim is approved."""
    tenant = fund_request.tenant
    row = roi.RoiRow(key=fund_request.pk, label=str(fund_request))
    found = roi.activities(tenant).filter(pk=fund_request.pk).first()
    if found is not None:
        row.add(found)
    registrations = list(
        roi.sourced_registrations(tenant, requests=[fund_request.pk]).order_by("created_at")
    )
    return {"row": row, "registrations": registrations, "claim_approved": claim_approved}


def _render_detail(
    request: MemberRequest, fund_request: FundRequest, status: int = 200, **forms: Form
) -> HttpResponse:
    events = list(
        fund_request.events.filter(visible_to_partner=True)
        .select_related("actor", "claim")
        .order_by("created_at", "pk")
    )
    claims = list(
        fund_request.claims.select_related("reimbursement__entry__settlement").order_by(
            "-created_at", "-pk"
        )
    )
    live = next((c for c in claims if c.status in Claim.LIVE), None)
    approved = next((c for c in claims if c.status == Claim.Status.APPROVED), None)
    today = request.tenant.local_today()
    extensions = list(fund_request.extensions.order_by("-requested_at"))
    pending_extension = next(
        (e for e in extensions if e.status == ClaimExtension.Status.PENDING), None
    )
    window_open = (
        fund_request.status == Status.APPROVED
        and fund_request.claim_deadline is not None
        and fund_request.ends_on <= today <= fund_request.claim_deadline
    )
    funded = fund_request.status in (Status.APPROVED, Status.CLAIMED, Status.CLOSED)
    context = {
        "fund_request": fund_request,
        "cost_lines": list(fund_request.cost_lines.all()),
        "our_people": set(
            Membership.objects.filter(partner_id=fund_request.partner_id).values_list(
                "user_id", flat=True
            )
        ),
        "timeline": [e for e in events if e.kind != Kind.MESSAGE],
        "conversation": [e for e in events if e.kind == Kind.MESSAGE],
        "info_request": next((e for e in reversed(events) if e.kind == Kind.INFO_REQUESTED), None)
        if fund_request.status == Status.MORE_INFO
        else None,
        "deadline": deadline(fund_request, today, timezone.now()),
        "claims": claims,
        "live_claim": live,
        "can_claim": window_open and live is None,
        "claim_not_yet": fund_request.status == Status.APPROVED and today < fund_request.ends_on,
        "can_edit": fund_request.status in EDITABLE,
        "can_cancel": fund_request.status in CANCELLABLE and live is None,
        "can_extend": fund_request.status == Status.APPROVED and pending_extension is None,
        "pending_extension": pending_extension,
        "extensions": extensions,
        "figures": activity_figures(fund_request, approved is not None) if funded else None,
        "message_form": forms.get("message_form") or MessageForm(),
        "answer_form": forms.get("answer_form") or AnswerForm(),
        "extension_form": forms.get("extension_form") or ExtensionForm(),
        "cancel_form": forms.get("cancel_form") or CancelForm(),
    }
    return render(request, "mdf/request_detail.html", context, status=status)


@request_view
def request_detail(request: MemberRequest, fund_request: FundRequest) -> HttpResponse:
    return _render_detail(request, fund_request)


@require_POST
@request_view
def request_message(request: MemberRequest, fund_request: FundRequest) -> HttpResponse:
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            services.post_message(
                fund_request, by=request.membership, text=form.cleaned_data["message"]
            )
        except MdfError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "Message sent.")
            return redirect(request_url(fund_request, "messages"))
    return _render_detail(request, fund_request, status=400, message_form=form)


@require_POST
@request_view
def request_answer(request: MemberRequest, fund_request: FundRequest) -> HttpResponse:
    """Answer the reviewer's question without changing the request (to
    change it too, the partner edits it)."""
    form = AnswerForm(request.POST)
    if form.is_valid():
        try:
            services.provide_info(
                fund_request, by=request.membership, message=form.cleaned_data["message"]
            )
        except MdfError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "Answer sent; the reviewer has the request again.")
            return redirect(request_url(fund_request))
    return _render_detail(request, fund_request, status=400, answer_form=form)


@require_POST
@request_view
def request_extension(request: MemberRequest, fund_request: FundRequest) -> HttpResponse:
    form = ExtensionForm(request.POST)
    if form.is_valid():
        try:
            services.request_extension(
                fund_request,
                by=request.membership,
                days=form.cleaned_data["days"],
                reason=form.cleaned_data["reason"],
            )
        except MdfError as exc:
            add_service_error(form, exc)
        else:
            messages.success(
                request,
                f"{fmt.plural(form.cleaned_data['days'], 'more day')} asked for to claim "
                f"{fund_request.code}.",
            )
            return redirect(request_url(fund_request))
    return _render_detail(request, fund_request, status=400, extension_form=form)


def cancel_consequences(fund_request: FundRequest) -> list[str]:
    currency = fund_request.currency
    if fund_request.status == Status.APPROVED:
        sentences = [
            f"The {fmt.money(fund_request.reserved, currency)} reserved for it go back to "
            "your available funds (or expire, if the period has ended).",
            "You cannot claim this activity any more.",
        ]
    elif fund_request.status == Status.DRAFT:
        sentences = ["The draft is kept as cancelled; nobody at the vendor has seen it."]
    else:
        sentences = ["The reviewer stops reviewing it: it will not be approved."]
    return [*sentences, "It stays in your list as cancelled, with its history."]


@request_view
def request_cancel(request: MemberRequest, fund_request: FundRequest) -> HttpResponse:
    """Asks first (what cancelling does to this request), then cancels on
    the confirmed POST."""
    if fund_request.status not in CANCELLABLE:
        messages.error(
            request,
            f"A request that is {fund_request.get_status_display().lower()} cannot be cancelled.",
        )
        return redirect(request_url(fund_request))
    form = CancelForm(request.POST if request.method == "POST" else None)
    if form.is_bound and not form.is_valid():
        return _render_detail(request, fund_request, status=400, cancel_form=form)
    reason = form.cleaned_data["reason"] if form.is_bound else ""
    page = confirm.ask(
        request,
        confirm.Confirmation(
            title=f"Cancel {fund_request.code}?",
            object_label=f"{fund_request.code} · {fund_request.title} "
            f"({fund_request.get_status_display().lower()})",
            consequences=cancel_consequences(fund_request),
            action_label="Cancel the request",
            cancel_url=request_url(fund_request),
            notes=[f"Your reason: {reason}"] if reason else [],
        ),
        hidden={"reason": reason},
    )
    if page is not None:
        return page
    try:
        services.cancel_request(fund_request, by=request.membership, reason=reason)
    except MdfError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{fund_request.code} cancelled.")
    return redirect(request_url(fund_request))

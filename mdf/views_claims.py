"""Partner portal: claiming an approved activity (the form, with proof
uploads), the claim's page, and what the partner does on it (submit,
answer, write, withdraw)."""

from typing import Any

from django import forms
from django.contrib import messages
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from prm import format as fmt
from prm.tenancy import confirm
from prm.tenancy.errors import add_service_error
from prm.tenancy.models import Membership
from prm.tenancy.requests import MemberRequest

from . import claims as services
from . import requests as request_services
from .errors import MdfError
from .forms import AnswerForm, BaseLineFormSet, ClaimForm, MessageForm, line_formset
from .models import ActivityEvent, Claim, Document, FundRequest
from .views import claim_paid_on, claim_url, claim_view, request_url, request_view

Status = Claim.Status
Kind = ActivityEvent.Kind
EDITABLE = (Status.DRAFT, Status.MORE_INFO)
WITHDRAWABLE = (Status.DRAFT, Status.SUBMITTED, Status.MORE_INFO)
LINES = "lines"


class ClaimAnswerForm(forms.Form):
    answer = forms.CharField(
        label="Your answer to the reviewer",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def proof_url(claim: Claim, proof_id: Any) -> str:
    """The proof's download link (``mdf:proof``, the uploads' view), or ""
    where that route is not installed."""
    try:
        return reverse("mdf:proof", args=[claim.code, proof_id])
    except NoReverseMatch:
        return ""


def _form_page(
    request: MemberRequest,
    fund_request: FundRequest,
    form: ClaimForm,
    lines: BaseLineFormSet,
    claim: Claim | None,
    answer: ClaimAnswerForm | None,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    labels = dict(Document.choices)
    return render(
        request,
        "mdf/claim_form.html",
        {
            "fund_request": fund_request,
            "form": form,
            "lines": lines,
            "claim": claim,
            "answer_form": answer,
            "line_errors": (errors or {}).get("lines", []),
            "proof_errors": (errors or {}).get("proofs", []),
            "required_documents": [labels[k] for k in fund_request.fund_type.required_documents],
            "proofs": [(p, proof_url(claim, p.pk)) for p in claim.proofs.all()] if claim else [],
            "total": lines.total(),
        },
        status=status,
    )


def _save(
    request: MemberRequest,
    fund_request: FundRequest,
    form: ClaimForm,
    lines: BaseLineFormSet,
    claim: Claim | None,
    answer: ClaimAnswerForm | None,
) -> tuple[Claim | None, dict[str, list[str]]]:
    submitting = request.POST.get("action") == "submit"
    answering = submitting and claim is not None and claim.status == Status.MORE_INFO
    text = ""
    if answering:
        assert answer is not None
        text = (answer.cleaned_data.get("answer") or "").strip()
        if not text:
            answer.add_error("answer", "Tell the reviewer what you changed or answer the question.")
            return None, {}
    try:
        saved = services.save_claim(
            fund_request,
            form.to_data(lines.lines()),
            by=request.membership,
            claim=claim,
            client_token=form.cleaned_data.get("client_token"),
            submit=submitting and not answering,
        )
        if answering:
            services.provide_claim_info(saved, by=request.membership, message=text)
    except MdfError as exc:
        if exc.field in ("lines", "proofs"):
            return None, {exc.field: [str(exc)]}
        add_service_error(form, exc)
        return None, {}
    if saved.partner_id != request.membership.partner_id:
        form.add_error(None, "This form has expired; reload the page and enter it again.")
        return None, {}
    if answering:
        messages.success(request, f"Answer sent on claim {saved.code}.")
    elif submitting and saved.status == Status.DRAFT:
        messages.warning(
            request, f"This form was already saved as draft {saved.code}; check it and submit it."
        )
    elif submitting:
        messages.success(
            request, f"Claim {saved.code} submitted. We will tell you as soon as it is decided."
        )
    else:
        messages.success(request, f"Draft claim {saved.code} saved.")
    return saved, {}


def _handle(request: MemberRequest, fund_request: FundRequest, claim: Claim | None) -> HttpResponse:
    posted = request.POST if request.method == "POST" else None
    form = ClaimForm(
        posted,
        request.FILES if posted is not None else None,
        request=fund_request,
        claim=claim,
        with_token=claim is None,
    )
    lines = line_formset(
        posted,
        prefix=LINES,
        lines=[(line.description, line.amount) for line in claim.lines.all()]
        if claim is not None
        else [(c.description, c.amount) for c in fund_request.cost_lines.all()],
    )
    answer = (
        ClaimAnswerForm(posted) if claim is not None and claim.status == Status.MORE_INFO else None
    )
    if posted is None:
        return _form_page(request, fund_request, form, lines, claim, answer)
    errors: dict[str, list[str]] = {}
    valid = form.is_valid() & lines.is_valid() & (answer is None or answer.is_valid())
    if valid:
        saved, errors = _save(request, fund_request, form, lines, claim, answer)
        if saved is not None:
            return redirect(claim_url(saved))
    return _form_page(request, fund_request, form, lines, claim, answer, errors, status=400)


@request_view
def claim_new(request: MemberRequest, fund_request: FundRequest) -> HttpResponse:
    live = fund_request.claims.filter(status__in=Claim.LIVE).order_by("-created_at").first()
    if live is not None:
        if live.status in EDITABLE:
            return redirect("mdf:claim_edit", live.code)
        messages.info(request, f"{fund_request.code} already has claim {live.code}.")
        return redirect(claim_url(live))
    if fund_request.status != FundRequest.Status.APPROVED:
        messages.error(
            request,
            f"A request that is {fund_request.get_status_display().lower()} cannot be claimed.",
        )
        return redirect(request_url(fund_request))
    return _handle(request, fund_request, None)


@claim_view
def claim_edit(request: MemberRequest, claim: Claim) -> HttpResponse:
    if claim.status not in EDITABLE:
        messages.info(request, f"Claim {claim.code} can no longer be changed.")
        return redirect(claim_url(claim))
    claim.request.tenant = request.tenant
    return _handle(request, claim.request, claim)


# --- The claim's page -------------------------------------------------------------------


def _render_detail(
    request: MemberRequest, claim: Claim, status: int = 200, **forms: Form
) -> HttpResponse:
    fund_request = claim.request
    events = list(
        ActivityEvent.objects.filter(claim=claim, visible_to_partner=True)
        .select_related("actor")
        .order_by("created_at", "pk")
    )
    try:
        reimbursement = claim.reimbursement
    except Claim.reimbursement.RelatedObjectDoesNotExist:
        reimbursement = None
    labels = dict(Document.choices)
    context = {
        "claim": claim,
        "fund_request": fund_request,
        "lines": list(claim.lines.all()),
        "proofs": [(p, proof_url(claim, p.pk)) for p in claim.proofs.all()],
        "required_documents": [labels[k] for k in fund_request.fund_type.required_documents],
        "timeline": [e for e in events if e.kind != Kind.MESSAGE],
        "conversation": [e for e in events if e.kind == Kind.MESSAGE],
        "our_people": set(
            Membership.objects.filter(partner_id=claim.partner_id).values_list("user_id", flat=True)
        ),
        "info_request": next(
            (e for e in reversed(events) if e.kind == Kind.CLAIM_INFO_REQUESTED), None
        )
        if claim.status == Status.MORE_INFO
        else None,
        "reimbursement": reimbursement,
        "paid_on": claim_paid_on(claim) if reimbursement is not None else None,
        "can_edit": claim.status in EDITABLE,
        "can_withdraw": claim.status in WITHDRAWABLE,
        "message_form": forms.get("message_form") or MessageForm(),
        "answer_form": forms.get("answer_form") or AnswerForm(),
    }
    return render(request, "mdf/claim_detail.html", context, status=status)


@claim_view
def claim_detail(request: MemberRequest, claim: Claim) -> HttpResponse:
    return _render_detail(request, claim)


@require_POST
@claim_view
def claim_submit(request: MemberRequest, claim: Claim) -> HttpResponse:
    try:
        services.submit_claim(claim, by=request.membership)
    except MdfError as exc:
        messages.error(request, f"Claim {claim.code} was not submitted: {exc}")
        if claim.status == Status.DRAFT:
            return redirect("mdf:claim_edit", claim.code)
    else:
        messages.success(
            request, f"Claim {claim.code} submitted. We will tell you as soon as it is decided."
        )
    return redirect(claim_url(claim))


@require_POST
@claim_view
def claim_answer(request: MemberRequest, claim: Claim) -> HttpResponse:
    form = AnswerForm(request.POST)
    if form.is_valid():
        try:
            services.provide_claim_info(
                claim, by=request.membership, message=form.cleaned_data["message"]
            )
        except MdfError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "Answer sent; the reviewer has the claim again.")
            return redirect(claim_url(claim))
    return _render_detail(request, claim, status=400, answer_form=form)


@require_POST
@claim_view
def claim_message(request: MemberRequest, claim: Claim) -> HttpResponse:
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            request_services.post_message(
                claim.request, by=request.membership, text=form.cleaned_data["message"], claim=claim
            )
        except MdfError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "Message sent.")
            return redirect(claim_url(claim, "messages"))
    return _render_detail(request, claim, status=400, message_form=form)


@claim_view
def claim_withdraw(request: MemberRequest, claim: Claim) -> HttpResponse:
    if claim.status not in WITHDRAWABLE:
        messages.error(
            request,
            f"A claim that is {claim.get_status_display().lower()} cannot be withdrawn.",
        )
        return redirect(claim_url(claim))
    fund_request = claim.request
    deadline = fund_request.claim_deadline
    page = confirm.ask(
        request,
        confirm.Confirmation(
            title=f"Withdraw claim {claim.code}?",
            object_label=f"Claim {claim.code} · {fund_request.title} "
            f"({fmt.money(claim.claimed_amount, fund_request.currency)})",
            consequences=[
                "The reviewer stops reviewing it: nothing is reimbursed for it.",
                (
                    f"You may claim {fund_request.code} again until {fmt.day(deadline)}."
                    if deadline
                    else f"You may claim {fund_request.code} again while its window is open."
                ),
                "It stays on the activity's page as withdrawn, with its history.",
            ],
            action_label="Withdraw the claim",
            cancel_url=claim_url(claim),
        ),
        hidden={},
    )
    if page is not None:
        return page
    try:
        services.withdraw_claim(claim, by=request.membership)
    except MdfError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Claim {claim.code} withdrawn.")
    return redirect(claim_url(claim))

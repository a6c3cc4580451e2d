"""Ending a registration from the portal: withdrawing a submitted one and
deleting a draft. Both ask first, on the confirmation page
(``prm.tenancy.confirm``), saying what will happen to this registration."""

from datetime import date

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect

from prm.tenancy import confirm
from prm.tenancy.requests import MemberRequest

from . import services
from .forms import WithdrawForm
from .models import DealRegistration
from .services import DealRegError
from .views import WITHDRAWABLE, Status, _detail_url, _render_detail, registration_view


def _day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def withdraw_consequences(registration: DealRegistration, today: date) -> list[str]:
    """What withdrawing this registration does, in the partner's words."""
    customer = registration.customer_name
    if registration.status == Status.APPROVED:
        first = f"Protection for {customer} ends today ({_day(today)})"
        if registration.protected_until and registration.protected_until > today:
            first += f" instead of on {_day(registration.protected_until)}"
        sentences = [first + "; another partner may then register this customer."]
    else:
        approver = registration.approver.get_full_name() if registration.approver else ""
        sentences = [
            f"{approver or 'The vendor'} stops reviewing it: it will not be approved, "
            f"and {customer} gets no protection from it."
        ]
    sentences += [
        "The registration cannot be resubmitted: to pursue this deal again, register it anew.",
        "It stays in your list as withdrawn, with its history.",
    ]
    return sentences


@registration_view
def registration_withdraw(request: MemberRequest, registration: DealRegistration) -> HttpResponse:
    """Asks first (the consequence, computed from the registration), then
    withdraws on the confirmed POST."""
    if registration.status not in WITHDRAWABLE:
        if registration.status == Status.DRAFT:
            messages.info(request, f"{registration.code} is a draft: delete it instead.")
        else:
            messages.error(
                request,
                f"A registration that is {registration.get_status_display().lower()} "
                "cannot be withdrawn.",
            )
        return redirect(_detail_url(registration))
    form = WithdrawForm(request.POST if request.method == "POST" else None)
    if form.is_bound and not form.is_valid():
        return _render_detail(request, registration, status=400, withdraw_form=form)
    reason = form.cleaned_data["reason"] if form.is_bound else ""
    page = confirm.ask(
        request,
        confirm.Confirmation(
            title=f"Withdraw {registration.code}?",
            object_label=f"{registration.code} · {registration.customer_name} "
            f"({registration.get_status_display().lower()})",
            consequences=withdraw_consequences(registration, request.tenant.local_today()),
            action_label="Withdraw registration",
            cancel_url=_detail_url(registration),
            notes=[f"Your reason: {reason}"] if reason else [],
        ),
        hidden={"reason": reason},
    )
    if page is not None:
        return page
    try:
        services.withdraw(registration, by=request.membership, reason=reason)
    except DealRegError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{registration.code} withdrawn.")
    return redirect(_detail_url(registration))


@registration_view
def registration_delete(request: MemberRequest, registration: DealRegistration) -> HttpResponse:
    """A draft is deleted for good (after asking); a submitted registration
    is withdrawn instead."""
    if registration.status != Status.DRAFT:
        messages.info(request, f"{registration.code} was submitted; withdraw it instead.")
        return redirect(_detail_url(registration))
    page = confirm.ask(
        request,
        confirm.Confirmation(
            title=f"Delete draft {registration.code}?",
            object_label=f"Draft {registration.code} · {registration.customer_name}",
            consequences=[
                f"The draft for {registration.customer_name} is deleted for good; "
                "what was filled in cannot be recovered.",
                f"Nothing was submitted: nobody at {request.tenant.name} has seen it.",
            ],
            action_label="Delete draft",
            cancel_url=_detail_url(registration),
        ),
        hidden={},
    )
    if page is not None:
        return page
    try:
        code = services.delete_draft(registration, by=request.membership)
    except DealRegError as exc:
        messages.error(request, str(exc))
        return redirect(_detail_url(registration))
    messages.success(request, f"Draft {code} deleted.")
    return redirect("dealreg:list")

"""The public application pages on the tenant's host (no login): apply,
confirm the email, answer the reviewer's question. Each shows the same
thing whoever is signed in, and a link of another tenant is unknown here."""

import logging
import math
from http import HTTPStatus

from allauth.account.adapter import get_adapter
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control

from prm.tenancy.errors import add_service_error
from prm.tenancy.requests import TenantRequest

from . import applications
from .errors import OnboardingError
from .forms_apply import AnswerForm, ApplicationForm
from .models import Application, OnboardingSettings

log = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from, by the sign-in rate limits' rule
    (allauth's: ``ALLAUTH_TRUSTED_PROXY_COUNT`` behind a proxy)."""
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:
        return None


def _no_store(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, no_store=True)
    return response


def _sent(request: TenantRequest, email: str) -> HttpResponse:
    """The one answer to an application sent: whether the address or the
    company is known, whether a robot sent it, whether it was sent twice."""
    return _no_store(render(request, "onboarding/apply_sent.html", {"email": email}))


def apply(request: TenantRequest) -> HttpResponse:
    policy = OnboardingSettings.for_tenant(request.tenant)
    if not policy.applications_open:
        return render(request, "onboarding/apply_closed.html", status=HTTPStatus.NOT_FOUND)
    form = ApplicationForm(request.POST or None, questions=applications.questions())
    if request.method == "POST":
        if form.is_trap():
            log.info("Application honeypot filled, from %s: nothing created", client_ip(request))
            return _sent(request, str(request.POST.get("contact_email", ""))[:254])
        if form.is_valid():
            try:
                applications.submit(
                    request.tenant,
                    form.to_input(),
                    ip_address=client_ip(request),
                    user_agent=request.headers.get("user-agent", ""),
                    client_token=form.cleaned_data.get("client_token"),
                )
            except applications.TooMany as exc:
                response = render(
                    request,
                    "onboarding/apply_limited.html",
                    {"message": str(exc)},
                    status=HTTPStatus.TOO_MANY_REQUESTS,
                )
                response["Retry-After"] = str(math.ceil(exc.retry_after))
                return _no_store(response)
            except OnboardingError as exc:
                add_service_error(form, exc)
            else:
                return _sent(request, form.cleaned_data["contact_email"])
    return render(
        request,
        "onboarding/apply.html",
        {"form": form, "welcome_text": policy.welcome_text},
        status=HTTPStatus.BAD_REQUEST if form.is_bound else HTTPStatus.OK,
    )


def _invalid(request: TenantRequest, *, link: str, expired: bool = False) -> HttpResponse:
    return render(
        request,
        "onboarding/apply_invalid.html",
        {"link": link, "expired": expired},
        status=HTTPStatus.GONE if expired else HTTPStatus.NOT_FOUND,
    )


def confirm(request: TenantRequest, token: str) -> HttpResponse:
    """GET shows the button (a mail scanner opening the link confirms
    nothing); POST confirms, once."""
    application = applications.by_confirm_token(token)
    if application is None:
        return _invalid(request, link="confirm")
    if request.method == "POST":
        try:
            done = applications.confirm(application)
        except OnboardingError:
            return _invalid(request, link="confirm", expired=True)
        if done:
            messages.success(request, "Thank you: your email is confirmed.")
        else:
            messages.info(request, "Your email was already confirmed.")
        return redirect(request.path)
    if applications.is_expired(application):
        return _invalid(request, link="confirm", expired=True)
    return _no_store(
        render(
            request,
            "onboarding/apply_confirm.html",
            {
                "application": application,
                "waiting": application.status == Application.Status.UNCONFIRMED,
            },
        )
    )


def answer(request: TenantRequest, token: str) -> HttpResponse:
    """The reviewer's question and the applicant's answer (the link works
    until it is answered)."""
    application = applications.by_info_token(token)
    if application is None:
        return _invalid(request, link="answer")
    form = AnswerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            applications.provide_info(application, answer=form.cleaned_data["answer"])
        except OnboardingError as exc:
            add_service_error(form, exc)
        else:
            return render(request, "onboarding/apply_answered.html", {"application": application})
    return _no_store(
        render(
            request,
            "onboarding/apply_answer.html",
            {"application": application, "form": form},
            status=HTTPStatus.BAD_REQUEST if form.is_bound else HTTPStatus.OK,
        )
    )

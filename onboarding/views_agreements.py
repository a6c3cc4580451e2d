"""The partner portal's agreements (``onboarding/agreements/``): what the
organisation must accept and has accepted, one version's page where a
partner admin reads, ticks and signs it, the version's PDF and the
receipt of an acceptance.

Every page here stays open while the agreements gate holds the partner
(the ``onboarding`` namespace). A partner user reads the same pages and
sees who can accept; only a partner admin's acceptance is taken (anyone
else's POST: 403). A version of an agreement not asked of the partner,
not yet in force, or another tenant's: 404; a receipt of another
partner's acceptance: 404. Staff may open a version's PDF and any
receipt (``onboarding.view_agreementversion`` / ``view_acceptance``).
"""

import uuid

from allauth.account.adapter import get_adapter
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from prm.tenancy.access import role_required, visible_or_404
from prm.tenancy.errors import add_service_error
from prm.tenancy.files import serve
from prm.tenancy.params import page_of
from prm.tenancy.requests import MemberRequest

from . import acceptance as services
from . import agreements, receipts
from .errors import OnboardingError
from .forms_agreements import AcceptForm
from .markdown import render as render_markdown
from .models import Acceptance, AgreementVersion

PERM = "portal.onboarding"
VIEW_VERSION = "onboarding.view_agreementversion"
VIEW_ACCEPTANCE = "onboarding.view_acceptance"
PAGE_SIZE = 25
# Nothing in a served PDF may load anything; the version's page (same
# site) may frame it. Not ``sandbox`` there: browsers do not run their PDF
# viewer in a sandboxed document, so the page would show nothing. (The
# file is ops', checked to be a PDF when it was uploaded.) A download, and
# the receipt, are sandboxed too.
PDF_POLICY = "default-src 'none'; frame-ancestors 'self'"
RECEIPT_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"


def version_url(version: AgreementVersion) -> str:
    return reverse("onboarding:agreement", args=[version.pk])


def _version(request: MemberRequest, version_id: uuid.UUID, *perms: str) -> AgreementVersion:
    """The version, as the member may see it. Another tenant's or a missing
    one: 404 (before anything else, as for anyone); a member holding none
    of ``perms``: 403. A partner's people see the versions of agreements
    asked of their organisation that have taken effect, and those it
    accepted; any other: 404, as for a missing one."""
    version = visible_or_404(AgreementVersion.objects.select_related("agreement"), pk=version_id)
    membership = request.membership
    if not any(membership.has_perm(perm) for perm in perms):
        raise PermissionDenied
    partner = membership.partner
    if partner is None:
        return version  # staff holding one of ``perms``
    if not membership.has_perm(PERM):
        raise PermissionDenied
    today = request.tenant.local_today()
    asked = version.agreement.applies_to(partner.partner_type) and version.effective_on <= today
    if not asked and not Acceptance.objects.filter(version=version, partner=partner).exists():
        raise Http404("No such agreement.")
    return version


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from, as the sign-in rate limits see it
    (behind the configured proxies)."""
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:
        return None


@require_GET
@role_required(PERM)
def agreement_list(request: MemberRequest) -> HttpResponse:
    """What the organisation must accept (blocking first) and what it has
    accepted, newest first, each with its receipt."""
    membership = request.membership
    partner = membership.partner
    assert partner is not None  # portal.onboarding is a partner permission
    partner.tenant = request.tenant
    today = request.tenant.local_today()
    owed = agreements.owed(partner, day=today)
    accepted = (
        Acceptance.objects.filter(partner=partner)
        .select_related("version__agreement", "user")
        .order_by("-accepted_at", "pk")
    )
    page = page_of(request, Paginator(accepted, PAGE_SIZE))
    may_accept = services.may_accept(membership)
    return render(
        request,
        "onboarding/agreements.html",
        {
            "owed": [(o, version_url(o.version)) for o in owed],
            "blocking": any(o.blocking for o in owed),
            "page_obj": page,
            "accepted": page.object_list,
            "may_accept": may_accept,
            "acceptors": [] if may_accept or not owed else services.acceptors(partner),
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
@role_required()
def agreement_detail(request: MemberRequest, version_id: uuid.UUID) -> HttpResponseBase:
    """One version: its text (or PDF), and for a partner admin of an
    organisation that has not accepted it yet, the form that accepts it."""
    membership = request.membership
    version = _version(request, version_id, PERM)
    partner = membership.partner
    assert partner is not None
    partner.tenant = request.tenant
    today = request.tenant.local_today()
    accepted = (
        Acceptance.objects.filter(version=version, partner=partner).select_related("user").first()
    )
    refusal = None if accepted else services.acceptable(version, partner, day=today)
    may_accept = services.may_accept(membership)
    open_to_accept = accepted is None and refusal is None
    form = None
    if request.method == "POST":
        if not may_accept:
            raise PermissionDenied
        form = AcceptForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                done = services.accept(
                    version,
                    by=membership,
                    typed_name=data["typed_name"],
                    ip=client_ip(request),
                    user_agent=request.headers.get("User-Agent", ""),
                    shown_sha256=data["content_sha256"],
                )
            except services.AlreadyAccepted as already:
                messages.info(request, str(already))
                return redirect("onboarding:agreements")
            except OnboardingError as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request,
                    f"Thank you: {done.version.agreement.title} (version {done.version.number}) "
                    "is accepted. Your receipt is below.",
                )
                return redirect("onboarding:agreements")
    elif open_to_accept and may_accept:
        form = AcceptForm(initial={"content_sha256": version.content_sha256})
    newer = None
    if refusal is not None and accepted is None:
        current = agreements.current_version(version.agreement, today)
        if current is not None and current.pk != version.pk:
            newer = current
    return render(
        request,
        "onboarding/agreement.html",
        {
            "version": version,
            "agreement": version.agreement,
            "text": None if version.pdf else render_markdown(version.body),
            "pdf_url": reverse("onboarding:agreement_pdf", args=[version.pk])
            if version.pdf
            else "",
            "accepted": accepted,
            "refusal": refusal,
            "newer": newer,
            "form": form,
            "may_accept": may_accept,
            "acceptors": [] if may_accept else services.acceptors(partner),
        },
        status=400 if form is not None and form.is_bound else 200,
    )


@require_GET
@role_required()
def agreement_pdf(request: MemberRequest, version_id: uuid.UUID) -> FileResponse:
    """A version's PDF: shown in its page (``?download=1``: as a file)."""
    version = _version(request, version_id, PERM, VIEW_VERSION)
    if not version.pdf:
        raise Http404("This version has no PDF.")
    download = request.GET.get("download") == "1"
    return serve(
        version.pdf,
        filename=f"{version.agreement.title} v{version.number}.pdf",
        content_type="application/pdf",
        inline_policy="" if download else PDF_POLICY,
    )


@require_GET
@role_required()
def receipt(request: MemberRequest, acceptance_id: uuid.UUID) -> HttpResponse:
    """The receipt of an acceptance, as a PDF: for the people of the
    partner that accepted, and staff."""
    membership = request.membership
    found = visible_or_404(
        Acceptance.objects.select_related("partner", "version__agreement", "user"),
        pk=acceptance_id,
    )
    if not (membership.has_perm(PERM) or membership.has_perm(VIEW_ACCEPTANCE)):
        raise PermissionDenied
    if membership.partner_id is not None:
        if not membership.has_perm(PERM):
            raise PermissionDenied
        if found.partner_id != membership.partner_id:
            raise Http404("No such receipt.")
    found.partner.tenant = request.tenant
    response = HttpResponse(receipts.pdf_bytes(found), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{receipts.filename(found)}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = RECEIPT_POLICY
    response["Cache-Control"] = "private, no-store"
    return response

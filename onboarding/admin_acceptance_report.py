"""The acceptance report in the tenant admin (pages of the acceptance
admin): who accepted which version of an agreement and who has not, with
filters, and its CSV export.

Without an agreement chosen, each agreement's counts among the partners in
view (asked, accepted the current version, within the days to accept,
held), each held count linking to those partners. For one agreement, each
partner asked to accept it (by default those active or onboarding), the
version it last accepted, who signed, the typed name, when and from which
address, and its state; a page of them in a constant number of queries.
The export (``onboarding.export_acceptance``) writes the same rows, every
page, for the chosen agreement or all of them, formula-safe
(``prm.csvio``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from partners.models import Partner
from prm import format as fmt
from prm.csvio import csv_response, export_filename
from prm.tenancy.params import page_of
from prm.tenancy.requests import as_member, tenant_of
from prm.tenancy.scoping import tenant_scope

from . import agreements
from .forms_agreements import ReportForm
from .models import Acceptance, Agreement, OnboardingSettings

VIEW_ACCEPTANCE = "onboarding.view_acceptance"
EXPORT = "onboarding.export_acceptance"
PAGE_SIZE = 50
CSV_BATCH = 500


def report_url(agreement: Agreement | None = None, **params: str) -> str:
    query = {"agreement": str(agreement.pk)} if agreement is not None else {}
    query.update(params)
    url = reverse("tenant_admin:onboarding_acceptance_report")
    return f"{url}?{urlencode(query)}" if query else url


def _report_form(request: HttpRequest) -> ReportForm:
    data = request.GET.copy()
    data.setdefault("status", "current")
    form = ReportForm(data)
    form.is_valid()
    return form


def _partner_filter(form: ReportForm) -> Q:
    data = form.cleaned_data
    where = Q()
    status = data.get("status") or ""
    if status == "current":
        where &= Q(status__in=agreements.IN_PROGRAM)
    elif status:
        where &= Q(status=status)
    if data.get("partner_type"):
        where &= Q(partner_type=data["partner_type"])
    if data.get("q"):
        where &= Q(name__icontains=data["q"])
    return where


def _rows(where: agreements.Standing, form: ReportForm) -> QuerySet[Partner]:
    partners = agreements.report_partners(where).filter(_partner_filter(form))
    state = form.cleaned_data.get("state") or ""
    if state:
        partners = partners.filter(agreements.state_q(where, state))
    return partners.order_by("name", "pk")


STATE_WORDS = {
    agreements.CURRENT: ("accepted", "ok"),
    agreements.GRACE: ("to accept", "warn"),
    agreements.HELD: ("held", "bad"),
    agreements.NONE: ("not accepted", "muted"),
}


def _described(
    where: agreements.Standing, partner: Any, latest: Acceptance | None
) -> dict[str, Any]:
    state = agreements.state_of(where, partner)
    word, tone = STATE_WORDS[state]
    if state == agreements.GRACE and where.deadline is not None:
        word = f"accept by {fmt.day(where.deadline)}"
    return {"partner": partner, "latest": latest, "state": state, "word": word, "tone": tone}


def report_view(model_admin: Any, request: HttpRequest) -> HttpResponse:
    """Per agreement: the partners asked to accept it, who accepted which
    version (person, typed name, when, IP address) and who has not accepted
    the current one. Without an agreement chosen: each agreement's counts."""
    membership = as_member(request).membership
    if not membership.has_perm(VIEW_ACCEPTANCE):
        raise PermissionDenied
    tenant = tenant_of(request)
    today = tenant.local_today()
    settings_row = OnboardingSettings.for_tenant(tenant)
    form = _report_form(request)
    agreement = form.cleaned_data.get("agreement")
    if "agreement" in request.GET and request.GET["agreement"] and agreement is None:
        raise Http404("No such agreement.")
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "form": form,
        "can_export": membership.has_perm(EXPORT),
        "export_url": reverse("tenant_admin:onboarding_acceptance_export")
        + ("?" + request.GET.urlencode() if request.GET else ""),
        "media": model_admin.media,
    }
    if agreement is None:
        agreement_list = list(Agreement.objects.order_by("-is_active", "title"))
        context["title"] = "Who accepted the agreements"
        context["tallies"] = [
            (
                tally,
                report_url(tally.standing.agreement),
                report_url(tally.standing.agreement, state="held"),
            )
            for tally in agreements.tallies(
                tenant, agreement_list, today, settings_row, _partner_filter(form)
            )
        ]
        return TemplateResponse(request, "admin/onboarding/agreement_report.html", context)
    agreement.tenant = tenant
    where = agreements.standing(agreement, today, settings_row)
    page = page_of(request, Paginator(_rows(where, form), PAGE_SIZE))
    partners = list(page.object_list)
    latest = agreements.latest_acceptances(agreement, [p.pk for p in partners])
    context.update(
        {
            "title": f"Who accepted {agreement.title}",
            "agreement": agreement,
            "standing": where,
            "page_obj": page,
            "rows": [_described(where, p, latest.get(p.pk)) for p in partners],
        }
    )
    return TemplateResponse(request, "admin/onboarding/agreement_report.html", context)


CSV_COLUMNS = [
    "agreement",
    "partner",
    "type",
    "status",
    "state",
    "current version",
    "accept by",
    "accepted version",
    "accepted by",
    "email",
    "typed name",
    "accepted at",
    "ip address",
    "user agent",
    "content sha256",
]


def export_view(model_admin: Any, request: HttpRequest) -> HttpResponseBase:
    """The report's rows (same filters, every page) as CSV: of the chosen
    agreement, or of every agreement one after the other."""
    membership = as_member(request).membership
    if not membership.has_perm(EXPORT):
        raise PermissionDenied
    tenant = tenant_of(request)
    today = tenant.local_today()
    settings_row = OnboardingSettings.for_tenant(tenant)
    form = _report_form(request)
    chosen = form.cleaned_data.get("agreement")
    if request.GET.get("agreement") and chosen is None:
        raise Http404("No such agreement.")
    agreement_list = (
        [chosen] if chosen is not None else list(Agreement.objects.order_by("-is_active", "title"))
    )
    tz = tenant.tzinfo
    types, statuses = dict(Partner.Type.choices), dict(Partner.Status.choices)

    def batch_rows(where: agreements.Standing, batch: list[Partner]) -> Iterator[list[object]]:
        latest = agreements.latest_acceptances(where.agreement, [p.pk for p in batch])
        for partner in batch:
            row = _described(where, partner, latest.get(partner.pk))
            accepted: Acceptance | None = row["latest"]
            yield [
                where.agreement.title,
                partner.name,
                types.get(partner.partner_type, partner.partner_type),
                statuses.get(partner.status, partner.status),
                row["state"],
                where.version.number if where.version else "",
                where.deadline if row["state"] == agreements.GRACE else "",
                *(
                    [
                        accepted.version.number,
                        accepted.user.get_full_name(),
                        accepted.user.email,
                        accepted.typed_name,
                        timezone.localtime(accepted.accepted_at, tz).strftime("%Y-%m-%d %H:%M"),
                        accepted.ip_address or "",
                        accepted.user_agent,
                        accepted.content_sha256,
                    ]
                    if accepted is not None
                    else [""] * 8
                ),
            ]

    def csv_rows() -> Iterator[list[object]]:
        # Written while the response streams, after the view returned:
        # in the tenant's scope again.
        with tenant_scope(tenant):
            for agreement in agreement_list:
                agreement.tenant = tenant
                where = agreements.standing(agreement, today, settings_row)
                batch: list[Partner] = []
                for partner in _rows(where, form).iterator(chunk_size=CSV_BATCH):
                    batch.append(partner)
                    if len(batch) == CSV_BATCH:
                        yield from batch_rows(where, batch)
                        batch = []
                yield from batch_rows(where, batch)

    what = "acceptance"
    if chosen is not None:
        slug = "".join(c if c.isalnum() else "-" for c in chosen.title.lower()).strip("-")
        what = f"acceptance-{slug[:40]}"
    return csv_response(export_filename(tenant, what), csv_rows(), CSV_COLUMNS, stream=True)

"""Partner portal: the leads an approved activity brought, uploaded as
CSV. The upload is checked first (every row with its problems, nothing
written); a clean file waits in the cache under a one-use token bound to
the tenant, the person and the activity, and "Import" adds every row, or
none (``mdf.leads.import_leads`` checks it again)."""

import secrets

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import redirect, render

from prm.tenancy.csv_import import CANNOT_HOLD, CANNOT_REACH, EXPIRED, CsvUploadForm
from prm.tenancy.outage import CACHE_ERRORS
from prm.tenancy.requests import MemberRequest

from . import leads
from .errors import MdfError
from .models import FundRequest
from .views import request_url, request_view

PREVIEW_SECONDS = 60 * 60
HELP = "Columns: name, email, company, phone (name and email required); UTF-8, at most 5 MB."


def _key(request: MemberRequest, fund_request: FundRequest, token: str) -> str:
    return f"mdf:leads:{request.tenant.pk}:{request.user.pk}:{fund_request.pk}:{token}"


def _page(
    request: MemberRequest,
    fund_request: FundRequest,
    form: CsvUploadForm,
    result: leads.Result | None = None,
    token: str = "",
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "mdf/leads.html",
        {
            "fund_request": fund_request,
            "form": form,
            "result": result,
            "preview": [
                (row, [row.values.get(c, "") for c in leads.CSV_COLUMNS])
                for row in (result.rows if result else [])
            ],
            "token": token,
            "lead_count": fund_request.leads.count(),
            "columns": leads.CSV_COLUMNS,
        },
        status=status,
    )


@request_view
def request_leads(request: MemberRequest, fund_request: FundRequest) -> HttpResponse:
    if fund_request.status not in leads.OPEN_TO_LEADS:
        messages.info(request, "Leads can be added to an approved activity only.")
        return redirect(request_url(fund_request))
    if request.method == "POST" and request.POST.get("token"):
        return _import(request, fund_request, request.POST["token"])
    form = CsvUploadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        help_text=HELP,
    )
    if not form.is_bound:
        return _page(request, fund_request, form)
    if not form.is_valid():
        return _page(request, fund_request, form, status=400)
    text = form.cleaned_data["file"]
    try:
        result = leads.import_leads(fund_request, text, by_user=request.user, dry_run=True)
    except MdfError as exc:
        form.add_error("file", str(exc))
        return _page(request, fund_request, form, status=400)
    token = ""
    if result.ok:
        token = secrets.token_urlsafe(16)
        try:
            cache.set(_key(request, fund_request, token), text, PREVIEW_SECONDS)
        except CACHE_ERRORS:
            form.add_error(None, CANNOT_HOLD)
            return _page(request, fund_request, form, result, status=503)
    return _page(request, fund_request, CsvUploadForm(help_text=HELP), result, token)


def _import(request: MemberRequest, fund_request: FundRequest, token: str) -> HttpResponse:
    key = _key(request, fund_request, token)
    try:
        text = cache.get(key)
        taken = text is not None and cache.delete(key)
    except CACHE_ERRORS:
        messages.error(request, CANNOT_REACH)
        return redirect("mdf:request_leads", fund_request.code)
    if not taken:
        messages.error(request, EXPIRED)
        return redirect("mdf:request_leads", fund_request.code)
    try:
        result = leads.import_leads(fund_request, text, by_user=request.user, dry_run=False)
    except MdfError as exc:
        messages.error(request, str(exc))
        return redirect(request_url(fund_request))
    if not result.ok:
        return _page(request, fund_request, CsvUploadForm(help_text=HELP), result, status=400)
    messages.success(request, f"Imported {result.created} leads.")
    return redirect(request_url(fund_request, "results"))

"""Partner portal: the organisation's statements and disputes, under
/incentives/. Partner admins (``portal.incentives``), and partner users
read-only where the program allows it (``portal_access``); the partner is
always the member's own. A ledger entry or dispute that is unknown, another
tenant's or another partner's answers 404; staff, who see statements in the
admin, get 403.
"""

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from partners.models import Partner
from prm.tenancy.access import member_object, role_required
from prm.tenancy.codes import normalize_code
from prm.tenancy.errors import add_service_error
from prm.tenancy.params import page_of
from prm.tenancy.requests import MemberRequest

from . import disputes, statement_export, statements
from .forms import DisputeForm, ReplyForm
from .ledger import IncentiveError
from .models import Dispute, LedgerEntry
from .portal_access import PERM, may_dispute, statement_reader
from .statements import StatementView

LINES_PER_PAGE = 100
DISPUTES_PER_PAGE = 25


def _partner(request: MemberRequest) -> Partner:
    partner = request.membership.partner
    assert partner is not None  # the statements' permissions are partner roles
    partner.tenant = request.tenant
    return partner


def statement_context(
    request: MemberRequest, partner: Partner, *, period_text: str | None, staff: bool
) -> dict[str, Any]:
    """What the statement partial shows: the figures, one page of lines and
    their disputes. A constant number of queries, whatever the line count."""
    period = statements.statement_period(request.tenant)
    try:
        start = statements.parse_period(request.tenant, period_text, period=period)
    except IncentiveError as exc:
        raise Http404(str(exc)) from exc
    view = statements.statement(partner, start, period=period)
    lines = statements.lines(partner, start, period=view.period)
    # The page's ids come off the ledger_statement index alone; only those
    # hundred rows are then read with what they show (deals, plans, payouts).
    paginator = Paginator(lines.values_list("pk", flat=True), LINES_PER_PAGE)
    # The aggregate counted the lines already.
    paginator.count = view.line_count
    page = page_of(request, paginator)
    ids = list(page.object_list)
    entries = list(lines.filter(pk__in=ids)) if ids else []
    return {
        "statement": view,
        "page_obj": page,
        "lines": statement_export.rows(entries, request.tenant, statements.dispute_states(entries)),
        "staff": staff,
        "may_dispute": not staff and may_dispute(request.membership),
    }


def lines_for_file(partner: Partner, view: StatementView) -> QuerySet[LedgerEntry]:
    # Exactly the lines the totals were computed over (a line written in
    # the meantime is the newest, and left for the next download).
    return statements.lines(partner, view.start, period=view.period)[: view.line_count]


def _statement_for_file(request: MemberRequest) -> tuple[StatementView, QuerySet[LedgerEntry]]:
    partner = _partner(request)
    period = statements.statement_period(request.tenant)
    try:
        start = statements.parse_period(request.tenant, request.GET.get("period"), period=period)
    except IncentiveError as exc:
        raise BadRequest(f"The file was not made: {exc}") from exc
    view = statements.statement(partner, start, period=period)
    return view, lines_for_file(partner, view)


# --- Statements -------------------------------------------------------------------


@statement_reader
def statement_list(request: MemberRequest) -> HttpResponse:
    partner = _partner(request)
    return render(
        request,
        "incentives/statement_list.html",
        {
            "periods": statements.periods_of(partner),
            "partner": partner,
            "may_dispute": may_dispute(request.membership),
        },
    )


@statement_reader
def statement_detail(request: MemberRequest) -> HttpResponse:
    partner = _partner(request)
    try:
        context = statement_context(
            request, partner, period_text=request.GET.get("period"), staff=False
        )
    except Http404 as exc:  # a period that is none: the current one, saying so
        messages.warning(request, f"{exc} Showing the current period.")
        context = statement_context(request, partner, period_text=None, staff=False)
    return render(request, "incentives/statement_detail.html", context)


@statement_reader
def statement_csv(request: MemberRequest) -> HttpResponse | StreamingHttpResponse:
    view, entries = _statement_for_file(request)
    return statement_export.csv_response(view, entries)


@statement_reader
def statement_pdf(request: MemberRequest) -> HttpResponse:
    view, entries = _statement_for_file(request)
    return pdf_response(view, entries)


def pdf_response(view: StatementView, entries: QuerySet[LedgerEntry]) -> HttpResponse:
    response = HttpResponse(
        statement_export.pdf_bytes(view, entries.iterator(chunk_size=2000)),
        content_type="application/pdf",
    )
    filename = statement_export.filename(view, "pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- Disputes ---------------------------------------------------------------------


entry_view = member_object(
    lambda: LedgerEntry.objects.select_related(
        "registration", "plan_version__plan", "settlement__run", "payout_run"
    ),
    perm=PERM,
    url_kwarg="entry_id",
)
dispute_view = member_object(
    lambda: Dispute.objects.select_related(
        "entry__registration", "entry__plan_version__plan", "opened_by", "resolved_by"
    ),
    perm=PERM,
    lookup="code",
    normalize=normalize_code,
)


@entry_view
def dispute_new(request: MemberRequest, entry: LedgerEntry) -> HttpResponse:
    """Dispute one statement line: the line, and a message for finance."""
    current = entry.disputes.filter(status__in=disputes.OPEN).first()
    if current is not None:
        messages.info(request, f"This line is already disputed in {current.code}.")
        return redirect(disputes.portal_url(current))
    form = DisputeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            dispute = disputes.open_dispute(
                entry, by=request.membership, message=form.cleaned_data["message"]
            )
        except IncentiveError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Dispute {dispute.code} sent to finance.")
            return redirect(disputes.portal_url(dispute))
    return render(
        request,
        "incentives/dispute_new.html",
        {
            "entry": entry,
            "line": statement_export.line(entry, request.tenant.tzinfo),
            "form": form,
            "statement_url": _statement_url(entry.statement_start),
        },
        status=400 if form.is_bound else 200,
    )


def _statement_url(start: date) -> str:
    return f"{reverse('incentives:statement')}?period={start:%Y-%m-%d}"


@role_required(PERM)
def dispute_list(request: MemberRequest) -> HttpResponse:
    assert request.membership.partner_id is not None  # PERM is a partner permission
    rows = (
        Dispute.objects.filter(partner_id=request.membership.partner_id)
        .select_related("entry__registration", "opened_by")
        .order_by("-created_at", "-pk")
    )
    page = page_of(request, Paginator(rows, DISPUTES_PER_PAGE))
    return render(
        request, "incentives/dispute_list.html", {"page_obj": page, "disputes": page.object_list}
    )


def _render_dispute(
    request: MemberRequest, dispute: Dispute, form: ReplyForm | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "incentives/dispute_detail.html",
        {
            "dispute": dispute,
            "line": statement_export.line(dispute.entry, request.tenant.tzinfo),
            "thread": dispute.messages.select_related("author").order_by("created_at", "pk"),
            "form": form or ReplyForm(),
            "statement_url": _statement_url(dispute.entry.statement_start),
        },
        status=status,
    )


@dispute_view
def dispute_detail(request: MemberRequest, dispute: Dispute) -> HttpResponse:
    return _render_dispute(request, dispute)


@require_POST
@dispute_view
def dispute_reply(request: MemberRequest, dispute: Dispute) -> HttpResponse:
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            disputes.add_message(dispute, by=request.membership, body=form.cleaned_data["body"])
        except IncentiveError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "Message sent to finance.")
            return redirect(disputes.portal_url(dispute) + "#thread")
    return _render_dispute(request, dispute, form=form, status=400)

"""MDF's webhook events, each emitted in the transaction of the change it
reports with the object as the API shows it (``mdf.serializers``): a fund
request or a claim decided (one event per decision, as
``registration.approved`` / ``.rejected``), and claims paid, told by
incentives when the payout run that settled their reimbursements is
marked paid (``incentives.signals.payout_run_paid``)."""

from datetime import date, datetime
from typing import Any

from incentives.models import PayoutRun
from prm.webhooks.events import emit, emit_many

from .models import Claim, FundRequest
from .serializers import ClaimSerializer, FundRequestSerializer, claim_rows, request_rows


def request_decided(request: FundRequest, event: str, now: datetime) -> None:
    """``mdf_request.approved`` or ``mdf_request.rejected``."""
    data = FundRequestSerializer(request_rows().get(pk=request.pk)).data
    emit(request.tenant, event, data, now=now)


def claim_decided(claim: Claim, event: str, now: datetime) -> None:
    """``claim.approved`` or ``claim.rejected``."""
    emit(claim.tenant, event, ClaimSerializer(claim_rows().get(pk=claim.pk)).data, now=now)


def claims_paid(sender: object, run: PayoutRun, paid_on: date, **kwargs: Any) -> None:
    """``claim.paid`` for each claim whose reimbursement ``run`` paid (a
    receiver of ``payout_run_paid``, in ``mark_paid``'s transaction): once
    per claim, as a run is marked paid once; nothing is read when no
    endpoint wants it."""
    paid = claim_rows().filter(reimbursement__entry__settlement__run=run).order_by("code")
    emit_many(run.tenant, "claim.paid", (ClaimSerializer(claim).data for claim in paid))

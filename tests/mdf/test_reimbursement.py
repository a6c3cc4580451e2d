"""An approved claim is money owed in the incentives ledger: the payout run
pays it, the statement shows it, check_ledger agrees."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from incentives import payouts, statements
from incentives.models import LedgerEntry, Settlement
from mdf import claims
from prm.tenancy.roles import Role

from . import builders as b

pytestmark = pytest.mark.django_db
D = Decimal


def test_the_payout_run_pays_the_reimbursement_and_the_statement_shows_it(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("5000"))
        req = b.approved(acme, alloc, amount=D("2000"), cost=D("4000"))
        claim = b.submitted_claim(acme, req)
        claim = claims.approve_claim(claim, by=acme[Role.FINANCE])
        assert claims.paid_on(claim) is None
        today = acme.tenant.local_today()
        run = payouts.start_run(acme.tenant, by=acme[Role.FINANCE], cutoff=today)
        run = payouts.compute_run(run)
        assert run.total_payable == D("2000")
        run = payouts.approve(run, by=acme.second(Role.FINANCE))
        run = payouts.write_payouts(run)
        payouts.mark_paid(run, by=acme[Role.FINANCE], reference="BATCH-7")
        entry = LedgerEntry.objects.get(kind="reimbursement")
        assert Settlement.objects.get(entry=entry).paid_on == today
        claim.refresh_from_db()
        assert claims.paid_on(claim) == today
        period = statements.statement_period(acme.tenant)
        view = statements.statement(
            acme.partner, statements.current_start(acme.tenant, period), period=period
        )
        assert view.reimbursements == D("2000")
        assert view.closing == view.opening + view.reimbursements + view.payouts == 0
        out = StringIO()
        call_command("check_ledger", stdout=out)
        assert out.getvalue().rstrip().endswith("no differences."), out.getvalue()

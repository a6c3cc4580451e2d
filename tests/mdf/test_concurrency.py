"""The allocation invariant under concurrency, on real PostgreSQL: however
approvals interleave, what is reserved never passes what was allocated
(the database refuses the overdraft)."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from mdf import funds, requests
from mdf.errors import MdfError
from mdf.models import Allocation, AllocationChange, FundRequest
from prm.tenancy.roles import Role
from tests.concurrency import run_together

from . import builders as b

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal


def test_twenty_simultaneous_approvals_never_reserve_past_the_allocation(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("10000"))
        pending = [b.submitted(acme, alloc, amount=D("1000")) for _ in range(20)]
        deciders = [acme[Role.CHANNEL_MANAGER], acme[Role.OPS_ADMIN]]

    def approve(req, by):
        return lambda: requests.approve_request(req, by=by)

    results = run_together(acme, *[approve(req, deciders[i % 2]) for i, req in enumerate(pending)])
    approved = [r for r in results if r[0] == "ok"]
    refused = [r[1] for r in results if r[0] == "error"]
    assert len(approved) == 10
    assert all(isinstance(e, MdfError) and e.field == "amount" for e in refused), refused
    with acme.scope():
        alloc = Allocation.objects.get(pk=alloc.pk)
        assert alloc.reserved == D("10000") and alloc.available == 0
        assert (
            FundRequest.objects.filter(status="approved").aggregate(s=Sum("reserved"))["s"]
            == alloc.reserved
        )
        assert AllocationChange.objects.filter(kind="reserved").count() == 10
        assert FundRequest.objects.filter(status="submitted").count() == 10


def test_simultaneous_allocations_never_pass_the_budget(acme):
    with acme.scope():
        budget = b.budget(acme, b.fund_type(acme), D("5000"))
        ops = acme[Role.OPS_ADMIN]
        partners = [acme.partner, acme.other_partner]

    results = run_together(
        acme,
        *[
            (lambda p=partners[i % 2]: funds.allocate(budget, p, D("1000"), by=ops))
            for i in range(10)
        ],
    )
    assert sum(1 for r in results if r[0] == "ok") == 5
    with acme.scope():
        budget.refresh_from_db()
        assert budget.allocated == D("5000")
        assert Allocation.objects.aggregate(s=Sum("amount"))["s"] == D("5000")


def test_moves_in_both_directions_at_once_do_not_deadlock(acme):
    with acme.scope():
        budget = b.budget(acme, b.fund_type(acme), D("5000"))
        ops = acme[Role.OPS_ADMIN]
        one = funds.allocate(budget, acme.partner, D("2000"), by=ops)
        two = funds.allocate(budget, acme.other_partner, D("2000"), by=ops)

    results = run_together(
        acme,
        *[
            (lambda: funds.move_funds(one, acme.other_partner, D("100"), by=ops, reason="a")),
            (lambda: funds.move_funds(two, acme.partner, D("100"), by=ops, reason="b")),
        ]
        * 5,
    )
    assert all(r[0] == "ok" for r in results), results
    with acme.scope():
        assert Allocation.objects.aggregate(s=Sum("amount"))["s"] == D("4000")

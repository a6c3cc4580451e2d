"""Plan-version and exchange-rate writes as services: audited in their
transaction, and a form sent twice (even at the same moment, on two
connections) done once: the audit entry's unique once-key refuses the
second in the database."""

import uuid
from datetime import date
from decimal import Decimal

import pytest

from incentives import ledger, plans, rates
from incentives.models import ExchangeRate, PlanVersion
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role
from prm.tenancy.services import AlreadyDone
from tests.concurrency import run_together

from .test_plan_admin import paid_version


def test_new_draft_with_a_token_is_made_once_and_audited(acme):
    token = uuid.uuid4()
    with acme.scope():
        version = paid_version(acme)
        by = acme[Role.OPS_ADMIN]
        copy = plans.new_draft(version, by=by, effective_from=date(2026, 1, 1), token=token)
        with pytest.raises(AlreadyDone) as done:
            plans.new_draft(version, by=by, effective_from=date(2026, 1, 1), token=token)
        assert done.value.object_id == str(copy.pk)
        assert PlanVersion.objects.filter(plan=version.plan).count() == 2
        [entry] = AuditEntry.objects.filter(action="incentives.version_copied")
        assert entry.object_id == str(copy.pk)
        # Without a token (or another one) it is an ordinary second copy.
        plans.new_draft(version, by=by, effective_from=date(2026, 2, 1))
        assert PlanVersion.objects.filter(plan=version.plan).count() == 3


@pytest.mark.django_db(transaction=True)
def test_the_same_new_version_form_sent_twice_at_once_makes_one_draft(acme):
    token = uuid.uuid4()
    with acme.scope():
        version = paid_version(acme)
    make = lambda: plans.new_draft(  # noqa: E731
        version, by=acme[Role.OPS_ADMIN], effective_from=date(2026, 1, 1), token=token
    )
    results = run_together(acme, make, make, make)
    made = [value for kind, value in results if kind == "ok"]
    refused = [value for kind, value in results if kind == "error"]
    assert len(made) == 1
    assert len(refused) == 2
    assert all(isinstance(e, AlreadyDone) for e in refused)
    assert {e.object_id for e in refused} == {str(made[0].pk)}
    with acme.scope():
        assert PlanVersion.objects.filter(plan=version.plan).count() == 2


def test_a_published_versions_rule_is_refused_by_save_version(acme):
    with acme.scope():
        version = paid_version(acme)
        version.rate_percent = Decimal("9")
        with pytest.raises(ledger.IncentiveError, match="was published meanwhile"):
            plans.save_version(version, by=acme[Role.OPS_ADMIN], changes={"rate_percent": "9"})


def test_a_duplicate_rate_is_refused_not_an_error(acme):
    with acme.scope():
        first = ExchangeRate(
            tenant=acme.tenant, currency="EUR", valid_from=date(2025, 1, 1), rate=Decimal("1.1")
        )
        rates.save_rate(first, by=acme[Role.FINANCE].user, changed=["rate"])
        again = ExchangeRate(
            tenant=acme.tenant, currency="EUR", valid_from=date(2025, 1, 1), rate=Decimal("1.2")
        )
        with pytest.raises(ledger.IncentiveError, match="already exists") as refused:
            rates.save_rate(again, by=acme[Role.FINANCE].user, changed=["rate"])
        assert refused.value.field == "valid_from"
        assert ExchangeRate.objects.get().rate == Decimal("1.1")
        assert AuditEntry.objects.filter(action="incentives.rate_added").count() == 1

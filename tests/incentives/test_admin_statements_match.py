"""The admin's statement list shows the statements the partner sees in the
portal: the same periods (the one in progress and those not issued yet
included), the same totals, and for a period the same lines."""

from datetime import date

import pytest

from incentives import statements
from incentives.models import Statement
from prm.tenancy.roles import Role

from .test_statements import at, history

pytestmark = pytest.mark.django_db

STATEMENT_LIST = "/admin/incentives/statement/"
ADMIN_PARTNER = "/admin/incentives/statement/partner/"
FIGURES = (
    "opening",
    "accruals",
    "adjustments",
    "clawbacks",
    "reimbursements",
    "payouts",
    "closing",
    "line_count",
)


@pytest.fixture
def ledger_history(acme):
    with acme.scope():
        history(acme)
        for month in (1, 2):  # March onwards: not issued yet
            statements.issue_statements(acme.tenant, date(2026, month, 1), now=at(2026, 5, 10))


def test_the_list_filtered_to_a_partner_shows_every_period_the_partner_sees(acme, ledger_history):
    portal = acme.client(Role.PARTNER_ADMIN).get("/incentives/")
    seen = [(p.key, p.opening, p.closing, p.line_count) for p in portal.context["periods"]]
    admin = acme.client(Role.FINANCE).get(STATEMENT_LIST, {"partner": str(acme.partner.pk)})
    assert admin.status_code == 200
    listed = [
        (r["summary"].key, r["summary"].opening, r["summary"].closing, r["summary"].line_count)
        for r in admin.context["portal_periods"]
    ]
    assert listed == seen
    page = admin.content.decode()
    assert "What Acme Reseller One sees in the portal" in page
    assert 'data-period="2026-04-01"' in page and "in progress" in page
    # The issued rows of the list are among them, with the portal's figures.
    issued = admin.context["cl"].result_list
    assert {s.period_start.isoformat() for s in issued} == {"2026-01-01", "2026-02-01"}
    with acme.scope():
        for row in issued:
            view = statements.statement(acme.partner, row.period_start, period=row.period)
            assert [getattr(row, f) for f in FIGURES] == [getattr(view, f) for f in FIGURES]


def test_a_period_opened_from_the_list_has_the_portals_totals_and_lines(acme, ledger_history):
    with acme.scope():
        issued = Statement.objects.get(partner=acme.partner, period_start=date(2026, 2, 1))
    portal = acme.client(Role.PARTNER_ADMIN).get("/incentives/statement/?period=2026-02-01")
    admin = acme.client(Role.FINANCE).get(
        ADMIN_PARTNER, {"partner": str(acme.partner.pk), "period": "2026-02-01"}
    )
    assert admin.status_code == portal.status_code == 200
    ours, theirs = admin.context["statement"], portal.context["statement"]
    assert [getattr(ours, f) for f in FIGURES] == [getattr(theirs, f) for f in FIGURES]
    assert [getattr(issued, f) for f in FIGURES] == [getattr(theirs, f) for f in FIGURES]
    assert [line.entry.pk for line in admin.context["lines"]] == [
        line.entry.pk for line in portal.context["lines"]
    ]


def test_a_malformed_or_foreign_partner_shows_no_panel(acme, globex, ledger_history):
    client = acme.client(Role.FINANCE)
    assert "portal_periods" not in client.get(STATEMENT_LIST, {"partner": "x"}).context
    response = client.get(STATEMENT_LIST, {"partner": str(globex.partner.pk)})
    assert "portal_periods" not in response.context
    assert globex.partner.name not in response.content.decode()

"""The OpenAPI examples of incentives' API resources (``incentives.api``)."""

from typing import Any

from drf_spectacular.utils import OpenApiExample

PARTNER = {"id": "0190a1b2-0000-7000-8000-0000000000aa", "name": "Northwind Traders"}
RUN = {"id": "0190a1b2-0000-7000-8000-0000000000f1", "reference": "PR-2026-0003"}
FINANCE = {"name": "Fiona Finance", "email": "fiona@acme.example"}

LEDGER_ENTRY = {
    "id": "0190a1b2-0000-7000-8000-0000000000e1",
    "partner": PARTNER,
    "kind": "accrual",
    "source": "deal",
    "cause": "Deal won",
    "description": "Commission on DR-7KQ2M9XA (Standard commission v2)",
    "amount": "850.00",
    "currency": "EUR",
    "fx_rate": "1.0837",
    "amount_base": "921.15",
    "base_currency": "USD",
    "basis_amount": "10000.00",
    "basis_currency": "EUR",
    "registration": {"id": "0190a1b2-0000-7000-8000-0000000000d1", "code": "DR-7KQ2M9XA"},
    "plan_version": {
        "id": "0190a1b2-0000-7000-8000-0000000000a2",
        "number": 2,
        "plan": {"id": "0190a1b2-0000-7000-8000-0000000000a1", "name": "Standard commission"},
    },
    "payout_run": None,
    "dispute": None,
    "reverses": None,
    "effective_date": "2026-10-14",
    "period_start": "2026-10-14",
    "statement_start": "2026-10-01",
    "available_on": "2026-11-13",
    "settled": {"payout_run": RUN, "paid_on": "2026-11-28"},
    "created_at": "2026-10-14T09:12:44Z",
    "created_by": None,
    "created_via": "incentives.tasks.sync_deal",
}

STATEMENT = {
    "id": "0190a1b2-0000-7000-8000-00000000005a",
    "partner": PARTNER,
    "period": "month",
    "period_start": "2026-10-01",
    "period_end": "2026-10-31",
    "label": "October 2026",
    "currency": "USD",
    "opening": "1200.00",
    "accruals": "921.15",
    "adjustments": "0.00",
    "clawbacks": "-120.00",
    "reimbursements": "500.00",
    "payouts": "-1200.00",
    "closing": "1301.15",
    "line_count": 4,
    "issued_at": "2026-11-01T01:00:03Z",
    "lines_url": "https://acme.example/api/v1/ledger-entries/"
    "?statement=0190a1b2-0000-7000-8000-00000000005a",
    "files": {
        "csv": "https://acme.example/incentives/statement.csv?period=2026-10-01",
        "pdf": "https://acme.example/incentives/statement.pdf?period=2026-10-01",
    },
}

PAYOUT_RUN = {
    "id": RUN["id"],
    "reference": RUN["reference"],
    "status": "paid",
    "cutoff": "2026-11-15",
    "currency": "USD",
    "minimum_payout": "50.00",
    "total_payable": "48210.40",
    "partners_total": 37,
    "partners_done": 37,
    "error": "",
    "created_by": {"name": "Frank Finance", "email": "frank@acme.example"},
    "created_at": "2026-11-16T08:00:00Z",
    "approved_by": FINANCE,
    "approved_at": "2026-11-17T10:30:00Z",
    "paid_by": FINANCE,
    "paid_at": "2026-11-28T15:02:11Z",
    "payment_reference": "BACS-2026-11-28-01",
    "lines_url": f"https://acme.example/api/v1/payout-lines/?run={RUN['id']}",
}

PAYOUT_LINE = {
    "id": "0190a1b2-0000-7000-8000-00000000001a",
    "run": RUN,
    "partner": PARTNER,
    "status": "written",
    "payable": "1301.15",
    "currency": "USD",
    "entry_count": 6,
    "hold_reason": "",
    "payout_entry": "0190a1b2-0000-7000-8000-0000000000e9",
}

DISPUTE = {
    "id": "0190a1b2-0000-7000-8000-00000000009a",
    "code": "DP-7KQ2M9XA",
    "partner": PARTNER,
    "entry": {
        "id": LEDGER_ENTRY["id"],
        "description": LEDGER_ENTRY["description"],
        "amount": "850.00",
        "currency": "EUR",
        "statement_start": "2026-10-01",
    },
    "status": "answered",
    "opened_by": {"name": "Pat Partner"},
    "created_at": "2026-11-02T10:00:00Z",
    "resolution": "",
    "resolved_by": None,
    "resolved_at": None,
    "adjustment": None,
    "messages": [
        {
            "author": {"name": "Pat Partner"},
            "from_partner": True,
            "body": "The deal closed at 12,000 EUR, not 10,000.",
            "created_at": "2026-11-02T10:00:00Z",
        },
        {
            "author": {"name": "Fiona Finance"},
            "from_partner": False,
            "body": "The registration says 10,000; we are checking with sales.",
            "created_at": "2026-11-03T09:20:00Z",
        },
    ],
}
DISPUTE_REQUEST = {
    "entry": LEDGER_ENTRY["id"],
    "message": "The deal closed at 12,000 EUR, not 10,000.",
}
REPLY_REQUEST = {"body": "Here is the signed order form: 12,000 EUR."}


def examples(name: str, value: Any, *, request: Any = None) -> list[OpenApiExample]:
    found = [OpenApiExample(name, value=value, response_only=True)]
    if request is not None:
        found.append(OpenApiExample(f"{name} (request)", value=request, request_only=True))
    return found

"""The OpenAPI examples of the MDF resources (``mdf.api``)."""

PARTNER = {"id": "0190a1b2-0000-7000-8000-0000000000aa", "name": "Northwind Traders"}
FUND = {"id": "0190a1b2-0000-7000-8000-0000000000f5", "name": "Marketing development funds"}
PERIOD = {"label": "FY2027", "starts_on": "2026-02-01", "ends_on": "2027-01-31"}
PARTNER_PERSON = {"name": "Pat Partner"}
CM = {"name": "Casey Manager", "email": "cm@acme.example"}
FINANCE = {"name": "Fiona Finance", "email": "fiona@acme.example"}

FUND_REQUEST = {
    "id": "0190a1b2-0000-7000-8000-0000000000b1",
    "code": "FR-7KQ2M9XA",
    "partner": PARTNER,
    "allocation": "0190a1b2-0000-7000-8000-0000000000c1",
    "fund": FUND,
    "period": PERIOD,
    "status": "approved",
    "activity_type": "webinar",
    "title": "Cloud migration webinar",
    "description": "A one-hour webinar for IT leads, with a live demo.",
    "audience": "IT leads of mid-size companies",
    "starts_on": "2026-11-20",
    "ends_on": "2026-11-20",
    "expected_reach": 400,
    "expected_leads": 40,
    "expected_pipeline": "120000.00",
    "currency": "USD",
    "cost_lines": [
        {"description": "Webinar platform", "amount": "1500.00"},
        {"description": "Promotion", "amount": "2500.00"},
    ],
    "total_cost": "4000.00",
    "reimbursement_percent": "50",
    "requested_amount": "2000.00",
    "partner_contribution": "2000.00",
    "approved_amount": "2000.00",
    "reserved": "2000.00",
    "submitted_by": PARTNER_PERSON,
    "submitted_at": "2026-10-20T09:00:00Z",
    "due_at": "2026-10-23T17:00:00Z",
    "approver": CM,
    "needs_second_approval": False,
    "first_approved_by": None,
    "first_approved_at": None,
    "decided_by": CM,
    "decided_at": "2026-10-21T11:30:00Z",
    "decision_reason": "",
    "claim_deadline": "2027-01-19",
    "closed_at": None,
    "created_at": "2026-10-19T16:02:00Z",
    "updated_at": "2026-10-21T11:30:00Z",
}
FUND_REQUEST_INPUT = {
    "allocation": FUND_REQUEST["allocation"],
    "activity_type": "webinar",
    "title": "Cloud migration webinar",
    "starts_on": "2026-11-20",
    "ends_on": "2026-11-20",
    "description": "A one-hour webinar for IT leads, with a live demo.",
    "expected_leads": 40,
    "requested_amount": "2000.00",
    "cost_lines": FUND_REQUEST["cost_lines"],
    "submit": True,
}
CLAIM = {
    "id": "0190a1b2-0000-7000-8000-0000000000c7",
    "code": "FC-3MN8P2QA",
    "request": {
        "id": FUND_REQUEST["id"],
        "code": "FR-7KQ2M9XA",
        "title": "Cloud migration webinar",
    },
    "partner": PARTNER,
    "status": "approved",
    "invoice_number": "INV-2026-118",
    "invoice_date": "2026-11-22",
    "supplier": "Webinar Co.",
    "currency": "USD",
    "lines": [{"description": "Webinar platform", "amount": "1500.00"}],
    "total_cost": "3600.00",
    "claimed_amount": "1800.00",
    "leads": 52,
    "attendees": 310,
    "opportunities": 6,
    "results": "310 attended, 52 leads, 6 opportunities.",
    "proofs": [
        {
            "id": "0190a1b2-0000-7000-8000-0000000000d7",
            "kind": "invoice",
            "name": "invoice-118.pdf",
            "content_type": "application/pdf",
            "size": 48213,
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "uploaded_at": "2026-11-23T10:00:00Z",
            "url": "https://acme.example/funds/claims/FC-3MN8P2QA/proofs/"
            "0190a1b2-0000-7000-8000-0000000000d7/",
        }
    ],
    "submitted_by": PARTNER_PERSON,
    "submitted_at": "2026-11-23T10:01:00Z",
    "due_at": "2026-12-07T17:00:00Z",
    "verified_by": CM,
    "verified_at": "2026-11-24T09:00:00Z",
    "duplicate_of": [],
    "approved_cost": "3600.00",
    "reimbursement_amount": "1800.00",
    "decided_by": FINANCE,
    "decided_at": "2026-11-25T14:00:00Z",
    "decision_reason": "",
    "paid_on": "2026-12-15",
    "created_at": "2026-11-23T09:40:00Z",
    "updated_at": "2026-11-25T14:00:00Z",
}
CLAIM_INPUT = {
    "request": FUND_REQUEST["id"],
    "invoice_number": "INV-2026-118",
    "invoice_date": "2026-11-22",
    "supplier": "Webinar Co.",
    "claimed_amount": "1800.00",
    "lines": [{"description": "Webinar platform", "amount": "3600.00"}],
    "attendees": 310,
    "leads": 52,
    "submit": False,
}
ALLOCATION = {
    "id": FUND_REQUEST["allocation"],
    "partner": PARTNER,
    "budget": "0190a1b2-0000-7000-8000-0000000000e5",
    "fund": {
        **FUND,
        "description": "Co-marketing with the vendor's products.",
        "funding": "allocated",
        "reimbursement_percent": "50",
        "accrual_percent": None,
        "activity_types": ["event", "webinar", "digital_campaign"],
        "required_documents": ["invoice", "attendee_list"],
        "request_lead_days": 14,
        "claim_window_days": 60,
    },
    "period": PERIOD,
    "source": "manual",
    "currency": "USD",
    "amount": "10000.00",
    "reserved": "2000.00",
    "claimed": "1800.00",
    "expired": "0.00",
    "available": "6200.00",
    "paid": "1800.00",
    "updated_at": "2026-11-25T14:00:00Z",
}
MESSAGE_INPUT = {"message": "The venue changed: the costs are updated."}
CANCEL_INPUT = {"reason": "The event was called off."}
APPROVE_REQUEST_INPUT = {"amount": "1500.00", "reason": "Promotion is capped at 1,000."}
APPROVE_CLAIM_INPUT = {"approved_cost": "3600.00", "reason": ""}
REJECT_INPUT = {"reason": "The activity does not feature our products."}

"""The OpenAPI examples of deal registration's resources."""

from typing import Any

from drf_spectacular.utils import OpenApiExample

PARTNER = {"id": "0190a1b2-0000-7000-8000-0000000000aa", "name": "Northwind Traders"}
PRODUCT_LINE = {
    "id": "0190a1b2-0000-7000-8000-0000000000f1",
    "code": "fw",
    "name": "Firewall",
}
PRODUCT_LINE_FULL = {**PRODUCT_LINE, "description": "Next-generation firewalls.", "is_active": True}
REGISTRATION = {
    "id": "0190a1b2-0000-7000-8000-0000000000d1",
    "code": "DR-7KQ2M9XA",
    "status": "submitted",
    "partner": PARTNER,
    "submitted_by": {"name": "Pat Seller", "email": "pat@northwind.example"},
    "customer_name": "Initech Corporation",
    "customer_domain": "initech.example",
    "customer_country": "US",
    "customer_region": {"id": "0190a1b2-0000-7000-8000-0000000000e1", "code": "na", "name": "NA"},
    "customer_contact_name": "Bill Lumbergh",
    "customer_contact_email": "bill@initech.example",
    "customer_contact_phone": "",
    "product_lines": [PRODUCT_LINE],
    "estimated_value": "25000.00",
    "currency": "USD",
    "expected_close_date": "2027-03-31",
    "description": "Firewall refresh for three offices.",
    "custom_data": {"budget_confirmed": True},
    "submitted_at": "2026-12-01T09:30:00Z",
    "decision_due_at": "2026-12-03T09:30:00Z",
    "in_conflict_review": False,
    "information_request": None,
    "decided_at": None,
    "decision_reason": "",
    "protected_until": None,
    "extension_count": 0,
    "won_amount": None,
    "won_currency": "",
    "won_close_date": None,
    "lost_reason": "",
    "reversal_reason": "",
    "outcome_recorded_at": None,
    "created_at": "2026-12-01T09:30:00Z",
    "updated_at": "2026-12-01T09:30:02Z",
    "approver": {"name": "Casey Manager", "email": "cm@acme.example"},
    "decided_by": None,
    "conflict_state": "clear",
    "sla_met": None,
}
APPROVED = {
    **REGISTRATION,
    "status": "approved",
    "decision_due_at": None,
    "decided_at": "2026-12-02T14:05:00Z",
    "decision_reason": "Welcome deal, go ahead.",
    "protected_until": "2027-03-02",
    "decided_by": REGISTRATION["approver"],
    "sla_met": True,
}
MORE_INFO = {
    **REGISTRATION,
    "status": "more_info_requested",
    "decision_due_at": None,
    "information_request": {
        "message": "Which offices are in scope?",
        "requested_at": "2026-12-01T15:00:00Z",
    },
}
WON = {
    **APPROVED,
    "status": "won",
    "won_amount": "23800.00",
    "won_currency": "USD",
    "won_close_date": "2027-02-27",
    "outcome_recorded_at": "2027-02-28T10:00:00Z",
}
CREATE = {
    "customer_name": "Initech Corporation",
    "customer_domain": "initech.example",
    "customer_country": "US",
    "customer_contact_name": "Bill Lumbergh",
    "customer_contact_email": "bill@initech.example",
    "product_lines": [PRODUCT_LINE["id"]],
    "estimated_value": "25000.00",
    "currency": "USD",
    "expected_close_date": "2027-03-31",
    "description": "Firewall refresh for three offices.",
    "custom_data": {"budget_confirmed": True},
}
CONFLICT = {
    "id": "0190a1b2-0000-7000-8000-0000000000c9",
    "registration": {
        "id": REGISTRATION["id"],
        "code": REGISTRATION["code"],
        "status": "submitted",
        "partner": PARTNER,
        "customer_name": "Initech Corporation",
        "customer_domain": "initech.example",
    },
    "kind": "direct_opportunity",
    "other_registration": None,
    "direct_opportunity": {
        "id": "0190a1b2-0000-7000-8000-0000000000b7",
        "crm_id": "006Dn000004XyZ1",
        "customer_name": "Initech Corp",
        "customer_domain": "initech.example",
        "stage": "negotiation",
    },
    "score": "1.000",
    "reasons": ["direct opportunity", "same domain", "shared product: Firewall"],
    "other_filed_first": True,
    "found_at": "2026-12-01T09:30:05Z",
}
DIRECT = {
    "id": "0190a1b2-0000-7000-8000-0000000000b7",
    "crm_id": "006Dn000004XyZ1",
    "customer_name": "Initech Corp",
    "customer_domain": "initech.example",
    "customer_country": "US",
    "product_lines": [PRODUCT_LINE],
    "owner_name": "Dana Direct",
    "owner_email": "dana@acme.example",
    "stage": "negotiation",
    "is_open": True,
    "amount": "40000.00",
    "currency": "USD",
    "close_date": "2027-01-31",
    "imported_at": "2026-12-01T08:00:00Z",
}
DIRECT_UPSERT = {
    "crm_id": "006Dn000004XyZ1",
    "customer_name": "Initech Corp",
    "customer_domain": "initech.example",
    "customer_country": "US",
    "product_lines": ["fw"],
    "owner_name": "Dana Direct",
    "owner_email": "dana@acme.example",
    "stage": "negotiation",
    "amount": "40000.00",
    "currency": "USD",
    "close_date": "2027-01-31",
}


def examples(name: str, value: Any, *, request: Any = None) -> list[OpenApiExample]:
    found = [OpenApiExample(name, value=value, response_only=True)]
    if request is not None:
        found.append(OpenApiExample(f"{name} (request)", value=request, request_only=True))
    return found

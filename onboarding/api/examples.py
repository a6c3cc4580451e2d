"""The OpenAPI examples of onboarding's resources (one per operation)."""

from typing import Any

from drf_spectacular.utils import OpenApiExample

PARTNER_ID = "0190a1b2-0000-7000-8000-0000000000aa"
MEMBERSHIP_ID = "0190a1b2-0000-7000-8000-0000000000b7"
COURSE_REF = {"id": "0190a1b2-0000-7000-8000-00000000c001", "code": "sf-101", "title": "Sales"}
CERTIFICATION_REF = {
    "id": "0190a1b2-0000-7000-8000-00000000ce01",
    "code": "cloud-architect",
    "name": "Cloud Architect",
}


def examples(name: str, value: Any, *, request: Any = None) -> list[OpenApiExample]:
    """The response's example, and the request's when there is one."""
    found = [OpenApiExample(name, value=value, response_only=True)]
    if request is not None:
        found.append(OpenApiExample(f"{name} (request)", value=request, request_only=True))
    return found


APPLICATION = {
    "id": "0190a1b2-0000-7000-8000-0000000000f1",
    "code": "AP-7K2M9Q",
    "status": "submitted",
    "company_name": "Fabrikam Solutions",
    "legal_name": "Fabrikam Solutions GmbH",
    "website": "https://fabrikam.example",
    "domain": "fabrikam.example",
    "country": "DE",
    "partner_type": "reseller",
    "company_size": "10-49",
    "specialities": "Cloud migrations for manufacturers.",
    "markets": "Manufacturing, DACH",
    "applicant": {"name": "Fran Founder", "email": "fran@fabrikam.example", "phone": ""},
    "answers": {"annual_revenue": "2500000"},
    "created_at": "2026-11-02T08:12:40Z",
    "confirmed_at": "2026-11-02T08:20:03Z",
    "reviewer": {"name": "Casey Manager", "email": "cm@acme.example"},
    "due_at": "2026-11-04T16:00:00Z",
    "info_request": "",
    "info_requested_at": None,
    "decided_at": None,
    "decided_by": None,
    "decision_reason": "",
    "partner": None,
    "duplicate_partner": None,
    "duplicate_application": None,
}
APPROVED = {
    **APPLICATION,
    "status": "approved",
    "decided_at": "2026-11-03T10:01:00Z",
    "decided_by": {"name": "Casey Manager", "email": "cm@acme.example"},
    "partner": PARTNER_ID,
}
REJECTED = {
    **APPLICATION,
    "status": "rejected",
    "decided_at": "2026-11-03T10:01:00Z",
    "decided_by": {"name": "Casey Manager", "email": "cm@acme.example"},
    "decision_reason": "We do not take on resellers in this region this year.",
}
APPROVE_REQUEST = {"tier": "0190a1b2-0000-7000-8000-000000000001", "channel_manager": None}
REJECT_REQUEST = {"reason": "We do not take on resellers in this region this year."}

COURSE = {
    "id": COURSE_REF["id"],
    "code": "sf-101",
    "title": "Sales",
    "description": "Selling the platform: positioning and pricing.",
    "url": "https://learn.acme.example/sf-101",
    "hours": "4.0",
    "is_active": True,
}
CERTIFICATION = {
    "id": CERTIFICATION_REF["id"],
    "code": "cloud-architect",
    "name": "Cloud Architect",
    "description": "Designs deployments of the platform.",
    "courses": [COURSE_REF],
    "exam": "CA-200",
    "validity_years": 2,
    "functions": ["presales", "technical"],
    "is_active": True,
}
TRAINING_RECORD = {
    "id": "0190a1b2-0000-7000-8000-0000000000d1",
    "person": {"id": MEMBERSHIP_ID, "name": "Pat Engineer", "email": "pat@northwind.example"},
    "partner": PARTNER_ID,
    "kind": "certification",
    "course": None,
    "certification": CERTIFICATION_REF,
    "completed_on": "2026-10-14",
    "expires_on": "2028-10-14",
    "score": "87.5",
    "certificate_id": "CA-2026-0042",
    "source": "import",
    "status": "confirmed",
    "note": "",
    "has_certificate": False,
    "recorded_at": "2026-10-15T07:00:00Z",
    "decided_at": "2026-10-15T07:00:00Z",
}
IMPORT_REQUEST = {
    "dry_run": False,
    "rows": [
        {
            "email": "pat@northwind.example",
            "course_or_certification_code": "cloud-architect",
            "completed_on": "2026-10-14",
            "score": "87.5",
            "certificate_id": "CA-2026-0042",
        }
    ],
}
IMPORT_RESULT = {"dry_run": False, "rows": 1, "created": 1, "records": [TRAINING_RECORD]}

ACCEPTANCE = {
    "id": "0190a1b2-0000-7000-8000-0000000000a7",
    "partner": PARTNER_ID,
    "agreement": {"id": "0190a1b2-0000-7000-8000-0000000000a1", "title": "Partner agreement"},
    "version": {
        "id": "0190a1b2-0000-7000-8000-0000000000a2",
        "number": 3,
        "effective_on": "2026-01-01",
        "expires_on": None,
    },
    "accepted_by": {"name": "Pat Buyer", "email": "pat@northwind.example"},
    "typed_name": "Pat Buyer",
    "accepted_at": "2026-03-04T09:30:00Z",
    "ip_address": "203.0.113.7",
    "user_agent": "Mozilla/5.0",
    "content_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
}
STEP = {
    "id": "0190a1b2-0000-7000-8000-0000000000e5",
    "position": 2,
    "title": "Certify a pre-sales engineer",
    "kind": "training",
    "owner": "partner",
    "required": True,
    "instructions": "One engineer earns the Cloud Architect certification.",
    "agreement": None,
    "document_name": "",
    "course_code": "cloud-architect",
    "due_on": "2026-05-01",
    "completed_at": None,
    "completed_by": None,
    "source": "",
    "evidence": "",
    "has_document": False,
}
PLAN = {
    "id": "0190a1b2-0000-7000-8000-0000000000e1",
    "partner": PARTNER_ID,
    "name": "Reseller onboarding",
    "status": "active",
    "started_at": "2026-03-02T09:15:00Z",
    "target_on": "2026-05-31",
    "completed_at": None,
    "progress": {
        "percent": 50,
        "required_steps": 4,
        "done_steps": 2,
        "next_step": STEP["id"],
        "overdue_steps": [],
        "days_left": 38,
    },
    "steps": [STEP],
}

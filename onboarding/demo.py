"""Onboarding's demo data: the policy, the vetting checklist, two questions of
the vendor's own on the application form, a plan template per partner type
(90 days: accept the partner agreement, complete the company profile, a
kickoff call with the channel manager, upload a W-9, complete "Sales
Foundations" (SF-101), register a first deal, get it approved), and the
agreements: the "Partner Program Agreement" in two versions (the first in
force for a year, the second since 20 days ago, with what changed) and a
"Managed Services Addendum" for MSPs. Acme counts a partner as activated by
its first approved registration, globex by its first won deal (the default).

Applications: five waiting for a decision (one flagged as a duplicate of an
existing partner, one waiting on the applicant's answer, one past its
decision deadline and escalated), two rejected with their reasons, and the
approved ones that created the partners who joined during the year.

The year (``demo_history``): who accepted which version (most partners the
first; the demo partner admin's partner, and a few others, the second
already, so the demo logins are not held back), a completed plan for each
partner that joined during the year, dated as it happened, and the plans of
the three partners still onboarding, part-way through, one of them overdue.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from partners.models import Partner
from partners.normalize import normalize_domain, normalize_name
from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import at
from prm.tenancy.models import Tenant, User
from prm.tenancy.roles import Role

from . import demo_training
from .demo_history import History
from .models import (
    Agreement,
    AgreementVersion,
    Application,
    ApplicationCheck,
    ApplicationEvent,
    OnboardingSettings,
    Owner,
    PlanTemplate,
    Question,
    StepKind,
    TemplateStep,
    VettingCheck,
)
from .models.applications import new_token

# For the lead: ``PRMApp(demo=DEMO, demo_after=DEMO_AFTER)`` in onboarding/declare.py.
DEMO = "onboarding.demo.seed"
DEMO_AFTER = ("partners", "dealreg")

CHECKS = [
    ("References checked", "Two customers confirmed a project the applicant delivered."),
    ("Credit check", "A credit report with no default in the last three years."),
    ("Sanctions screening done", "The company and its owners screened against sanctions lists."),
]
QUESTIONS = [
    {
        "key": "customers",
        "label": "How many business customers do you serve?",
        "field_type": Question.Type.NUMBER,
        "required": True,
        "position": 1,
    },
    {
        "key": "focus",
        "label": "Which market do you mostly sell to?",
        "field_type": Question.Type.CHOICE,
        "choices": "Small business\nMid-market\nEnterprise\nPublic sector",
        "required": True,
        "position": 2,
    },
]
# The demo vendors count a partner as activated differently: acme from its
# first approved registration, globex (the default) from its first won deal.
ACTIVATED_BY_APPROVAL = {"acme"}
PROGRAM = "Partner Program Agreement"
MSP_ADDENDUM = "Managed Services Addendum"
COURSE = "SF-101"
# (title, kind, owner, due days, extra fields)
STEPS: list[tuple[str, str, str, int, dict[str, str]]] = [
    ("Accept the partner program agreement", StepKind.AGREEMENT, Owner.PARTNER, 7, {}),
    ("Complete your company profile", StepKind.PROFILE, Owner.PARTNER, 14, {}),
    ("Kickoff call with your channel manager", StepKind.KICKOFF, Owner.CHANNEL_MANAGER, 14, {}),
    ("Upload your W-9", StepKind.DOCUMENT, Owner.PARTNER, 21, {"document_name": "W-9"}),
    (
        "Complete Sales Foundations",
        StepKind.TRAINING,
        Owner.PARTNER,
        45,
        {"course_code": COURSE},
    ),
    ("Register your first deal", StepKind.FIRST_REGISTRATION, Owner.PARTNER, 60, {}),
    ("Get your first deal approved", StepKind.FIRST_APPROVAL, Owner.PARTNER, 90, {}),
]
INSTRUCTIONS = {
    StepKind.AGREEMENT: "Read the agreement and accept it under Onboarding → Agreements.",
    StepKind.PROFILE: "Add your legal name, website, phone, address and a contact.",
    StepKind.KICKOFF: "Your channel manager books a call to plan your first quarter.",
    StepKind.DOCUMENT: "Upload your signed IRS form W-9 (PDF) so we can pay incentives.",
    StepKind.TRAINING: "Take the Sales Foundations course (SF-101) in the training portal.",
    StepKind.FIRST_REGISTRATION: "Register an opportunity you are working on.",
    StepKind.FIRST_APPROVAL: "Your channel manager reviews it within two business days.",
}
PROGRAM_V1 = """# Partner Program Agreement

## 1. The program
The vendor appoints the partner as a non-exclusive reseller of its products in
the partner's territory, at the discounts of the partner's tier.

## 2. Deal registration
A registration the vendor approves is protected for 90 days.

## 3. Incentives
Incentives are paid within 45 days of the deal's close.

## 4. Confidentiality
Each party keeps the other's confidential information confidential.
"""
PROGRAM_V2 = PROGRAM_V1.replace("protected for 90 days", "protected for 120 days").replace(
    "within 45 days", "within 30 days"
) + (
    "\n## 5. Data protection\n"
    "Each party processes the other's personal data only as the data processing "
    "addendum allows.\n"
)
PROGRAM_CHANGES = (
    "Deal protection extended from 90 to 120 days; incentives paid within 30 days of the "
    "close instead of 45; a new data protection section (5)."
)
MSP_TEXT = """# Managed Services Addendum

The partner may host the vendor's products for its customers as a managed
service, reporting the seats it hosts by the fifth business day of each month.
"""


def seed(ctx: DemoContext) -> None:
    tenant = ctx.tenant
    ops = ctx.users[Role.OPS_ADMIN]
    settings_row = OnboardingSettings.for_tenant(tenant)
    checks = [
        VettingCheck.objects.get_or_create(
            tenant=tenant, name=name, defaults={"description": text, "position": n}
        )[0]
        for n, (name, text) in enumerate(CHECKS, start=1)
    ]
    for question in QUESTIONS:
        defaults = {k: v for k, v in question.items() if k != "key"}
        Question.objects.get_or_create(tenant=tenant, key=question["key"], defaults=defaults)
    demo_training.seed(ctx)  # courses, certifications, people's records (written once)
    if Agreement.objects.filter(title=PROGRAM).exists():
        return  # the year is written once
    today = tenant.local_today()
    if tenant.slug in ACTIVATED_BY_APPROVAL:
        settings_row.activation = OnboardingSettings.Activation.APPROVED
        settings_row.save(update_fields=["activation"])
    program = _agreement(tenant, ops, PROGRAM, "The program's terms.", [])
    v1 = _version(program, ops, 1, PROGRAM_V1, at(tenant, today - timedelta(days=365), 0))
    v2 = _version(
        program, ops, 2, PROGRAM_V2, at(tenant, today - timedelta(days=20), 0), PROGRAM_CHANGES
    )
    addendum = _agreement(
        tenant, ops, MSP_ADDENDUM, "Hosting the products as a managed service.", ["msp"]
    )
    msp = _version(addendum, ops, 1, MSP_TEXT, at(tenant, today - timedelta(days=365), 0))
    _templates(tenant, program)
    history = History(ctx, settings_row, checks)
    history.accept(v1, v2, msp)
    history.plans()
    _waiting(ctx, history, checks)
    ctx.objects["onboarding.agreement"] = program


def _agreement(tenant: Tenant, ops: User, title: str, summary: str, types: list[str]) -> Agreement:
    return Agreement.objects.create(
        tenant=tenant, title=title, summary=summary, partner_types=types
    )


def _version(
    agreement: Agreement,
    ops: User,
    number: int,
    body: str,
    effective: datetime,
    changes: str = "",
) -> AgreementVersion:
    return AgreementVersion.objects.create(
        tenant=agreement.tenant,
        agreement=agreement,
        number=number,
        body=body,
        content_sha256=AgreementVersion.digest(body.encode()),
        effective_on=effective.date(),
        change_summary=changes,
        created_by=ops,
        created_at=effective - timedelta(days=10),
    )


def _templates(tenant: Tenant, program: Agreement) -> None:
    for partner_type, label in Partner.Type.choices:
        template, made = PlanTemplate.objects.get_or_create(
            tenant=tenant,
            name=f"{label} onboarding",
            defaults={"partner_type": partner_type, "target_days": 90},
        )
        if not made:
            continue
        TemplateStep.objects.bulk_create(
            TemplateStep(
                tenant=tenant,
                template=template,
                position=n,
                title=title,
                kind=kind,
                owner=owner,
                due_days=due,
                instructions=INSTRUCTIONS[StepKind(kind)],
                agreement=program if kind == StepKind.AGREEMENT else None,
                **extra,
            )
            for n, (title, kind, owner, due, extra) in enumerate(STEPS, start=1)
        )


# --- Applications waiting for a decision, and the rejected ones --------------------------

# (company, type, country, size, days since it was confirmed, what happens)
WAITING = [
    ("Brightline Systems", "reseller", "US", "10-49", 1, "checked"),
    ("Tailspin IT Services", "referral", "US", "1-9", 2, "duplicate"),
    ("Redwood Data Co.", "si", "CA", "50-249", 4, "more_info"),
    ("Summit Peak Networks", "msp", "US", "10-49", 9, "overdue"),
    ("Harbor Lane Consulting", "si", "GB", "10-49", 0, ""),
]
REJECTED = [
    (
        "Quickfix Gadget Repair",
        "reseller",
        "US",
        "1-9",
        6,
        "We partner with companies that sell business networking; consumer device repair "
        "is not a fit for the program.",
    ),
    (
        "Nimbus Trading LLC",
        "distributor",
        "AE",
        "10-49",
        24,
        "The sanctions screening did not clear one of the company's owners.",
    ),
]
INFO_REQUEST = (
    "Thank you for applying. Could you name two customers you delivered a networking "
    "project for in the last year, with a contact we may call?"
)


def _application(
    tenant: Tenant,
    company: str,
    partner_type: str,
    country: str,
    size: str,
    confirmed: datetime,
    n: int,
    **fields: Any,
) -> Application:
    slug = normalize_name(company).replace(" ", "-").replace(".", "")
    website = fields.pop("website", f"https://{slug}.example")
    first = ["Maya", "Omar", "Lena", "Raj", "Sofia", "Tom", "Yuki"][n % 7]
    application = Application.objects.create(
        tenant=tenant,
        company_name=company,
        legal_name=f"{company} Ltd." if country == "GB" else f"{company} Inc.",
        normalized_name=normalize_name(company),
        website=website,
        domain=normalize_domain(website),
        country=country,
        partner_type=partner_type,
        company_size=size,
        specialities="Network refresh projects, Wi-Fi for offices and warehouses, SD-WAN.",
        markets="Manufacturing, logistics and healthcare in the region.",
        contact_name=f"{first} Walker",
        contact_email=f"{first.lower()}@{normalize_domain(website)}",
        contact_phone=f"+1 555 03{n:02d}",
        answers={"customers": str(40 + n * 35), "focus": ["Mid-market", "Enterprise"][n % 2]},
        ip_address=f"198.51.100.{10 + n}",
        user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131",
        created_at=confirmed - timedelta(minutes=25),
        confirmed_at=confirmed,
        **fields,
    )
    events = [
        (ApplicationEvent.Kind.RECEIVED, application.created_at, None, ""),
        (ApplicationEvent.Kind.CONFIRMED, confirmed, None, ""),
    ]
    ApplicationEvent.objects.bulk_create(
        ApplicationEvent(tenant=tenant, application=application, kind=k, at=t, by=b, message=m)
        for k, t, b, m in events
    )
    return application


def _waiting(ctx: DemoContext, history: History, checks: list[VettingCheck]) -> None:
    tenant = ctx.tenant
    now = history.now
    ops, cm = ctx.users[Role.OPS_ADMIN], ctx.users[Role.CHANNEL_MANAGER]
    calendar = history.settings.calendar()
    days = history.settings.decision_business_days
    partners = ctx.objects["partners.partners"]
    for n, (company, partner_type, country, size, back, what) in enumerate(WAITING):
        confirmed = min(at(tenant, history.today - timedelta(days=back), 9 + n), now)
        due = calendar.add_days(confirmed, days)
        remind = calendar.add_days(confirmed, days - history.settings.reminder_business_days)
        fields: dict[str, Any] = {
            "status": Application.Status.SUBMITTED,
            "due_at": due,
            "reviewer": cm if n % 2 else None,
        }
        if what == "duplicate":
            twin = partners[3]  # Tailspin IT, a partner already
            fields.update(website=twin.website, duplicate_partner=twin)
        if what == "more_info":
            asked = confirmed + timedelta(days=2, hours=3)
            fields.update(
                status=Application.Status.MORE_INFO,
                info_request=INFO_REQUEST,
                info_token_hash=new_token()[1],
                info_requested_at=asked,
            )
        elif what == "overdue" or due <= now:
            fields.update(reminded_at=remind, escalated_at=due)
        elif remind <= now:
            fields.update(reminded_at=remind, next_check_at=due)
        else:
            fields.update(next_check_at=remind)
        application = _application(
            tenant, company, partner_type, country, size, confirmed, n, **fields
        )
        log = []
        if what in ("checked", "overdue"):
            ApplicationCheck.objects.create(
                tenant=tenant,
                application=application,
                check_item=checks[0],
                done_by=cm,
                done_at=confirmed + timedelta(hours=5),
                note="Two references called back.",
            )
            log.append((ApplicationEvent.Kind.CHECKED, confirmed + timedelta(hours=5), cm))
        if what == "more_info":
            log.append((ApplicationEvent.Kind.INFO_REQUESTED, fields["info_requested_at"], ops))
        if fields.get("reminded_at"):
            log.append((ApplicationEvent.Kind.REMINDED, fields["reminded_at"], None))
        if fields.get("escalated_at"):
            log.append((ApplicationEvent.Kind.ESCALATED, fields["escalated_at"], None))
        ApplicationEvent.objects.bulk_create(
            ApplicationEvent(
                tenant=tenant,
                application=application,
                kind=kind,
                at=moment,
                by=by,
                message=INFO_REQUEST if kind == ApplicationEvent.Kind.INFO_REQUESTED else "",
            )
            for kind, moment, by in log
        )
    for n, (company, partner_type, country, size, back, reason) in enumerate(REJECTED):
        confirmed = at(tenant, history.today - timedelta(days=back + 3), 11)
        decided = at(tenant, history.today - timedelta(days=back), 15)
        application = _application(
            tenant,
            company,
            partner_type,
            country,
            size,
            confirmed,
            n + len(WAITING),
            status=Application.Status.REJECTED,
            due_at=calendar.add_days(confirmed, days),
            decided_at=decided,
            decided_by=ops,
            decision_reason=reason,
        )
        ApplicationEvent.objects.create(
            tenant=tenant,
            application=application,
            kind=ApplicationEvent.Kind.REJECTED,
            at=decided,
            by=ops,
            message=reason,
        )

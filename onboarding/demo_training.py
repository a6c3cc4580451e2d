"""Training's demo data: three courses (SF-101 Sales Foundations, TE-201
Technical Essentials, PS-301 Professional Services), two certifications
valid for two years ("Certified Sales Professional" for everyone, from
SF-101; "Certified Engineer" for technical and pre-sales people, from
TE-201), and people's certifications across the partners, dated when they
were earned, through ``training.record`` with ``now=`` in the past: some
expired during the year, several expiring within 60 days (the reminders'
work), Northwind (the demo partner admin's partner) with two certified
engineers, and one certification the demo partner user reported with its
PDF certificate, waiting for staff to confirm it.

Called from the onboarding demo step (``onboarding.demo.seed``); safe to
run again (it writes once per tenant)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from mdf.demo_year import pdf
from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import at
from prm.tenancy.models import Membership
from prm.tenancy.roles import Role

from . import training
from .announce import batch
from .models import Certification, Course, Function, TrainingRecord

COURSES = [
    ("SF-101", "Sales Foundations", Decimal("6")),
    ("TE-201", "Technical Essentials", Decimal("16")),
    ("PS-301", "Professional Services", Decimal("12")),
]
SALES = "csp"
ENGINEER = "ce"
# (code, name, course, functions)
CERTIFICATIONS = [
    (SALES, "Certified Sales Professional", "SF-101", []),
    (ENGINEER, "Certified Engineer", "TE-201", [Function.TECHNICAL, Function.PRESALES]),
]
# Days before today a two-year certification was earned to expire within
# the next 60 days (the reminders have work), or during the past year.
EXPIRING_SOON = (725, 712, 700, 685)
EXPIRED = (1000, 900, 820, 760)


def seed(ctx: DemoContext) -> None:
    tenant = ctx.tenant
    courses = {
        code: Course.objects.get_or_create(
            tenant=tenant, code=code, defaults={"title": title, "hours": hours}
        )[0]
        for code, title, hours in COURSES
    }
    if Certification.objects.filter(code__in=[SALES, ENGINEER]).exists():
        return  # the records are written once
    certifications = {}
    for code, name, course, functions in CERTIFICATIONS:
        found = Certification.objects.create(
            tenant=tenant, code=code, name=name, validity_years=2, functions=functions
        )
        found.courses.set([courses[course]])
        certifications[code] = found
    partners = ctx.objects.get("partners.partners") or []
    if not partners:
        return
    _records(ctx, partners, certifications)


def _people(partners: list[Any]) -> dict[Any, list[Membership]]:
    found: dict[Any, list[Membership]] = {p.pk: [] for p in partners}
    for person in (
        Membership.objects.filter(partner__in=partners, is_active=True)
        .select_related("user", "tenant")
        .order_by("created_at", "pk")
    ):
        found[person.partner_id].append(person)
    return found


def _records(ctx: DemoContext, partners: list[Any], certs: dict[str, Certification]) -> None:
    tenant = ctx.tenant
    ops = ctx.people[Role.OPS_ADMIN]
    today = tenant.local_today()
    rng = random.Random(f"training-{tenant.slug}")  # noqa: S311 (a story, not a secret)
    people = _people(partners)
    soon, expired = list(EXPIRING_SOON), list(EXPIRED)
    plan: list[tuple[Membership, Certification, int]] = []
    northwind = partners[0]
    engineers = [ctx.people.get(Role.PARTNER_ADMIN), ctx.people.get(Role.PARTNER_USER)]
    for n, person in enumerate(p for p in engineers if p is not None):
        plan.append((person, certs[ENGINEER], 40 + n * 90))
    for person in people[northwind.pk]:
        if person not in engineers:
            plan.append((person, certs[SALES], 200))
    for i, partner in enumerate(partners[1:], start=1):
        if i % 4 == 3:
            continue  # some partners certified nobody
        for k, person in enumerate(people[partner.pk][:2]):
            cert = certs[SALES] if k == 0 or i % 3 else certs[ENGINEER]
            if expired and i % 5 == 1 and k == 0:
                ago = expired.pop()
            elif soon and i % 5 == 2 and k == 0:
                ago = soon.pop()
            else:
                ago = rng.randint(5, 600)
            plan.append((person, cert, ago))
    with batch(tenant, training.EARNED):  # the endpoints read once
        for person, cert, ago in plan:
            earned = today - timedelta(days=ago)
            training.record(
                person=person,
                achievement=cert,
                completed_on=earned,
                by=ops,
                score=Decimal(rng.randint(72, 98)),
                certificate_id=f"{cert.code.upper()}-{earned:%y%m}-{rng.randint(1000, 9999)}",
                now=at(tenant, earned, 16),
            )
    _reported(ctx, certs[SALES], today)


def _reported(ctx: DemoContext, cert: Certification, today: date) -> None:
    """The demo partner user reports their sales certification with its PDF."""
    person = ctx.people.get(Role.PARTNER_USER)
    if person is None:
        return
    if TrainingRecord.objects.filter(membership=person, certification=cert).exists():
        return
    earned = today - timedelta(days=4)
    body = pdf(f"{cert.name} - {person.user} - {earned:%d %b %Y}")
    training.report(
        person=person,
        achievement=cert,
        completed_on=earned,
        by=person,
        certificate=SimpleUploadedFile("certificate.pdf", body, "application/pdf"),
        certificate_id=f"CSP-{earned:%y%m}-4711",
        score=Decimal(88),
        now=at(ctx.tenant, today - timedelta(days=2), 11),
    )

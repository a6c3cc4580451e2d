"""The vetting admin's part of the URL-matrix test (tests/test_url_matrix.py),
merged into ``onboarding/url_matrix.py``: one object of a tenant per admin
model (each factory returns the same object when called again for the same
tenant), and the admin's own restrictions."""

from typing import Any

from django.utils import timezone

from prm.tenancy.roles import Role

from .models import Application, AssignmentRule, OnboardingSettings, Question, VettingCheck


def application(world: Any) -> Application:
    """A confirmed application waiting in the queue."""
    from .vetting import queue

    with world.scope():
        found = Application.objects.filter(company_name="Matrix Applicant").first()
        if found is not None:
            return found
        now = timezone.now()
        made = Application.objects.create(
            tenant=world.tenant,
            status=Application.Status.SUBMITTED,
            company_name="Matrix Applicant",
            normalized_name="matrix applicant",
            website="https://matrix-applicant.test",
            domain="matrix-applicant.test",
            country="US",
            partner_type="reseller",
            company_size=Application.Size.SMALL,
            contact_name="Mia Matrix",
            contact_email="mia@matrix-applicant.test",
            confirmed_at=now,
        )
        return queue(made, now)


def settings_row(world: Any) -> OnboardingSettings:
    with world.scope():
        return OnboardingSettings.for_tenant(world.tenant)


def question(world: Any) -> Question:
    with world.scope():
        found, _ = Question.objects.get_or_create(
            tenant=world.tenant, key="matrix_revenue", defaults={"label": "Annual revenue"}
        )
        return found


def vetting_check(world: Any) -> VettingCheck:
    with world.scope():
        found, _ = VettingCheck.objects.get_or_create(
            tenant=world.tenant, name="Matrix references checked"
        )
        return found


def assignment_rule(world: Any) -> AssignmentRule:
    with world.scope():
        found, _ = AssignmentRule.objects.get_or_create(
            tenant=world.tenant,
            name="Matrix rule",
            defaults={"manager": world[Role.CHANNEL_MANAGER].user},
        )
        return found


ADMIN_OBJECTS = {
    "onboarding.application": application,
    "onboarding.onboardingsettings": settings_row,
    "onboarding.question": question,
    "onboarding.vettingcheck": vetting_check,
    "onboarding.assignmentrule": assignment_rule,
}
# Applications come from the public form and are never deleted; the
# settings are one row per tenant.
ADMIN_NOBODY = {
    ("onboarding.application", "add"),
    ("onboarding.application", "delete"),
    ("onboarding.onboardingsettings", "add"),
    ("onboarding.onboardingsettings", "delete"),
}

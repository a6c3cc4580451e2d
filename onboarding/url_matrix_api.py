"""Onboarding's part of the API's URL matrix (tests/api/test_api_matrix.py),
merged into ``onboarding/url_matrix.py``; loaded by the tests only: one
object of a tenant per route basename, made by the admin matrix's
factories (the same objects when called again for the same tenant).

The application is routed to the world's channel manager, so that every
role the permission table lets decide may decide it (ops decide any)."""

from typing import Any

from django.utils import timezone

from prm.tenancy.roles import Role

from . import url_matrix_agreements as agreements
from . import url_matrix_plans as plans
from . import url_matrix_training_admin as training
from .models import Application


def application(world: Any) -> Application:
    """A confirmed application in the queue, routed to the channel manager."""
    from .vetting import queue

    with world.scope():
        found = Application.objects.filter(company_name="Matrix API Applicant").first()
        if found is not None:
            return found
        now = timezone.now()
        made = Application.objects.create(
            tenant=world.tenant,
            status=Application.Status.SUBMITTED,
            company_name="Matrix API Applicant",
            normalized_name="matrix api applicant",
            website="https://matrix-api-applicant.test",
            domain="matrix-api-applicant.test",
            country="US",
            partner_type="reseller",
            company_size=Application.Size.SMALL,
            contact_name="Max Matrix",
            contact_email="max@matrix-api-applicant.test",
            confirmed_at=now,
        )
        made = queue(made, now)
        made.reviewer = world[Role.CHANNEL_MANAGER].user
        made.save(update_fields=["reviewer"])
        return made


API_OBJECTS: dict[str, Any] = {
    "application": application,
    "course": training.course,
    "certification": training.certification,
    "training-record": training.record,
    "agreement-acceptance": agreements.acceptance,
    "onboarding-plan": plans.plan,
}

"""Applications for tests, built through the services (``onboarding.applications``):
what an applicant types, an application received, confirmed or asked a question,
and the secret of each mailed link (read from the outbox row that holds it
until the mail is sent)."""

import itertools
from typing import Any

from django_scopes import scope

from onboarding import applications
from onboarding.models import Application, Question
from prm.tenancy.models import OutboxMessage

_ips = itertools.count(1)


def fields(**overrides: Any) -> dict[str, Any]:
    """The application page's POST data for a company nobody knows."""
    data = {
        "company_name": "Initech",
        "legal_name": "Initech Holdings GmbH",
        "website": "initech.example",
        "country": "DE",
        "partner_type": "reseller",
        "company_size": "10-49",
        "specialities": "Networking\nSecurity",
        "markets": "Manufacturing in DACH",
        "contact_name": "Peter Gibbons",
        "contact_email": "peter@initech.example",
        "contact_phone": "+49 30 1234567",
    }
    data.update(overrides)
    return data


def applicant(**overrides: Any) -> applications.ApplicationInput:
    answers = overrides.pop("answers", {})
    return applications.ApplicationInput(**fields(**overrides), answers=answers)


def received(world, *, ip: str | None = None, **overrides: Any) -> Application:
    """An application received (unconfirmed), each from an address of its own
    unless ``ip`` is given (the rate limits are not what these tests test)."""
    with world.scope():
        application = applications.submit(
            world.tenant, applicant(**overrides), ip_address=ip or f"198.51.100.{next(_ips) % 250}"
        )
    assert application is not None
    return application


def mailed_token(application: Application, kind: str = "confirm") -> str:
    """The secret of the link the application's ``kind`` mail carries."""
    with scope(tenant=application.tenant):
        row = OutboxMessage.objects.filter(
            kwargs__application_id=str(application.pk), kwargs__kind=kind
        ).latest("created_at")
    return row.kwargs["token"]


def confirmed(world, **overrides: Any) -> Application:
    application = received(world, **overrides)
    with world.scope():
        assert applications.confirm(application)
        application.refresh_from_db()
    return application


def asked(world, application: Application, question: str = "Which products do you sell?") -> str:
    """Ops ask the applicant ``question`` through vetting's service (the
    question, a link's hash, MORE_INFO, the clock paused). Returns the
    link's secret, as the mail in the outbox carries it."""
    from onboarding import vetting
    from prm.tenancy.models import OutboxMessage
    from prm.tenancy.roles import Role

    with world.scope():
        vetting.request_info(application, by=world[Role.OPS_ADMIN], question=question)
        application.refresh_from_db()
        message = (
            OutboxMessage.objects.filter(kwargs__kind="info_requested")
            .filter(kwargs__application_id=str(application.pk))
            .latest("created_at")
        )
    return message.kwargs["token"]


def question(world, key: str, label: str, **extra: Any) -> Question:
    with world.scope():
        return Question.objects.create(tenant=world.tenant, key=key, label=label, **extra)

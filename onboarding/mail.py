"""Mail to applicants, who are not users yet: deferred through the outbox
(so a rollback sends nothing and a refused send is retried), rendered from
``templates/onboarding/mail/<kind>.txt`` when it is sent."""

from prm.tenancy import outbox

from .models import Application

SEND = "onboarding.tasks.send_applicant_mail"

# kind -> subject (after "[Tenant] ").
SUBJECTS = {
    "confirm": "Confirm your email to complete your application",
    "received": "We received your application",
    "info_requested": "A question about your application",
    "approved": "Your application is approved",
    "rejected": "About your application",
}

# kind -> the URL name of the link its token opens.
LINKS = {"confirm": "onboarding:apply_confirm", "info_requested": "onboarding:apply_answer"}


def to_applicant(application: Application, kind: str, *, token: str = "") -> None:
    """Mail the applicant (``kind`` is a key of ``SUBJECTS``) once the
    current transaction commits. ``token`` is the secret of a link in the
    mail (kept in the outbox row only until the mail is sent)."""
    if kind not in SUBJECTS:
        raise ValueError(f"No applicant mail {kind!r}")
    outbox.defer(
        application.tenant, SEND, application_id=str(application.pk), kind=kind, token=token
    )

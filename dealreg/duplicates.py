"""A partner registering a customer it has already registered.

Conflict checks compare a registration with other partners' (``conflicts``);
this compares it with the partner's own open registrations: the same
normalized customer name, or the same web domain (both normalized as the
conflict check does, ``partners.normalize``). It does not refuse anything:
the partner is warned on the form before submitting, and the approver sees
the pair on the registration's page."""

import uuid

from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format

from partners.normalize import normalize_domain, normalize_name

from .models import DealRegistration

# Open: waiting for a decision, or approved and protecting the deal.
OPEN = DealRegistration.ACTIVE


def own_duplicates(
    partner_id: uuid.UUID | None,
    customer_name: str,
    customer_domain: str = "",
    *,
    exclude: DealRegistration | None = None,
    client_token: uuid.UUID | None = None,
) -> list[DealRegistration]:
    """The partner's open registrations of the same customer, earliest first.
    ``exclude`` is the registration being edited; a ``client_token`` already
    saved is the same form sent twice, not a second registration."""
    name = normalize_name(customer_name or "")
    try:
        domain = normalize_domain(customer_domain or "")
    except ValueError:
        domain = ""  # the form says what is wrong with it
    if partner_id is None or not (name or domain):
        return []
    same = Q(customer_name_normalized=name) if name else Q()
    if domain:
        same = (same | Q(customer_domain=domain)) if name else Q(customer_domain=domain)
    found = DealRegistration.objects.filter(same, partner_id=partner_id, status__in=OPEN)
    if exclude is not None and exclude.pk is not None:
        found = found.exclude(pk=exclude.pk)
    if client_token is not None:
        found = found.exclude(client_token=client_token)
    return list(found.order_by("submitted_at", "created_at")[:5])


def of_registration(registration: DealRegistration) -> list[DealRegistration]:
    """The same partner's other open registrations of this customer."""
    return own_duplicates(
        registration.partner_id,
        registration.customer_name,
        registration.customer_domain,
        exclude=registration,
    )


def registered_on(registration: DealRegistration) -> str:
    """The day it was registered (submitted), in the tenant's calendar."""
    moment = registration.submitted_at or registration.created_at
    return date_format(timezone.localtime(moment), "j M Y")


def warning(registration: DealRegistration) -> str:
    """ "You registered this customer on 3 Dec 2026 as DR-7KQ2M9XA (approved)." """
    return (
        f"You registered this customer on {registered_on(registration)} as "
        f"{registration.code} ({registration.get_status_display().lower()})."
    )

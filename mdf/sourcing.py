"""The closed loop's first link: a deal registration names the funded
activity that sourced it.

The partner's registration form gets an optional field "Marketing activity
that sourced this deal" through deal registration's extension point
(``dealreg.extensions``; connected in ``MdfConfig.ready``). Its choices are
the partner's own funded activities (approved, claimed or closed fund
requests of the member's partner, in the tenant's scope): another
partner's or tenant's request posted to it is a field error and nothing is
saved. Saving writes, replaces or removes the registration's
``SourcedDeal`` in the transaction that saved the registration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.db.models import QuerySet

from dealreg.extensions import Extension
from dealreg.models import DealRegistration
from prm.tenancy.models import Membership

from .models import FundRequest, SourcedDeal

FIELD = "mdf_source"
FUNDED = (FundRequest.Status.APPROVED, FundRequest.Status.CLAIMED, FundRequest.Status.CLOSED)


def own_activities(membership: Membership) -> QuerySet[FundRequest]:
    """The funded activities a member's registration may name: their own
    partner's, never another's."""
    assert membership.partner_id is not None  # registrations are made by partner roles
    return FundRequest.objects.filter(
        tenant_id=membership.tenant_id,
        partner_id=membership.partner_id,
        status__in=FUNDED,
    ).order_by("-starts_on", "title")


class ActivityChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.title} ({obj.starts_on:%d %b %Y}, {obj.code})"


def link(registration: DealRegistration, request: FundRequest | None) -> None:
    """Make ``request`` the activity that sourced ``registration`` (None:
    no activity)."""
    if request is None:
        SourcedDeal.objects.filter(registration=registration).delete()
        return
    SourcedDeal.objects.update_or_create(
        registration=registration,
        defaults={"request": request, "tenant_id": registration.tenant_id},
    )


def registration_form_fields(
    sender: Any,
    *,
    membership: Membership,
    registration: DealRegistration | None,
    **kwargs: Any,
) -> Extension | None:
    """The activity field, for a partner member whose partner has funded
    activities (or whose registration already names one)."""
    if membership.partner_id is None:
        return None
    choices = own_activities(membership)
    current = None
    if registration is not None and registration.pk:
        current = (
            SourcedDeal.objects.filter(registration=registration)
            .values_list("request_id", flat=True)
            .first()
        )
    if current is None and not choices.exists():
        return None
    field = ActivityChoiceField(
        label="Marketing activity that sourced this deal",
        queryset=choices,
        required=False,
        empty_label="None",
        initial=current,
        help_text="One of your funded marketing activities, if it brought you this deal.",
        error_messages={
            "invalid_choice": "Choose one of your own funded marketing activities.",
        },
    )

    def save(saved: DealRegistration, values: Mapping[str, Any]) -> None:
        link(saved, values.get(FIELD))

    return Extension(fields={FIELD: field}, save=save, legend="Marketing")

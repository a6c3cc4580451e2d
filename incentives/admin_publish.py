"""Publishing a plan version from the admin: "Save and publish" saves the
draft, then asks first (a published rule is frozen; a change after that is a
new version); the confirmation posts the version page's ``publish`` action,
which publishes."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from prm import format as fmt
from prm.tenancy.admin_base import ACTION_FIELD
from prm.tenancy.confirm import Confirmation, admin_page
from prm.tenancy.requests import as_member

from . import ledger, plans
from .models import PlanVersion

RateType = PlanVersion.RateType


def rule_summary(version: PlanVersion) -> str:
    """The rule in one line, e.g. "8.5% · x1.5 above 100,000 · cap 5,000 per deal"."""
    parts = []
    if version.rate_type == RateType.PERCENT and version.rate_percent is not None:
        parts.append(f"{version.rate_percent.normalize():f}%")
    elif version.rate_type == RateType.FIXED and version.fixed_amount is not None:
        parts.append(f"{fmt.number(version.fixed_amount, 2)} fixed")
    elif version.is_bracketed:
        steps = ", ".join(
            f"{b.lower.normalize():,f}+: {b.rate_percent.normalize():f}%"
            for b in version.brackets.all()
        )
        kind = "whole" if version.rate_type == RateType.BRACKETS_WHOLE else "marginal"
        parts.append(f"brackets ({kind}) {steps}" if steps else f"brackets ({kind}), none yet")
    if version.quota is not None:
        if version.accelerator is not None:
            parts.append(
                f"x{version.accelerator.normalize():f} above {fmt.number(version.quota, 2)}"
            )
        else:
            parts.append(f"from {fmt.number(version.quota, 2)}")
    if version.cap_per_deal is not None:
        parts.append(f"cap {fmt.number(version.cap_per_deal, 2)} per deal")
    if version.cap_per_period is not None:
        parts.append(
            f"cap {fmt.number(version.cap_per_period, 2)} "
            f"per {version.get_period_display().lower()}"
        )
    return " · ".join(parts)


class PublishAsksFirst:
    """For the plan version admin (which provides ``_change_url``)."""

    admin_site: Any
    opts: Any

    _change_url: Any  # the admin's staticmethod: a version's page

    def _publish(self, request: HttpRequest, obj: PlanVersion) -> HttpResponse:
        """Saved as a draft; publishing freezes the rule, so it is asked
        first (the confirmation posts the version page's publish action)."""
        if not as_member(request).membership.has_perm("incentives.publish_planversion"):
            raise PermissionDenied
        name = f"{obj.plan.name} v{obj.number}"
        asked = Confirmation(
            title=f"Publish {name}?",
            object_label=f"{name}: {rule_summary(obj)}",
            consequences=[
                f"It pays on deals closed from {fmt.day(obj.effective_from)} on.",
                "Its rule becomes read-only: a change after this is a new version.",
            ],
            notes=["Your changes are saved as a draft: Cancel keeps it a draft."],
            action_label="Publish",
            cancel_url=self._change_url(obj.pk),
            danger=False,
        )
        return admin_page(
            request,
            asked,
            admin_site=self.admin_site,
            opts=self.opts,
            obj=obj,
            hidden={ACTION_FIELD: "publish"},
            action_url=self._change_url(obj.pk),
        )

    def _publish_now(self, request: HttpRequest, obj: PlanVersion) -> HttpResponse:
        """Confirmed: publish it (or say why not: it stays a draft)."""
        if not as_member(request).membership.has_perm("incentives.publish_planversion"):
            raise PermissionDenied
        try:
            version = plans.publish(obj, by=as_member(request).membership)
        except ledger.IncentiveError as error:
            messages.error(request, f"Saved as a draft, not published: {error}")
        else:
            messages.success(
                request,
                f"{version.plan.name} v{version.number} is published: it applies to deals "
                f"closed from {fmt.day(version.effective_from)} on.",
            )
        return HttpResponseRedirect(self._change_url(obj.pk))

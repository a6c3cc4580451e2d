"""Tier evaluations in the tenant admin: the read-only log of runs (when,
why, with which criteria, how many partners, what moved, how long it took,
who ran it), and "Evaluate now" for ops (``program.evaluate_tiers``): the
page asks first, then runs ``evaluation.evaluate`` on demand and says what
it did; a refusal (no criteria published) changes nothing."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse

from prm import format as fmt
from prm.tenancy.admin_base import TenantModelAdmin, tenant_admin_site
from prm.tenancy.confirm import Confirmation, admin_page, is_confirmed
from prm.tenancy.requests import as_member, tenant_of
from prm.tenancy.text import plural

from .errors import ProgramError
from .evaluation import evaluate, evaluated, published
from .models import Evaluation

EVALUATE_PERM = "program.evaluate_tiers"
EVALUATIONS = "tenant_admin:program_evaluation_changelist"


def summary(run: Evaluation) -> str:
    """What a run did, in one sentence."""
    parts = [
        f"{plural(run.upgrades, 'partner')} moved up",
        f"{run.downgrades} down",
        f"{plural(run.graces_opened, 'grace period')} opened",
        f"{run.graces_closed} closed",
    ]
    if run.pending_upgrades:
        parts.append(f"{plural(run.pending_upgrades, 'upgrade')} waiting for the review")
    return f"{plural(run.partners, 'partner')} evaluated: " + ", ".join(parts) + "."


FIELDS = [
    "when",
    "trigger",
    "day",
    "criteria",
    "partners",
    "upgrades",
    "downgrades",
    "graces_opened",
    "graces_closed",
    "pending_upgrades",
    "duration",
    "by",
]


@admin.register(Evaluation, site=tenant_admin_site)
class EvaluationAdmin(TenantModelAdmin):
    list_display = [
        "when",
        "trigger",
        "criteria",
        "partners",
        "upgrades",
        "downgrades",
        "graces_opened",
        "graces_closed",
        "pending_upgrades",
        "duration",
        "by",
    ]
    list_filter = ["trigger", "day"]
    list_select_related = ["version", "by"]
    ordering = ["-started_at"]
    fields = tuple(FIELDS)
    readonly_fields = FIELDS
    change_list_template = "admin/program/evaluation/change_list.html"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="when", ordering="started_at")
    def when(self, obj: Evaluation) -> str:
        return fmt.moment(obj.started_at)

    @admin.display(description="criteria", ordering="version__number")
    def criteria(self, obj: Evaluation) -> str:
        return f"v{obj.version.number}"

    @admin.display(description="seconds")
    def duration(self, obj: Evaluation) -> str:
        seconds = obj.seconds
        return "-" if seconds is None else fmt.number(seconds, 2)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        can = as_member(request).membership.has_perm(EVALUATE_PERM)
        return super().changelist_view(request, {**(extra_context or {}), "can_evaluate": can})

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("evaluate/", wrap(self.evaluate_view), name="program_evaluation_evaluate"),
            *super().get_urls(),
        ]

    def evaluate_view(self, request: HttpRequest) -> HttpResponse:
        """Asks first (GET, or a POST not confirmed), then evaluates."""
        member = as_member(request)
        if not member.membership.has_perm(EVALUATE_PERM):
            raise PermissionDenied
        tenant = tenant_of(request)
        if not is_confirmed(request):
            version = published(tenant)
            count = evaluated(tenant).count()
            consequences = [
                f"Every active partner ({fmt.number(count)}) is measured against "
                + (f"the published criteria v{version.number}." if version else "the criteria.")
                + "",
                "Partners that qualify for a higher tier move up (or wait for the review, as "
                "the review policy says); those below their tier's criteria start a grace "
                "period, or move down when theirs has ended. Held partners stay.",
                "Partners and channel managers are told of each move.",
            ]
            notes = [] if version else ["No criteria are published: the run will be refused."]
            return admin_page(
                request,
                Confirmation(
                    title="Evaluate every partner now?",
                    object_label=f"{tenant.name}: tier evaluation on demand",
                    consequences=consequences,
                    notes=notes,
                    action_label="Evaluate now",
                    cancel_url=reverse(EVALUATIONS),
                    danger=False,
                ),
                admin_site=self.admin_site,
                opts=self.opts,
                hidden={},
            )
        try:
            run = evaluate(tenant, trigger=Evaluation.Trigger.ON_DEMAND, by=member.user)
        except ProgramError as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, summary(run))
        return redirect(EVALUATIONS)

"""Plans in the tenant admin: plans and their versioned rules (with
brackets) and the what-if preview. Exchange rates and the payout settings
are in ``admin_rates``, the ledger and stuck deals in ``admin_ledger``.

A plan version is edited as a draft. Once published its rule is read-only
(only its end date and notes stay editable), and once it has produced a
ledger entry the whole version is read-only: a change is a new version,
made from the version's page. The database refuses such changes too
(migrations/0002); the admin never asks it to, and if a race gets there the
person sees why instead of an error page.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import BadRequest, PermissionDenied
from django.db import IntegrityError, models
from django.db.models import Count, Prefetch, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.http import urlencode

from partners.models import Partner
from prm import format as fmt
from prm.tenancy.admin_base import (
    ACTION_FIELD,
    TenantModelAdmin,
    TenantTabularInline,
    as_get,
    audit_form_changes,
    form_changes,
    tenant_admin_site,
)
from prm.tenancy.chips import chip
from prm.tenancy.confirm import is_confirmed
from prm.tenancy.params import notice, quoted
from prm.tenancy.requests import MemberRequest, as_member, tenant_of
from prm.tenancy.services import AlreadyDone

from . import admin_forms, ledger, plans
from . import preview as preview_module
from .admin_publish import PublishAsksFirst, rule_summary
from .models import (
    Bracket,
    LedgerEntry,
    Plan,
    PlanVersion,
)

Status = PlanVersion.Status
RateType = PlanVersion.RateType
# Tick boxes for the short lists of tiers, regions and product lines.
CHECKBOXES = {
    **TenantModelAdmin.formfield_overrides,
    models.ManyToManyField: {"widget": forms.CheckboxSelectMultiple},
}
# Counting a version's entries exactly stops here (a ledger grows large).
COUNT_UP_TO = 100_000

FROZEN_MESSAGE = (
    "This version has produced ledger entries since the page was opened, so its rule can "
    "no longer change; nothing was saved. Create a new version to change the rule."
)


class _Refused(Exception):
    """A save the admin refuses after the form validated (a race)."""


class _AlreadyDone(Exception):
    """The same form was submitted again: ``url`` shows what the first did."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def _is_frozen_violation(error: IntegrityError) -> bool:
    """The version-frozen trigger's refusal (restrict_violation)."""
    return getattr(error.__cause__, "sqlstate", None) == "23001"


def _count_entries(version: PlanVersion) -> int:
    """Entries of ``version``, counted exactly up to COUNT_UP_TO."""
    if not hasattr(version, "_entry_count"):
        rows = LedgerEntry.objects.filter(plan_version=version).order_by().values("pk")
        version._entry_count = rows[: COUNT_UP_TO + 1].count()  # type: ignore[attr-defined]
    return int(version._entry_count)  # type: ignore[attr-defined]


def _entries_text(count: int) -> str:
    if count > COUNT_UP_TO:
        return f"more than {fmt.number(COUNT_UP_TO)} entries"
    return fmt.plural(count, "entry,entries")


# --- Plans ---------------------------------------------------------------------------


@admin.register(Plan, site=tenant_admin_site)
class PlanAdmin(TenantModelAdmin):
    list_display = ["name", "kind", "is_active", "version_count", "in_force"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    fields = ["name", "kind", "description", "is_active"]
    change_form_template = "admin/incentives/plan/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        published = PlanVersion.objects.filter(status=Status.PUBLISHED).order_by("-effective_from")
        return (
            super()
            .get_queryset(request)
            .annotate(version_total=Count("versions"))
            .prefetch_related(Prefetch("versions", published, to_attr="published_versions"))
        )

    @admin.display(description="versions", ordering="version_total")
    def version_count(self, obj: Any) -> int:
        return obj.version_total

    @admin.display(description="in force today")
    def in_force(self, obj: Any) -> str | None:
        today = timezone.localdate()  # the tenant's zone (middleware)
        current = next((v for v in obj.published_versions if v.covers(today)), None)
        if current is None:
            return None
        return f"v{current.number} since {fmt.day(current.effective_from)}"

    def get_readonly_fields(
        self, request: HttpRequest, obj: Any = None
    ) -> list[str] | tuple[str, ...]:
        # What a plan pays on is read from its kind: once a version has
        # paid, the kind stays.
        if obj is not None and LedgerEntry.objects.filter(plan_version__plan=obj).exists():
            return ["kind"]
        return []

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_form_changes(
            request, obj, form, "incentives.plan_changed" if change else "incentives.plan_added"
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        plan = self.get_object(request, unquote(object_id))
        if plan is None:
            raise Http404("No such object.")
        versions = list(plan.versions.order_by("-number"))
        for version in versions:
            version.entry_total = _count_entries(version)
            version.entries_text = _entries_text(version.entry_total)
        membership = as_member(request).membership
        context = {
            **(extra_context or {}),
            "versions": versions,
            "can_add_version": membership.has_perm("incentives.add_planversion"),
            "can_preview": membership.has_perm("incentives.preview_planversion"),
        }
        return super().change_view(request, object_id, form_url, context)


# --- Plan versions -------------------------------------------------------------------


class BracketInline(TenantTabularInline):
    model = Bracket
    formset = admin_forms.BracketFormSet
    fields = ["lower", "rate_percent"]
    verbose_name_plural = "brackets (for the bracket rate types; amounts in the base currency)"

    def get_extra(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> int:
        return 1 if obj is None or not obj.brackets.exists() else 0

    # The brackets are part of the rule: a draft's only.
    def _editable(self, obj: PlanVersion | None) -> bool:
        return obj is None or obj.status == Status.DRAFT

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return Status.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in Status.values:
            return queryset.filter(status=self.value())
        return queryset


@admin.register(PlanVersion, site=tenant_admin_site)
class PlanVersionAdmin(PublishAsksFirst, TenantModelAdmin):
    form = admin_forms.PlanVersionForm
    inlines = [BracketInline]
    formfield_overrides = CHECKBOXES
    list_display = [
        "version",
        "status_label",
        "rule",
        "effective_from",
        "effective_to",
        "published_at",
    ]
    list_filter = [StatusFilter, "plan__kind", "plan"]
    search_fields = ["plan__name", "notes"]
    list_select_related = ["plan"]
    ordering = ["plan__name", "-number"]
    change_form_template = "admin/incentives/planversion/change_form.html"
    change_list_template = "admin/incentives/planversion/change_list.html"

    RULE = ["rate_type", "rate_percent", "fixed_amount"]
    ACCELERATOR = ["quota", "accelerator"]
    CAPS = ["cap_per_deal", "cap_per_period", "period"]
    ELIGIBILITY = ["tiers", "partner_types", "regions", "product_lines"]
    DATES = ["effective_from", "effective_to"]
    RECORD = ["number", "status", "created_by", "created_at", "published_by", "published_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("brackets")

    # Columns

    @admin.display(description="version", ordering="plan__name")
    def version(self, obj: PlanVersion) -> str:
        return f"{obj.plan.name} v{obj.number}"

    @admin.display(description="status", ordering="status")
    def status_label(self, obj: PlanVersion) -> str:
        return chip(obj.get_status_display(), obj.status)

    @admin.display(description="rule")
    def rule(self, obj: PlanVersion) -> str:
        return rule_summary(obj)

    @admin.display(description="partner types")
    def partner_type_names(self, obj: PlanVersion) -> str:
        labels = dict(Partner.Type.choices)
        return ", ".join(str(labels.get(t, t)) for t in obj.partner_types) or "every type"

    # The form

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        eligibility = list(self.ELIGIBILITY)
        if obj is not None and (obj.status != Status.DRAFT or self._frozen(obj)):
            eligibility[1] = "partner_type_names"
        head = ["plan", "form_token"] if obj is None else ["plan", *self.RECORD]
        return [
            (None, {"fields": head}),
            (
                "Rule",
                {
                    "fields": self.RULE,
                    "description": "Percentage of the deal amount (or of the period's volume "
                    "for rebates), a fixed amount per deal (per period for rebates), or "
                    "brackets: give them in the table below the form.",
                },
            ),
            (
                "Accelerator",
                {
                    "fields": self.ACCELERATOR,
                    "description": "Above the quota of period attainment, commission is "
                    "multiplied by the accelerator (a fixed rebate pays once the volume reaches "
                    "the quota).",
                },
            ),
            ("Caps and period", {"fields": self.CAPS}),
            (
                "Eligibility (leave empty for every one)",
                {"fields": eligibility},
            ),
            ("Effective dates", {"fields": self.DATES}),
            ("Notes", {"fields": ["notes"]}),
        ]

    def get_readonly_fields(
        self, request: HttpRequest, obj: Any = None
    ) -> list[str] | tuple[str, ...]:
        if obj is None:
            return []
        record = [*self.RECORD]
        if obj.status == Status.DRAFT and not self._frozen(obj):
            return ["plan", *record]
        # Published (or retired): the rule is read-only; a version that has
        # not paid may still be ended and annotated.
        rule = [*self.RULE, *self.ACCELERATOR, *self.CAPS, "effective_from"]
        eligibility = ["tiers", "partner_type_names", "regions", "product_lines"]
        fixed = ["plan", *record, *rule, *eligibility]
        if self._frozen(obj):
            fixed += ["effective_to", "notes"]
        return fixed

    def _frozen(self, obj: PlanVersion) -> bool:
        return obj is not None and obj.pk is not None and _count_entries(obj) > 0

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and not self._frozen(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or (obj.status == Status.DRAFT and not self._frozen(obj)))

    # Saving

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.tenant = tenant_of(request)
        elif obj.tenant_id != tenant_of(request).pk:
            raise PermissionDenied
        token = None if change else form.cleaned_data.get("form_token")
        try:
            plans.save_version(
                obj, by=as_member(request).membership, changes=form_changes(form), token=token
            )
        except AlreadyDone as done:
            raise _AlreadyDone(self._change_url(done.object_id) if done.object_id else "") from None
        except ledger.IncentiveError as error:
            raise _Refused(str(error)) from None

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        plans.delete_version(obj, by=as_member(request).membership)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _AlreadyDone as done:
            messages.info(request, "That form was already saved; here is the version it made.")
            return redirect(done.url or reverse("tenant_admin:incentives_planversion_changelist"))
        except Exception as error:
            # Rolled back.
            if isinstance(error, _Refused):
                messages.error(request, str(error))
            elif isinstance(error, IntegrityError) and _is_frozen_violation(error):
                messages.error(request, FROZEN_MESSAGE)
            else:
                raise
        # Everything was rolled back; show the version as it now stands.
        return redirect(request.path)

    @staticmethod
    def _change_url(pk: uuid.UUID | str) -> str:
        return reverse("tenant_admin:incentives_planversion_change", args=[pk])

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: str | None = None
    ) -> HttpResponse:
        if "_publish" in request.POST:
            return self._publish(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        if "_publish" in request.POST:
            return self._publish(request, obj)
        return super().response_change(request, obj)

    # The version's page: notes, "create new version", publish, preview

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        version = self.get_object(request, unquote(object_id))
        if version is None:
            raise Http404("No such object.")
        new_version_form = None
        if request.method == "POST" and request.POST.get(ACTION_FIELD) == "publish":
            if not (is_confirmed(request) and self.has_change_permission(request, version)):
                raise (
                    PermissionDenied if is_confirmed(request) else BadRequest("Publish asks first.")
                )
            return self._publish_now(request, version)
        if request.method == "POST" and ACTION_FIELD in request.POST:
            if request.POST[ACTION_FIELD] != "new_version":
                wrong = quoted(request.POST[ACTION_FIELD])
                raise BadRequest(f"{wrong} is not an action of this page.")
            if not self.has_add_permission(request):
                raise PermissionDenied
            new_version_form = admin_forms.NewVersionForm(request.POST, version=version)
            if new_version_form.is_valid():
                return self._new_version(request, version, new_version_form)
            request = as_get(request)
        membership = as_member(request).membership
        context = {
            **(extra_context or {}),
            "version": version,
            "rule_summary": rule_summary(version),
            "entry_count": _count_entries(version),
            "entries_text": _entries_text(_count_entries(version)),
            "is_draft": version.status == Status.DRAFT,
            "can_publish": version.status == Status.DRAFT
            and not self._frozen(version)
            and membership.has_perm("incentives.publish_planversion")
            and self.has_change_permission(request, version),
            "can_preview": membership.has_perm("incentives.preview_planversion"),
            "can_view_ledger": membership.has_perm("incentives.view_ledgerentry"),
        }
        if version.status != Status.DRAFT and self.has_add_permission(request):
            context["new_version_form"] = new_version_form or admin_forms.NewVersionForm(
                version=version,
                initial={
                    "effective_from": max(
                        tenant_of(request).local_today() + timedelta(days=1),
                        version.effective_from + timedelta(days=1),
                    ),
                    "token": uuid.uuid4(),
                },
            )
        return super().change_view(request, object_id, form_url, context)

    def _new_version(self, request: HttpRequest, version: PlanVersion, form: Any) -> HttpResponse:
        try:
            copy = plans.new_draft(
                version,
                by=as_member(request).membership,
                effective_from=form.cleaned_data["effective_from"],
                token=form.cleaned_data["token"],
            )
        except AlreadyDone as done:
            messages.info(request, "That form was already sent; here is the draft it made.")
            return redirect(self._change_url(done.object_id))
        messages.success(
            request,
            f"Draft v{copy.number} made from v{version.number}, taking effect on "
            f"{fmt.day(copy.effective_from)}: change its rule, check it with the what-if "
            "preview, then publish it.",
        )
        return redirect(self._change_url(copy.pk))

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_publish": as_member(request).membership.has_perm("incentives.publish_planversion"),
        }
        return super().add_view(request, form_url, context)

    # The what-if preview

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("preview/", wrap(self.preview_view), name="incentives_planversion_preview"),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "can_preview": as_member(request).membership.has_perm("incentives.preview_planversion"),
        }
        return super().changelist_view(request, extra_context)

    def preview_view(self, request: MemberRequest) -> HttpResponseBase:
        """What a version would have paid over a past range, per partner,
        beside what the plan's versions actually accrued; CSV on request."""
        if not as_member(request).membership.has_perm("incentives.preview_planversion"):
            raise PermissionDenied
        tenant = tenant_of(request)
        today = tenant.local_today()
        versions = (
            PlanVersion.objects.filter(tenant=tenant)
            .select_related("plan")
            .order_by("plan__name", "-number")
        )
        chosen = None
        if request.GET.get("version") and "start" not in request.GET and "end" not in request.GET:
            try:
                chosen = versions.filter(pk=uuid.UUID(request.GET["version"])).first()
            except ValueError:
                wrong = quoted(request.GET["version"])
                notice(request, f"{wrong} is not a plan version; choose one.")
            else:
                if chosen is None:
                    raise Http404("No such plan version.")
        data: Mapping[str, Any] | None = None
        if "start" in request.GET or "end" in request.GET:
            data = request.GET
        elif chosen is not None:
            start, end = preview_module.default_range(chosen, today)
            data = {"version": str(chosen.pk), "start": start, "end": end}
        form = admin_forms.PreviewForm(data, versions=versions, today=today)
        if data is None:
            first = versions.first()
            if first is not None:
                start, end = preview_module.default_range(first, today)
                form.initial = {"version": first.pk, "start": start, "end": end}
        result = None
        if form.is_bound and form.is_valid():
            cleaned = form.cleaned_data
            result = preview_module.preview(cleaned["version"], cleaned["start"], cleaned["end"])
            if request.GET.get("format") == "csv":
                return preview_module.csv_download(tenant_of(request).slug, result)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "What-if preview",
            "form": form,
            "result": result,
            "has_versions": versions.exists(),
            "base_currency": tenant.base_currency,
            "csv_query": urlencode({**request.GET.dict(), "format": "csv"}) if result else "",
        }
        return TemplateResponse(request, "admin/incentives/planversion/preview.html", context)

"""Incentive configuration in the tenant admin: plans and their versioned
rules (with brackets), the what-if preview, exchange rates (with a CSV
import), the tenant's payout settings, the ledger (read-only, with manual
adjustments by finance) and deals whose accrual is stuck.

A plan version is edited as a draft. Once published its rule is read-only
(only its end date and notes stay editable), and once it has produced a
ledger entry the whole version is read-only: a change is a new version,
made from the version's page. The database refuses such changes too
(migrations/0002); the admin never asks it to, and if a race gets there the
person sees why instead of an error page.
"""

import contextlib
import secrets
import uuid
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, models
from django.db.models import Count, Prefetch, Q
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from partners.models import Partner
from prm.csvio import csv_response, export_filename
from prm.tenancy.admin_base import (
    ACTION_FIELD,
    LargeTablePaginator,
    SettingsRowAdmin,
    TenantModelAdmin,
    TenantTabularInline,
    as_get,
    audit_form_changes,
    tenant_admin_site,
)
from prm.tenancy.scoping import tenant_scope
from prm.tenancy.services import audit

from . import adjustments, admin_forms, ledger, periods, plans, rate_import
from . import preview as preview_module
from .models import (
    Bracket,
    DealAccrualState,
    Dispute,
    ExchangeRate,
    IncentiveSettings,
    LedgerEntry,
    Plan,
    PlanVersion,
    Settlement,
)
from .money import format_money

Status = PlanVersion.Status
RateType = PlanVersion.RateType
# Tick boxes for the short lists of tiers, regions and product lines.
CHECKBOXES = {
    **TenantModelAdmin.formfield_overrides,
    models.ManyToManyField: {"widget": forms.CheckboxSelectMultiple},
}
# How long a form token remembers what its form created (double submits).
ONCE_SECONDS = 60 * 60
IMPORT_PREVIEW_SECONDS = 60 * 60
# Counting a version's entries exactly stops here (a ledger grows large).
COUNT_UP_TO = 100_000
MAX_RETRY = 200

FROZEN_MESSAGE = (
    "This version has produced ledger entries since the page was opened, so its rule can "
    "no longer change; nothing was saved. Create a new version to change the rule."
)


class _Refused(Exception):
    """A save the admin refuses after the form validated (a race)."""


class _AlreadyDone(Exception):
    """The same form was submitted again: ``url`` shows what the first did."""

    def __init__(self, url: str):
        super().__init__(url)
        self.url = url


def _claim(request, purpose: str, token, result) -> str | None:
    """Remember that the form with ``token`` did ``result`` (an object id);
    if that form was submitted before, return what it did then."""
    if not token:
        return None
    key = f"incentives:{purpose}:{request.tenant.pk}:{request.user.pk}:{token}"
    if cache.add(key, str(result), ONCE_SECONDS):
        return None
    return cache.get(key) or ""


def _release(request, purpose: str, token) -> None:
    if token:
        cache.delete(f"incentives:{purpose}:{request.tenant.pk}:{request.user.pk}:{token}")


def _is_frozen_violation(error: IntegrityError) -> bool:
    """The version-frozen trigger's refusal (restrict_violation)."""
    return getattr(error.__cause__, "sqlstate", None) == "23001"


def _count_entries(version: PlanVersion) -> int:
    """Entries of ``version``, counted exactly up to COUNT_UP_TO."""
    if not hasattr(version, "_entry_count"):
        rows = LedgerEntry.objects.filter(plan_version=version).order_by().values("pk")
        version._entry_count = rows[: COUNT_UP_TO + 1].count()
    return version._entry_count


def _entries_text(count: int) -> str:
    if count > COUNT_UP_TO:
        return f"more than {COUNT_UP_TO:,} entries"
    return f"{count:,} {'entry' if count == 1 else 'entries'}"


def rule_summary(version: PlanVersion) -> str:
    """The rule in one line, e.g. "8.5% · x1.5 above 100,000 · cap 5,000 per deal"."""
    parts = []
    if version.rate_type == RateType.PERCENT and version.rate_percent is not None:
        parts.append(f"{version.rate_percent.normalize():f}%")
    elif version.rate_type == RateType.FIXED and version.fixed_amount is not None:
        parts.append(f"{version.fixed_amount:,.2f} fixed")
    elif version.is_bracketed:
        steps = ", ".join(
            f"{b.lower.normalize():,f}+: {b.rate_percent.normalize():f}%"
            for b in version.brackets.all()
        )
        kind = "whole" if version.rate_type == RateType.BRACKETS_WHOLE else "marginal"
        parts.append(f"brackets ({kind}) {steps}" if steps else f"brackets ({kind}), none yet")
    if version.quota is not None:
        if version.accelerator is not None:
            parts.append(f"x{version.accelerator.normalize():f} above {version.quota:,.2f}")
        else:
            parts.append(f"from {version.quota:,.2f}")
    if version.cap_per_deal is not None:
        parts.append(f"cap {version.cap_per_deal:,.2f} per deal")
    if version.cap_per_period is not None:
        parts.append(
            f"cap {version.cap_per_period:,.2f} per {version.get_period_display().lower()}"
        )
    return " · ".join(parts)


def _link(request, obj, perm: str | None = None, text: str | None = None):
    """A link to ``obj``'s admin page when the person may open it, else its
    name."""
    text = str(obj) if text is None else text
    if perm and not request.membership.has_perm(perm):
        return text
    opts = obj._meta
    try:
        url = reverse(f"tenant_admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return text
    return format_html('<a href="{}">{}</a>', url, text)


# --- Plans ---------------------------------------------------------------------------


@admin.register(Plan, site=tenant_admin_site)
class PlanAdmin(TenantModelAdmin):
    list_display = ["name", "kind", "is_active", "version_count", "in_force"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    fields = ["name", "kind", "description", "is_active"]
    change_form_template = "admin/incentives/plan/change_form.html"

    def get_queryset(self, request):
        published = PlanVersion.objects.filter(status=Status.PUBLISHED).order_by("-effective_from")
        return (
            super()
            .get_queryset(request)
            .annotate(version_total=Count("versions"))
            .prefetch_related(Prefetch("versions", published, to_attr="published_versions"))
        )

    @admin.display(description="versions", ordering="version_total")
    def version_count(self, obj):
        return obj.version_total

    @admin.display(description="in force today")
    def in_force(self, obj):
        today = timezone.localdate()  # the tenant's zone (middleware)
        current = next((v for v in obj.published_versions if v.covers(today)), None)
        if current is None:
            return None
        return f"v{current.number} since {current.effective_from:%Y-%m-%d}"

    def get_readonly_fields(self, request, obj=None):
        # What a plan pays on is read from its kind: once a version has
        # paid, the kind stays.
        if obj is not None and LedgerEntry.objects.filter(plan_version__plan=obj).exists():
            return ["kind"]
        return []

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_form_changes(
            request, obj, form, "incentives.plan_changed" if change else "incentives.plan_added"
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        plan = self.get_object(request, unquote(object_id))
        if plan is None:
            raise Http404("No such object.")
        versions = list(plan.versions.order_by("-number"))
        for version in versions:
            version.entry_total = _count_entries(version)
            version.entries_text = _entries_text(version.entry_total)
        membership = request.membership
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

    def get_extra(self, request, obj=None, **kwargs):
        return 1 if obj is None or not obj.brackets.exists() else 0

    # The brackets are part of the rule: a draft's only.
    def _editable(self, obj) -> bool:
        return obj is None or obj.status == Status.DRAFT

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return Status.choices

    def queryset(self, request, queryset):
        if self.value() in Status.values:
            return queryset.filter(status=self.value())
        return queryset


@admin.register(PlanVersion, site=tenant_admin_site)
class PlanVersionAdmin(TenantModelAdmin):
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

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("brackets")

    # Columns

    @admin.display(description="version", ordering="plan__name")
    def version(self, obj):
        return f"{obj.plan.name} v{obj.number}"

    @admin.display(description="status", ordering="status")
    def status_label(self, obj):
        return obj.get_status_display()

    @admin.display(description="rule")
    def rule(self, obj):
        return rule_summary(obj)

    @admin.display(description="partner types")
    def partner_type_names(self, obj):
        labels = dict(Partner.Type.choices)
        return ", ".join(str(labels.get(t, t)) for t in obj.partner_types) or "every type"

    # The form

    def get_fieldsets(self, request, obj=None):
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

    def get_readonly_fields(self, request, obj=None):
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

    def _frozen(self, obj) -> bool:
        return obj is not None and obj.pk is not None and _count_entries(obj) > 0

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not self._frozen(obj)

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or (obj.status == Status.DRAFT and not self._frozen(obj)))

    # Saving

    def save_model(self, request, obj, form, change):
        if not change:
            # Numbers are per plan: lock the plan so two new versions of it
            # cannot take the same one.
            Plan.objects.select_for_update().filter(pk=obj.plan_id).first()
            obj.number = plans.next_number(obj.plan)
            obj.created_by = request.user
        else:
            current = PlanVersion.objects.select_for_update().get(pk=obj.pk)
            rule = {*self.RULE, *self.ACCELERATOR, *self.CAPS, *self.ELIGIBILITY}
            rule_changed = set(form.changed_data) & (rule | {"plan", "effective_from"})
            if rule_changed and current.status != Status.DRAFT:
                raise _Refused(
                    f"Version {current.number} was published meanwhile; its rule can no longer "
                    "change and nothing was saved. Create a new version to change it."
                )
        super().save_model(request, obj, form, change)
        if not change:
            # The id exists from here on (an inline formset clears it until
            # the save). The same form sent again rolls its save back.
            earlier = _claim(request, "version-add", form.cleaned_data.get("form_token"), obj.pk)
            if earlier is not None:
                raise _AlreadyDone(self._change_url(earlier) if earlier else "")
        audit_form_changes(
            request,
            obj,
            form,
            "incentives.version_changed" if change else "incentives.version_added",
        )

    def delete_model(self, request, obj):
        audit(request.tenant, by=request.user, action="incentives.version_deleted", obj=obj)
        super().delete_model(request, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _AlreadyDone as done:
            messages.info(request, "That form was already saved; here is the version it made.")
            return redirect(done.url or reverse("tenant_admin:incentives_planversion_changelist"))
        except Exception as error:
            # Rolled back: a new version's form may be sent again.
            if object_id is None and request.method == "POST":
                _release(request, "version-add", request.POST.get("form_token"))
            if isinstance(error, _Refused):
                messages.error(request, str(error))
            elif isinstance(error, IntegrityError) and _is_frozen_violation(error):
                messages.error(request, FROZEN_MESSAGE)
            else:
                raise
        # Everything was rolled back; show the version as it now stands.
        return redirect(request.path)

    @staticmethod
    def _change_url(pk) -> str:
        return reverse("tenant_admin:incentives_planversion_change", args=[pk])

    def response_add(self, request, obj, post_url_continue=None):
        if "_publish" in request.POST:
            return self._publish(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if "_publish" in request.POST:
            return self._publish(request, obj)
        return super().response_change(request, obj)

    def _publish(self, request, obj):
        """Saved; now publish it (or say why not: it stays a draft)."""
        if not request.membership.has_perm("incentives.publish_planversion"):
            raise PermissionDenied
        try:
            version = plans.publish(obj, by=request.membership)
        except ledger.IncentiveError as error:
            messages.error(request, f"Saved as a draft, not published: {error}")
        else:
            messages.success(
                request,
                f"{version.plan.name} v{version.number} is published: it applies to deals "
                f"closed from {version.effective_from:%Y-%m-%d} on.",
            )
        return HttpResponseRedirect(self._change_url(obj.pk))

    # The version's page: notes, "create new version", publish, preview

    def change_view(self, request, object_id, form_url="", extra_context=None):
        version = self.get_object(request, unquote(object_id))
        if version is None:
            raise Http404("No such object.")
        new_version_form = None
        if request.method == "POST" and ACTION_FIELD in request.POST:
            if request.POST[ACTION_FIELD] != "new_version":
                return HttpResponseBadRequest("Unknown action.")
            if not self.has_add_permission(request):
                raise PermissionDenied
            new_version_form = admin_forms.NewVersionForm(request.POST, version=version)
            if new_version_form.is_valid():
                return self._new_version(request, version, new_version_form)
            request = as_get(request)
        membership = request.membership
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
                        request.tenant.local_today() + timedelta(days=1),
                        version.effective_from + timedelta(days=1),
                    ),
                    "token": uuid.uuid4(),
                },
            )
        return super().change_view(request, object_id, form_url, context)

    def _new_version(self, request, version, form):
        token = str(form.cleaned_data["token"])
        earlier = _claim(request, "new-version", token, "pending")
        if earlier:
            if earlier != "pending":
                messages.info(request, "That form was already sent; here is the draft it made.")
                return redirect(self._change_url(earlier))
            messages.info(request, "The new version is being made; reload in a moment.")
            return redirect(request.path)
        try:
            copy = plans.new_draft(
                version, by=request.membership, effective_from=form.cleaned_data["effective_from"]
            )
        except Exception:
            _release(request, "new-version", token)
            raise
        cache.set(
            f"incentives:new-version:{request.tenant.pk}:{request.user.pk}:{token}",
            str(copy.pk),
            ONCE_SECONDS,
        )
        audit(
            request.tenant,
            by=request.user,
            action="incentives.version_copied",
            obj=copy,
            data={"from": str(version.pk), "effective_from": str(copy.effective_from)},
        )
        messages.success(
            request,
            f"Draft v{copy.number} made from v{version.number}, taking effect on "
            f"{copy.effective_from:%Y-%m-%d}: change its rule, check it with the what-if "
            "preview, then publish it.",
        )
        return redirect(self._change_url(copy.pk))

    def add_view(self, request, form_url="", extra_context=None):
        context = {
            **(extra_context or {}),
            "can_publish": request.membership.has_perm("incentives.publish_planversion"),
        }
        return super().add_view(request, form_url, context)

    # The what-if preview

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("preview/", wrap(self.preview_view), name="incentives_planversion_preview"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_preview": request.membership.has_perm("incentives.preview_planversion"),
        }
        return super().changelist_view(request, extra_context)

    def preview_view(self, request):
        """What a version would have paid over a past range, per partner,
        beside what the plan's versions actually accrued; CSV on request."""
        if not request.membership.has_perm("incentives.preview_planversion"):
            raise PermissionDenied
        tenant = request.tenant
        today = tenant.local_today()
        versions = (
            PlanVersion.objects.filter(tenant=tenant)
            .select_related("plan")
            .order_by("plan__name", "-number")
        )
        chosen = None
        if request.GET.get("version"):
            try:
                chosen = versions.filter(pk=uuid.UUID(request.GET["version"])).first()
            except ValueError:
                chosen = None
            if chosen is None:
                raise Http404("No such plan version.")
        data = None
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
                return self._preview_csv(request, result)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "What-if preview",
            "form": form,
            "result": result,
            "has_versions": versions.exists(),
            "base_currency": tenant.base_currency,
            "csv_query": _with_csv(request) if result else "",
        }
        return TemplateResponse(request, "admin/incentives/planversion/preview.html", context)

    @staticmethod
    def _preview_csv(request, result) -> HttpResponse:
        version = result.version
        name = (
            f"{request.tenant.slug}-preview-{version.plan.name}-v{version.number}-"
            f"{result.start:%Y%m%d}-{result.end:%Y%m%d}.csv"
        )
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
        response = HttpResponse(
            preview_module.result_csv(result), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{safe}"'
        return response


def _with_csv(request) -> str:
    query = request.GET.copy()
    query["format"] = "csv"
    return query.urlencode()


# --- Exchange rates ------------------------------------------------------------------


@admin.register(ExchangeRate, site=tenant_admin_site)
class ExchangeRateAdmin(TenantModelAdmin):
    form = admin_forms.ExchangeRateForm
    list_display = ["currency", "valid_from", "rate", "created_by", "created_at"]
    list_filter = ["currency"]
    list_select_related = ["created_by"]
    search_fields = ["=currency"]
    ordering = ["currency", "-valid_from"]
    change_list_template = "admin/incentives/exchangerate/change_list.html"

    def get_fields(self, request, obj=None):
        fields = ["currency", "valid_from", "rate"]
        return fields if obj is None else [*fields, "created_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        audit(
            request.tenant,
            by=request.user,
            action="incentives.rate_changed" if change else "incentives.rate_added",
            obj=obj,
            data={
                "currency": obj.currency,
                "valid_from": str(obj.valid_from),
                "rate": str(obj.rate),
                "changed": list(form.changed_data),
            },
        )

    def delete_model(self, request, obj):
        audit(
            request.tenant,
            by=request.user,
            action="incentives.rate_deleted",
            obj=obj,
            data={
                "currency": obj.currency,
                "valid_from": str(obj.valid_from),
                "rate": str(obj.rate),
            },
        )
        super().delete_model(request, obj)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="incentives_exchangerate_import"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_import": self.has_add_permission(request),
            "base_currency": request.tenant.base_currency,
        }
        return super().changelist_view(request, extra_context)

    def import_view(self, request):
        """Upload a CSV of rates, see a dry run with each row's problems and
        whether it is new, an update or unchanged, then import all or none."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        may_update = self.has_change_permission(request)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import exchange rates from CSV",
            "columns": rate_import.CSV_COLUMNS,
            "base_currency": request.tenant.base_currency,
            "changelist_url": reverse("tenant_admin:incentives_exchangerate_changelist"),
        }
        form = admin_forms.RateImportForm()
        if request.method == "POST" and "confirm" in request.POST:
            key = self._preview_key(request, request.POST.get("token", ""))
            text = cache.get(key)
            if text is None:
                messages.error(
                    request,
                    "The preview has expired or was already imported; upload the file again.",
                )
                return redirect("tenant_admin:incentives_exchangerate_import")
            cache.delete(key)
            result = rate_import.import_rates(
                tenant=request.tenant, by=request.user, text=text, may_update=may_update
            )
            if result.ok:
                messages.success(
                    request,
                    f"Imported {result.created} new and updated {result.updated} exchange rates.",
                )
                return redirect("tenant_admin:incentives_exchangerate_changelist")
            messages.error(request, "Nothing was imported: the file no longer validates.")
            context["result"] = result
        elif request.method == "POST":
            form = admin_forms.RateImportForm(request.POST, request.FILES)
            if form.is_valid():
                text = form.cleaned_data["file"]
                result = rate_import.parse_rates_csv(request.tenant, text, may_update=may_update)
                context["result"] = result
                if result.ok:
                    token = secrets.token_urlsafe(24)
                    cache.set(self._preview_key(request, token), text, IMPORT_PREVIEW_SECONDS)
                    context["token"] = token
        context["form"] = form
        return TemplateResponse(request, "admin/incentives/exchangerate/import.html", context)

    @staticmethod
    def _preview_key(request, token: str) -> str:
        return f"incentives:rate-import:{request.tenant.pk}:{request.user.pk}:{token}"


# --- Settings ------------------------------------------------------------------------


@admin.register(IncentiveSettings, site=tenant_admin_site)
class IncentiveSettingsAdmin(SettingsRowAdmin):
    audit_action = "incentives.settings_changed"
    fieldsets = [
        ("Statements", {"fields": ["statement_period"]}),
        ("Payouts", {"fields": ["holding_days", "minimum_payout", "payout_target_days"]}),
    ]


# --- The ledger ----------------------------------------------------------------------


class CurrencyFilter(admin.SimpleListFilter):
    """The base currency and those with exchange rates (a DISTINCT over the
    ledger itself would read every entry)."""

    title = "currency"
    parameter_name = "currency"

    def lookups(self, request, model_admin):
        base = request.tenant.base_currency
        others = (
            ExchangeRate.objects.exclude(currency=base)
            .order_by("currency")
            .values_list("currency", flat=True)
            .distinct()
        )
        return [(base, f"{base} (base)"), *((c, c) for c in others)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(currency=self.value())
        return queryset


class PartnerFilter(admin.SimpleListFilter):
    """One partner's entries: the list names up to 100 partners (and the
    chosen one); any partner is reachable by ?partner=<id> or by searching
    its name."""

    title = "partner"
    parameter_name = "partner"
    LISTED = 100

    def _selected(self):
        try:
            return uuid.UUID(str(self.value())) if self.value() else None
        except ValueError:
            return None

    def lookups(self, request, model_admin):
        partners = Partner.objects.order_by("name").values_list("pk", "name")[: self.LISTED]
        choices = [(str(pk), name) for pk, name in partners]
        selected = self._selected()
        if selected and str(selected) not in dict(choices):
            name = Partner.objects.filter(pk=selected).values_list("name", flat=True).first()
            if name is not None:
                choices.insert(0, (str(selected), name))
        return choices

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        selected = self._selected()
        return queryset.filter(partner_id=selected) if selected else queryset.none()


class StatementPeriodFilter(admin.SimpleListFilter):
    """The statement period an entry is booked in: the last twelve (and the
    chosen one), from the tenant's statement period setting."""

    title = "statement period"
    parameter_name = "statement"
    SHOWN = 12

    def _selected(self):
        from datetime import date

        try:
            return date.fromisoformat(self.value()) if self.value() else None
        except ValueError:
            return None

    def lookups(self, request, model_admin):
        period = IncentiveSettings.for_tenant(request.tenant).statement_period
        start = periods.period_start(request.tenant.local_today(), period)
        starts = []
        for _ in range(self.SHOWN):
            starts.append(start)
            start = periods.period_start(start - timedelta(days=1), period)
        selected = self._selected()
        if selected and selected not in starts:
            starts.insert(0, selected)
        return [(s.isoformat(), periods.label(s, period)) for s in starts]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        selected = self._selected()
        return queryset.filter(statement_start=selected) if selected else queryset.none()


class VersionFilter(admin.SimpleListFilter):
    title = "plan version"
    parameter_name = "version"

    def _selected(self):
        try:
            return uuid.UUID(str(self.value())) if self.value() else None
        except ValueError:
            return None

    def lookups(self, request, model_admin):
        versions = PlanVersion.objects.select_related("plan").order_by("plan__name", "-number")
        return [(str(v.pk), f"{v.plan.name} v{v.number}") for v in versions]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        selected = self._selected()
        return queryset.filter(plan_version_id=selected) if selected else queryset.none()


LEDGER_CSV_COLUMNS = [
    "id",
    "created at",
    "partner",
    "kind",
    "source",
    "amount",
    "currency",
    "exchange rate",
    "amount (base)",
    "base currency",
    "deal",
    "plan",
    "version",
    "effective date",
    "period start",
    "statement start",
    "available on",
    "reverses",
    "description",
    "created via",
    "created by",
    "idempotency key",
]


@admin.register(LedgerEntry, site=tenant_admin_site)
class LedgerEntryAdmin(TenantModelAdmin):
    list_display = [
        "booked",
        "partner",
        "kind",
        "source",
        "amount_display",
        "base_display",
        "fx_rate",
        "deal",
        "version",
        "effective_date",
        "available_on",
    ]
    list_display_links = ["booked"]
    list_filter = [
        "kind",
        "source",
        CurrencyFilter,
        PartnerFilter,
        StatementPeriodFilter,
        VersionFilter,
    ]
    search_fields = ["=registration__code", "partner__name", "=idempotency_key"]
    list_select_related = ["partner", "registration", "plan_version__plan"]
    # Ids are time-ordered (UUID7): newest first without sorting the table.
    ordering = ["-id"]
    paginator = LargeTablePaginator
    change_list_template = "admin/incentives/ledgerentry/change_list.html"
    change_form_template = "admin/incentives/ledgerentry/change_form.html"
    fieldsets = [
        (
            "Entry",
            {
                "fields": [
                    "partner",
                    "kind",
                    "source",
                    "amount_display",
                    "fx_rate",
                    "base_display",
                    "description",
                ]
            },
        ),
        (
            "Where it comes from",
            {
                "fields": [
                    "registration",
                    "plan_version",
                    "basis_display",
                    "dispute",
                    "payout_run",
                    "reverses",
                ]
            },
        ),
        (
            "Dates",
            {"fields": ["effective_date", "period_start", "statement_start", "available_on"]},
        ),
        (
            "Record",
            {"fields": ["created_at", "created_by", "created_via", "idempotency_key", "checksum"]},
        ),
    ]

    # Entries are only ever added, and only through the services: nobody
    # edits or deletes one here.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    # Columns

    @admin.display(description="booked", ordering="created_at")
    def booked(self, obj):
        moment = timezone.localtime(obj.created_at)  # the tenant's zone (middleware)
        return format_html("{}<br><small>{}</small>", f"{moment:%Y-%m-%d %H:%M}", obj.created_via)

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.currency)

    @admin.display(description="base amount", ordering="amount_base")
    def base_display(self, obj):
        return format_money(obj.amount_base, obj.base_currency)

    @admin.display(description="computed on")
    def basis_display(self, obj):
        if obj.basis_amount is None:
            return None
        return format_money(obj.basis_amount, obj.basis_currency or obj.currency)

    @admin.display(description="deal", ordering="registration__code")
    def deal(self, obj):
        return obj.registration.code if obj.registration_id else None

    @admin.display(description="plan version")
    def version(self, obj):
        if not obj.plan_version_id:
            return None
        return f"{obj.plan_version.plan.name} v{obj.plan_version.number}"

    # The entry's page: read-only, with its chain

    def change_view(self, request, object_id, form_url="", extra_context=None):
        entry = self.get_object(request, unquote(object_id))
        if entry is None:
            raise Http404("No such object.")
        membership = request.membership
        settlement = Settlement.objects.filter(entry=entry).select_related("run", "payout").first()
        chain = {
            "reverses": entry.reverses,
            "reversed_by": list(entry.reversed_by.order_by("created_at", "id")),
            "settlement": settlement,
            "settles_count": entry.settles.count() if entry.kind == LedgerEntry.Kind.PAYOUT else 0,
            "disputes": list(entry.disputes.order_by("created_at")),
            "resolves": Dispute.objects.filter(adjustment=entry).first(),
        }
        links = {
            "registration": entry.registration_id
            and _link(request, entry.registration, "dealreg.view_dealregistration"),
            "plan_version": entry.plan_version_id
            and _link(request, entry.plan_version, "incentives.view_planversion"),
            "payout_run": entry.payout_run_id
            and _link(request, entry.payout_run, "incentives.view_payoutrun"),
            "settlement_run": settlement
            and _link(request, settlement.run, "incentives.view_payoutrun"),
            "settlement_payout": settlement and _link(request, settlement.payout),
            "reverses": entry.reverses_id and _link(request, entry.reverses),
            "reversed_by": format_html_join(
                ", ", "{}", ((_link(request, e),) for e in chain["reversed_by"])
            ),
            "disputes": format_html_join(
                ", ",
                "{} ({})",
                (
                    (_link(request, d, "incentives.view_dispute"), d.get_status_display())
                    for d in chain["disputes"]
                ),
            ),
            "resolves": chain["resolves"]
            and _link(request, chain["resolves"], "incentives.view_dispute"),
        }
        context = {
            **(extra_context or {}),
            "entry": entry,
            "chain": chain,
            "links": links,
            "checksum_ok": entry.checksum == entry.compute_checksum(),
            "can_adjust": membership.has_perm("incentives.add_ledgerentry"),
        }
        return super().change_view(request, object_id, form_url, context)

    # The list: export, and "add" is a manual adjustment

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("export/", wrap(self.export_view), name="incentives_ledgerentry_export"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        membership = request.membership
        extra_context = {
            **(extra_context or {}),
            "can_export": membership.has_perm("incentives.export_ledgerentry"),
            "can_adjust": self.has_add_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def export_view(self, request):
        """The list as it is filtered and searched, as CSV, streamed (the
        ledger may hold millions of entries)."""
        if not request.membership.has_perm("incentives.export_ledgerentry"):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("The filter in the address is not valid.")
        entries = changelist.get_queryset(request).select_related(
            "partner", "registration", "plan_version__plan", "created_by"
        )
        tenant = request.tenant
        return csv_response(
            export_filename(tenant, "ledger"),
            _ledger_csv_rows(tenant, entries),
            LEDGER_CSV_COLUMNS,
            stream=True,
        )

    def add_view(self, request, form_url="", extra_context=None):
        """A manual adjustment (finance): a new entry with a reason."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        tenant = request.tenant
        today = tenant.local_today()
        initial = {}
        if request.GET.get("partner"):
            with contextlib.suppress(ValueError):
                initial["partner"] = uuid.UUID(request.GET["partner"])
        form = admin_forms.ManualAdjustmentForm(
            request.POST or None, tenant=tenant, today=today, initial=initial
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            token = str(data["token"])
            repeated = LedgerEntry.objects.filter(
                idempotency_key=adjustments.adjustment_key(token)
            ).exists()
            try:
                entry = adjustments.manual_adjustment(
                    tenant,
                    by=request.membership,
                    partner=data["partner"],
                    amount=data["amount"],
                    currency=data["currency"],
                    effective_date=data["effective_date"],
                    reason=data["reason"],
                    token=token,
                )
            except ledger.IncentiveError as error:
                form.add_error(error.field if error.field in form.fields else None, str(error))
            else:
                if repeated:
                    messages.info(request, "That adjustment was already recorded (once).")
                else:
                    base = format_money(entry.amount_base, entry.base_currency)
                    messages.success(
                        request,
                        f"Adjustment of {format_money(entry.amount, entry.currency)} recorded "
                        f"for {data['partner']} ({base} at rate {entry.fx_rate.normalize():f}).",
                    )
                return redirect("tenant_admin:incentives_ledgerentry_change", entry.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Record a manual adjustment",
            "form": form,
            "base_currency": tenant.base_currency,
            "changelist_url": reverse("tenant_admin:incentives_ledgerentry_changelist"),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/incentives/ledgerentry/adjustment.html", context)


def _ledger_csv_rows(tenant, entries):
    """CSV rows of ``entries``; the response is read after the view has
    returned (outside the request's scope), so the scope is entered here."""
    tz = tenant.tzinfo
    with tenant_scope(tenant):
        for e in entries.iterator(chunk_size=2000):
            version = e.plan_version
            yield [
                e.pk,
                timezone.localtime(e.created_at, tz).strftime("%Y-%m-%d %H:%M:%S"),
                e.partner.name,
                e.kind,
                e.source,
                e.amount,
                e.currency,
                e.fx_rate,
                e.amount_base,
                e.base_currency,
                e.registration.code if e.registration_id else "",
                version.plan.name if version else "",
                version.number if version else "",
                e.effective_date,
                e.period_start,
                e.statement_start,
                e.available_on,
                e.reverses_id or "",
                e.description,
                e.created_via,
                e.created_by.email if e.created_by_id else "",
                e.idempotency_key,
            ]


# --- Deals whose accrual is stuck ----------------------------------------------------


@admin.register(DealAccrualState, site=tenant_admin_site)
class DealAccrualStateAdmin(TenantModelAdmin):
    """Won deals the ledger could not bring in line (e.g. no exchange rate
    for the deal's currency on its close date). "Retry now" runs the sync
    for the selected ones once the cause is fixed."""

    list_display = ["deal", "partner", "won", "close_date", "problem"]
    list_select_related = ["registration__partner"]
    search_fields = ["=registration__code", "registration__partner__name", "problem"]
    ordering = ["registration__won_close_date", "id"]
    actions = ["retry_selected"]
    fields = ["deal", "partner", "won", "close_date", "problem", "synced_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(~Q(problem=""))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="deal", ordering="registration__code")
    def deal(self, obj):
        r = obj.registration
        return format_html("<strong>{}</strong> {}", r.code, r.customer_name)

    @admin.display(description="partner", ordering="registration__partner__name")
    def partner(self, obj):
        return obj.registration.partner.name

    @admin.display(description="won")
    def won(self, obj):
        r = obj.registration
        if r.won_amount is None:
            return None
        return format_money(r.won_amount, r.won_currency or r.currency)

    @admin.display(description="close date", ordering="registration__won_close_date")
    def close_date(self, obj):
        return obj.registration.won_close_date

    @admin.action(permissions=["view"], description="Retry now")
    def retry_selected(self, request, queryset):
        states = list(
            queryset.select_related("registration__partner", "registration__tenant")[
                : MAX_RETRY + 1
            ]
        )
        if len(states) > MAX_RETRY:
            messages.error(request, f"Retry at most {MAX_RETRY} deals at a time.")
            return None
        fixed, written, still = [], 0, []
        for state in states:
            registration = state.registration
            try:
                written += len(ledger.sync_deal(registration, via="admin:retry"))
            except ledger.IncentiveError as problem:
                ledger.record_problem(registration, str(problem))
                still.append(f"{registration.code}: {problem}")
            else:
                fixed.append(registration.code)
        if fixed:
            messages.success(
                request,
                f"In line now: {', '.join(fixed)} ({written} "
                f"{'entry' if written == 1 else 'entries'} written).",
            )
        for text in still:
            messages.error(request, f"Still stuck: {text}")
        return None

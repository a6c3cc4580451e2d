"""Agreements in the tenant admin: the agreements (ops add and change
them; staff read), their versions, the acceptances (read-only: the record
of who accepted what) and the acceptance report with its CSV export.

A version is never saved through a model form: its pages are plain forms
whose data go to ``acceptance.add_version`` / ``change_version`` /
``delete_version``, which assign the number, hash the content, and refuse
to change or delete what a partner has accepted (the refusal shows on the
field it concerns). A version's page previews its text as partners see it,
or links its PDF.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from partners.models import Partner
from prm import format as fmt
from prm.tenancy.admin_base import TenantModelAdmin, audit_form_changes, tenant_admin_site
from prm.tenancy.errors import add_service_error
from prm.tenancy.requests import as_member, tenant_of

from . import acceptance as services
from . import admin_acceptance_report, agreements
from .admin_acceptance_report import VIEW_ACCEPTANCE, report_url
from .errors import OnboardingError
from .forms_agreements import AgreementForm, VersionForm
from .markdown import render
from .models import Acceptance, Agreement, AgreementVersion

CSS = {"all": ["admin/dealreg.css", "admin/mdf.css"]}
# The staff card's horizon for versions about to expire.
EXPIRING_DAYS = 60


def version_url(version: AgreementVersion) -> str:
    return reverse("tenant_admin:onboarding_agreementversion_change", args=[version.pk])


def pdf_url(version: AgreementVersion) -> str:
    return reverse("onboarding:agreement_pdf", args=[version.pk])


# --- Agreements ---------------------------------------------------------------------------


@admin.register(Agreement, site=tenant_admin_site)
class AgreementAdmin(TenantModelAdmin):
    form = AgreementForm
    list_display = ["title", "types", "current", "is_active", "who_accepted"]
    list_filter = ["is_active"]
    search_fields = ["title"]
    ordering = ["title"]
    change_form_template = "admin/onboarding/agreement_change_form.html"

    class Media:
        css = CSS

    # Agreements partners accepted are the record of it: deactivated, never deleted.
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        today = tenant_of(request).local_today()
        current = (
            AgreementVersion.objects.filter(agreements.in_force(today), agreement=OuterRef("pk"))
            .order_by("-number")
            .values("number")[:1]
        )
        return super().get_queryset(request).annotate(current_number=Subquery(current))

    @admin.display(description="partner types")
    def types(self, obj: Agreement) -> str:
        labels = dict(Partner.Type.choices)
        return ", ".join(str(labels.get(t, t)) for t in obj.partner_types) or "every type"

    @admin.display(description="version in force", ordering="current_number")
    def current(self, obj: Any) -> str:
        return f"v{obj.current_number}" if obj.current_number else "none"

    @admin.display(description="acceptance")
    def who_accepted(self, obj: Agreement) -> str:
        return format_html('<a href="{}">Who accepted</a>', report_url(obj))

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_form_changes(
            request,
            obj,
            form,
            "onboarding.agreement_changed" if change else "onboarding.agreement_added",
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if obj is not None:
            context.update(self.versions_context(request, obj))
        return super().change_view(request, object_id, form_url, context)

    def versions_context(self, request: HttpRequest, agreement: Agreement) -> dict[str, Any]:
        today = tenant_of(request).local_today()
        versions = list(_versions(today).filter(agreement=agreement).order_by("-number"))
        membership = as_member(request).membership
        return {
            "versions": [(v, version_state(v, today), version_url(v)) for v in versions],
            "can_add_version": membership.has_perm(services.ADD),
            "add_version_url": reverse("tenant_admin:onboarding_agreementversion_add")
            + f"?agreement={agreement.pk}",
            "report_url": report_url(agreement),
            "can_report": membership.has_perm(VIEW_ACCEPTANCE),
        }


# --- Versions -------------------------------------------------------------------------------


def _versions(today: Any) -> QuerySet[AgreementVersion]:
    newer = AgreementVersion.objects.filter(
        agreements.in_force(today), agreement=OuterRef("agreement"), number__gt=OuterRef("number")
    )
    return AgreementVersion.objects.select_related("agreement").annotate(
        accepted=Count("acceptances"), superseded=Exists(newer)
    )


def version_state(version: Any, today: Any) -> tuple[str, str]:
    """(word, chip tone) for where a version stands today."""
    if version.effective_on > today:
        return "scheduled", "info"
    if version.expires_on is not None and version.expires_on <= today:
        return "expired", "muted"
    if getattr(version, "superseded", False):
        return "superseded", "muted"
    if version.expires_on is not None and version.expires_on <= today + timedelta(
        days=EXPIRING_DAYS
    ):
        return "in force, expiring", "warn"
    return "in force", "ok"


class ExpiringFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiring"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [(str(EXPIRING_DAYS), f"In force, expiring within {EXPIRING_DAYS} days")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == str(EXPIRING_DAYS):
            today = tenant_of(request).local_today()
            ids = agreements.expiring_versions(today, EXPIRING_DAYS).values("pk")
            return queryset.filter(pk__in=ids)
        return queryset


@admin.register(AgreementVersion, site=tenant_admin_site)
class AgreementVersionAdmin(TenantModelAdmin):
    list_display = ["version", "effective_on", "expires_on", "state", "kind", "accepted_col"]
    list_filter = [ExpiringFilter, "agreement"]
    search_fields = ["agreement__title"]
    ordering = ["agreement__title", "-number"]

    class Media:
        css = CSS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        today = tenant_of(request).local_today()
        ids = super().get_queryset(request).values("pk")
        return _versions(today).filter(pk__in=ids)

    @admin.display(description="version", ordering="number")
    def version(self, obj: AgreementVersion) -> str:
        return f"{obj.agreement.title} v{obj.number}"

    @admin.display(description="state")
    def state(self, obj: Any) -> str:
        word, tone = version_state(obj, timezone.localdate())
        return format_html('<span class="chip chip-{}">{}</span>', tone, word)

    @admin.display(description="document")
    def kind(self, obj: AgreementVersion) -> str:
        return "PDF" if obj.pdf else "Text"

    @admin.display(description="accepted by", ordering="accepted")
    def accepted_col(self, obj: Any) -> str:
        return fmt.plural(obj.accepted, "partner")

    # The pages: plain forms, each write through the services

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        membership = as_member(request).membership
        initial = {"effective_on": tenant_of(request).local_today()}
        chosen = request.GET.get("agreement", "")
        form = VersionForm(initial={**initial, "agreement": chosen} if chosen else initial)
        if request.method == "POST":
            form = VersionForm(request.POST, request.FILES)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    version = services.add_version(
                        data["agreement"],
                        by=membership,
                        body=data["body"] or "",
                        pdf=data["pdf"],
                        effective_on=data["effective_on"],
                        expires_on=data["expires_on"],
                        grace_days=data["grace_days"],
                        change_summary=data["change_summary"] or "",
                    )
                except OnboardingError as error:
                    add_service_error(form, error)
                else:
                    messages.success(
                        request, f"Version {version.number} of {version.agreement} added."
                    )
                    return redirect(version_url(version))
        return self.page(request, form, None, "Add an agreement version")

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
        if not self.has_view_or_change_permission(request, version):
            raise PermissionDenied
        can_change = self.has_change_permission(request, version)
        form = VersionForm(version=version) if can_change else None
        if request.method == "POST":
            if not can_change:
                raise PermissionDenied
            form = VersionForm(request.POST, request.FILES, version=version)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    services.change_version(
                        version,
                        by=as_member(request).membership,
                        body=data.get("body"),
                        pdf=data.get("pdf"),
                        effective_on=data["effective_on"],
                        expires_on=data["expires_on"],
                        grace_days=data["grace_days"],
                        change_summary=data["change_summary"] or "",
                    )
                except OnboardingError as error:
                    add_service_error(form, error)
                else:
                    messages.success(request, f"{version} saved.")
                    return redirect(version_url(version))
        return self.page(request, form, version, str(version))

    def page(
        self,
        request: HttpRequest,
        form: VersionForm | None,
        version: Any,
        title: str,
    ) -> TemplateResponse:
        today = tenant_of(request).local_today()
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "form": form,
            "version": version,
            "changelist_url": reverse("tenant_admin:onboarding_agreementversion_changelist"),
            "media": self.media + form.media if form is not None else self.media,
        }
        if version is not None:
            accepted = version.acceptances.count()
            context.update(
                {
                    "original": version,
                    "state": version_state(version, today),
                    "accepted": accepted,
                    "preview": None if version.pdf else render(version.body),
                    "pdf_url": pdf_url(version) if version.pdf else "",
                    "report_url": report_url(version.agreement),
                    "can_report": as_member(request).membership.has_perm(VIEW_ACCEPTANCE),
                    "can_delete": self.has_delete_permission(request, version) and not accepted,
                    "delete_url": reverse(
                        "tenant_admin:onboarding_agreementversion_delete", args=[version.pk]
                    ),
                    "agreement_url": reverse(
                        "tenant_admin:onboarding_agreement_change", args=[version.agreement_id]
                    ),
                }
            )
        return TemplateResponse(request, "admin/onboarding/agreement_version.html", context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        version = self.get_object(request, unquote(object_id))
        if version is not None and self.has_delete_permission(request, version):
            accepted = version.acceptances.count()
            if accepted:
                messages.error(
                    request,
                    f"{version} has been accepted by {fmt.plural(accepted, 'partner')}: it is "
                    "the record of what they accepted and cannot be deleted.",
                )
                return redirect(version_url(version))
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.delete_version(obj, by=as_member(request).membership)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # The version alone (its acceptances, if any, refuse the deletion).
        return [str(obj) for obj in objs], {"agreement version": len(objs)}, set(), []


# --- Acceptances ------------------------------------------------------------------------------


@admin.register(Acceptance, site=tenant_admin_site)
class AcceptanceAdmin(TenantModelAdmin):
    """The record of each acceptance, read-only; the report per agreement
    and its export are pages of this admin."""

    list_display = [
        "partner",
        "agreement_version",
        "typed_name",
        "person",
        "accepted",
        "ip_address",
        "receipt",
    ]
    list_filter = ["version__agreement"]
    list_select_related = ["partner", "version__agreement", "user"]
    search_fields = ["partner__name", "typed_name", "user__email"]
    ordering = ["-accepted_at"]
    fields = (
        "partner",
        "version",
        "user",
        "typed_name",
        "accepted_at",
        "ip_address",
        "user_agent",
        "content_sha256",
    )
    readonly_fields = fields

    class Media:
        css = CSS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="agreement", ordering="version__agreement__title")
    def agreement_version(self, obj: Acceptance) -> str:
        return f"{obj.version.agreement.title} v{obj.version.number}"

    @admin.display(description="accepted by", ordering="user__email")
    def person(self, obj: Acceptance) -> str:
        return obj.user.get_full_name() or obj.user.email

    @admin.display(description="when", ordering="accepted_at")
    def accepted(self, obj: Acceptance) -> str:
        return fmt.moment(obj.accepted_at)

    @admin.display(description="receipt")
    def receipt(self, obj: Acceptance) -> str:
        return format_html('<a href="{}">PDF</a>', reverse("onboarding:receipt", args=[obj.pk]))

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "report/",
                wrap(partial(admin_acceptance_report.report_view, self)),
                name="onboarding_acceptance_report",
            ),
            path(
                "report/export.csv",
                wrap(partial(admin_acceptance_report.export_view, self)),
                name="onboarding_acceptance_export",
            ),
            *super().get_urls(),
        ]


__all__ = ["AcceptanceAdmin", "AgreementAdmin", "AgreementVersionAdmin"]

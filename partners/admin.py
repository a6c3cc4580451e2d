from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import BadRequest, PermissionDenied
from django.db.models import Count, QuerySet
from django.forms.models import construct_instance
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import URLPattern, path

from prm.csvio import csv_response, export_filename
from prm.tenancy import confirm
from prm.tenancy.admin_base import (
    TenantHistoryAdmin,
    TenantModelAdmin,
    TenantTabularInline,
    tenant_admin_site,
)
from prm.tenancy.chips import chip
from prm.tenancy.csv_import import CsvImporter, CsvImportMixin
from prm.tenancy.drill import MetricRowsFilter
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.requests import MemberRequest, as_member, tenant_of
from prm.tenancy.roles import Role
from prm.tenancy.text import plural

from . import admin_tiers, services  # noqa: F401  # admin_tiers: the tier history's admin
from .models import Contact, Partner, Region, Tier, without_people
from .panels import panel_css, shown_panels


class _Refused(Exception):
    """A service refused a partner form that had validated."""

    def __init__(self, error: services.PartnerError) -> None:
        super().__init__(str(error))
        self.error = error


class AssignedToMeFilter(admin.SimpleListFilter):
    title = "channel manager"
    parameter_name = "manager"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("me", "Assigned to me"), ("none", "Unassigned")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Partner]) -> QuerySet[Partner]:
        if self.value() == "me":
            return queryset.filter(channel_manager=as_member(request).user)
        if self.value() == "none":
            return queryset.filter(channel_manager__isnull=True)
        return queryset


class PortalPeopleFilter(admin.SimpleListFilter):
    """Partners nobody of whom can sign in to the portal yet: someone must
    invite their partner admin."""

    title = "people in the portal"
    parameter_name = "people"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("none", "Nobody yet")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Partner]) -> QuerySet[Partner]:
        if self.value() == "none":
            return queryset.filter(without_people())
        return queryset


class ContactInline(TenantTabularInline):
    model = Contact
    fields = ["name", "email", "phone", "title", "is_primary"]


class PartnerForm(forms.ModelForm):
    # No Meta: the admin builds the model form per request, inside the
    # tenant's scope, so choice querysets are never evaluated at import.

    def __init__(
        self,
        *args: Any,
        tenant: Tenant | None = None,
        refusal: services.PartnerError | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.refusal = refusal

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        if self.refusal is not None:
            # The service refused what this form accepted a moment ago.
            field_name = self.refusal.field if self.refusal.field in self.fields else None
            self.add_error(field_name, str(self.refusal))
        name = cleaned.get("name")
        website = cleaned.get("website", "")
        if name is not None:
            assert self.tenant is not None  # the admin builds the form with its tenant
            errors = services.duplicate_errors(
                self.tenant, name=name, website=website or "", exclude=self.instance
            )
            for field_name, message in errors.items():
                if field_name in self.fields:
                    self.add_error(field_name, message)
        return cleaned

    def _post_clean(self) -> None:
        # Copy the values onto the instance but leave model validation to the
        # service, which derives the normalized name and domain first.
        opts = self._meta
        self.instance = construct_instance(self, self.instance, opts.fields, opts.exclude)


class PartnerImporter(CsvImporter):
    noun = "partners"
    columns = services.CSV_COLUMNS
    required_columns = services.REQUIRED_COLUMNS
    template = "admin/partners/partner/import.html"

    def allowed(self) -> bool:
        return self.membership.has_perm("partners.import_partner")

    def check(self, text: str) -> services.ImportResult:
        return services.parse_partner_csv(self.tenant, text)

    def apply(self, text: str) -> services.ImportResult:
        return services.import_partners(tenant=self.tenant, by=self.user, text=text)


@admin.register(Partner, site=tenant_admin_site)
class PartnerAdmin(CsvImportMixin, TenantHistoryAdmin):
    csv_importer = PartnerImporter
    form = PartnerForm
    list_display = [
        "name",
        "partner_type",
        "tier",
        "status_chip",
        "country",
        "region",
        "channel_manager",
        "domain",
    ]
    list_filter = [
        MetricRowsFilter,
        "status",
        "partner_type",
        "tier",
        "region",
        AssignedToMeFilter,
        PortalPeopleFilter,
    ]
    search_fields = ["name", "legal_name", "domain", "contacts__email"]
    list_select_related = ["tier", "region", "channel_manager"]
    readonly_fields = ["domain", "created_at", "updated_at"]
    inlines = [ContactInline]
    user_fk_roles = {"channel_manager": (Role.CHANNEL_MANAGER,)}
    actions = ["export_selected"]
    change_list_template = "admin/partners/partner/change_list.html"
    change_form_template = "admin/partners/partner/change_form.html"
    fieldsets = [
        (None, {"fields": ["name", "legal_name", "website", "domain", "partner_type"]}),
        ("Program", {"fields": ["tier", "status", "channel_manager"]}),
        ("Location", {"fields": ["country", "region", "address", "phone"]}),
        ("Notes", {"fields": ["notes", "created_at", "updated_at"]}),
    ]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        tenant = tenant_of(request)
        refusal = getattr(request, "_partner_refusal", None)

        class TenantPartnerForm(form_class):  # type: ignore[misc,valid-type]  # built on the admin's form
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, tenant=tenant, refusal=refusal, **kw)

        return TenantPartnerForm

    @admin.display(description="status", ordering="status")
    def status_chip(self, obj: Partner) -> str:
        return chip(obj.get_status_display(), obj.status)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        membership = as_member(request).membership
        if membership.role == Role.CHANNEL_MANAGER:
            # Channel managers keep their partners' records up to date; who
            # manages a partner and its tier are ops decisions.
            fields += ["channel_manager", "tier"]
        return fields

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """As Django's, except that records which are part of the partner
        and kept read-only (its tier history and standing, its compliance
        reviews: their admins set ``deleted_with_partner``) need no delete
        permission of their own: they go with the partner."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        part_of = {
            str(model._meta.verbose_name)
            for model, model_admin in self.admin_site._registry.items()
            if getattr(model_admin, "deleted_with_partner", False)
        }
        return deleted, counts, {p for p in perms_needed if str(p) not in part_of}, protected

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        user = as_member(request).user
        data = {f: form.cleaned_data[f] for f in services.PARTNER_FIELDS if f in form.cleaned_data}
        try:
            if change:
                services.update_partner(obj, by=user, data=data)
            else:
                saved = services.create_partner(tenant=tenant_of(request), by=user, data=data)
                obj.pk = saved.pk
                obj.tenant = saved.tenant
                obj._state.adding = False
                obj._state.db = saved._state.db
        except services.PartnerError as exc:
            # The form checked the same rules; another edit got in between.
            raise _Refused(exc) from exc

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        page = self._ask_before_closing(request, object_id)
        if page is not None:
            return page
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _Refused as refused:
            # Everything was rolled back; show the form again with the
            # service's reason as a field error.
            request._partner_refusal = refused.error  # type: ignore[attr-defined]  # for get_form
            return super().changeform_view(request, object_id, form_url, extra_context)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        """Below the form, the panels other apps declare for a partner's
        page (health, ...), those this member may see."""
        if obj is not None and not add:
            panels = shown_panels(request, obj)
            context = {**context, "partner_panels": panels, "panel_css": panel_css(panels)}
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _ask_before_closing(self, request: HttpRequest, object_id: str | None) -> Any:
        """Suspending or terminating a partner is asked first, on the admin's
        confirmation page (the whole posted form goes back with it)."""
        closing = (Partner.Status.SUSPENDED, Partner.Status.TERMINATED)
        new_status = request.POST.get("status") if request.method == "POST" else None
        if not object_id or new_status not in closing or confirm.is_confirmed(request):
            return None
        partner = self.get_object(request, object_id)
        if (
            partner is None
            or partner.status == new_status
            or not self.has_change_permission(request, partner)
        ):
            return None  # the admin answers as usual (404, 403, nothing to ask)
        people = Membership.objects.filter(partner=partner, is_active=True).count()
        consequences = [f"{partner.name} can no longer register deals."]
        if new_status == Partner.Status.TERMINATED:
            consequences.append("Nobody can be invited to it any more.")
        consequences += [
            f"Its {plural(people, 'active person', 'active people')} keep their sign-in "
            "until you deactivate them on People.",
            "Registrations, earnings and statements it already has are kept unchanged.",
        ]
        verb = "Suspend" if new_status == Partner.Status.SUSPENDED else "Terminate"
        return confirm.admin_page(
            request,
            confirm.Confirmation(
                title=f"{verb} {partner.name}?",
                object_label=f"{partner.name} · {partner.get_status_display().lower()} now",
                consequences=consequences,
                action_label=f"{verb} the partner",
                cancel_url=request.get_full_path(),
            ),
            admin_site=self.admin_site,
            opts=self.opts,
            obj=partner,
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.delete_partner(obj, by=as_member(request).user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for partner in queryset:
            services.delete_partner(partner, by=as_member(request).user)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("export/", wrap(self.export_view), name="partners_partner_export"),
            *super().get_urls(),
        ]

    def _require(self, request: HttpRequest, perm: str) -> None:
        if not as_member(request).membership.has_perm(perm):
            raise PermissionDenied

    def _csv_response(
        self, request: HttpRequest, queryset: QuerySet[Partner]
    ) -> HttpResponse | StreamingHttpResponse:
        return csv_response(
            export_filename(tenant_of(request), "partners"),
            services.export_rows(queryset),
            services.CSV_COLUMNS,
        )

    def export_view(self, request: MemberRequest) -> HttpResponseBase:
        """The changelist as it is filtered and searched, as CSV."""
        self._require(request, "partners.export_partner")
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            raise BadRequest(
                "The file was not made: a filter in the address names nothing here "
                "(a link may have been cut short or edited)."
            ) from None
        return self._csv_response(request, changelist.get_queryset(request))

    @admin.action(description="Export selected partners to CSV")
    def export_selected(
        self, request: HttpRequest, queryset: QuerySet[Partner]
    ) -> HttpResponse | StreamingHttpResponse:
        self._require(request, "partners.export_partner")
        return self._csv_response(request, queryset)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        membership = as_member(request).membership
        extra_context = {
            **(extra_context or {}),
            "can_import": membership.has_perm("partners.import_partner"),
            "can_export": membership.has_perm("partners.export_partner"),
        }
        return super().changelist_view(request, extra_context)


@admin.register(Tier, site=tenant_admin_site)
class TierAdmin(TenantHistoryAdmin):
    list_display = ["name", "rank", "partner_count"]
    ordering = ["rank"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(partner_total=Count("partners"))

    @admin.display(description="partners", ordering="partner_total")
    def partner_count(self, obj: Any) -> int:
        return obj.partner_total


@admin.register(Region, site=tenant_admin_site)
class RegionAdmin(TenantModelAdmin):
    list_display = ["name", "code", "country_list"]
    search_fields = ["name", "code"]

    @admin.display(description="countries")
    def country_list(self, obj: Region) -> str:
        return ", ".join(c.code for c in obj.countries)


@admin.register(Contact, site=tenant_admin_site)
class ContactAdmin(TenantModelAdmin):
    list_display = ["name", "email", "partner", "title", "is_primary"]
    search_fields = ["name", "email", "partner__name"]
    list_select_related = ["partner"]
    autocomplete_fields = ["partner"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        membership = as_member(request).membership

        class ContactForm(form_class):  # type: ignore[misc,valid-type]  # built on the admin's form
            def clean_partner(self) -> Partner | None:
                # Channel managers hold contact permissions only on their own
                # partners: a contact may not be added to, or moved to,
                # another partner.
                partner = self.cleaned_data.get("partner")
                action = "add" if self.instance._state.adding else "change"
                if partner is not None and not membership.has_perm(
                    f"partners.{action}_contact", Contact(partner=partner)
                ):
                    raise forms.ValidationError(
                        "You may only keep contacts of partners assigned to you."
                    )
                return partner

        return ContactForm

"""The tier review policy and the tier criteria in the tenant admin (ops
change them; every staff role reads them).

The policy is one row per tenant, opened directly from the list.

Criteria are versions. The list shows each version with its status. Ops
start a draft on the add page (a copy of the published version, or empty;
one draft at a time) and edit it on two levels, since the admin has no
nested inlines: the version's page lists each tier it sets criteria for
(tier, counted criteria to meet, its criteria in words) and each tier's
page holds its criteria. Published and retired versions are read-only. The
draft's page simulates it against today's partners
(``admin_simulation``), publishes it or discards it, each asked first on
the confirmation page.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from prm import format as fmt
from prm.tenancy.admin_base import (
    ACTION_FIELD,
    ActionFormsMixin,
    SettingsRowAdmin,
    TenantModelAdmin,
    TenantTabularInline,
    admin_url,
    tenant_admin_site,
)
from prm.tenancy.chips import chip
from prm.tenancy.confirm import Confirmation
from prm.tenancy.requests import as_member, tenant_of
from prm.tenancy.text import plural

from . import admin_simulation, criteria
from .errors import ProgramError
from .models import CriteriaVersion, QualificationSettings, TierCriterion, TierTarget

Status = CriteriaVersion.Status
Kind = TierCriterion.Kind
SIMULATE_PERM = "program.evaluate_tiers"
VERSIONS = "tenant_admin:program_criteriaversion_changelist"


@admin.register(QualificationSettings, site=tenant_admin_site)
class QualificationSettingsAdmin(SettingsRowAdmin):
    audit_action = "program.settings_changed"
    fieldsets = [
        ("Reviews", {"fields": ["schedule", "review_day", "upgrades"]}),
        ("Moving down", {"fields": ["grace_days"]}),
        ("Channel managers' list of partners about to move", {"fields": ["notice_days"]}),
    ]


def is_draft(version: Any) -> bool:
    return isinstance(version, CriteriaVersion) and version.status == Status.DRAFT


def describe(criterion: TierCriterion) -> str:
    """A criterion in words: "Won revenue … at least 250,000 (required)"."""
    how = "required" if criterion.required else "counted"
    if criterion.kind in TierCriterion.YES_NO:
        return f"{criterion} ({how})"
    return f"{criterion}: at least {fmt.number(criterion.threshold)} ({how})"


# --- A tier's criteria (the tier's page) ----------------------------------------------------


class CriterionForm(forms.ModelForm):
    # No Meta: the admin builds the form per request, inside the tenant's
    # scope, so choice querysets are never evaluated at import.

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        kind, certification = cleaned.get("kind"), cleaned.get("certification")
        threshold = cleaned.get("threshold")
        if kind == Kind.CERTIFIED and certification is None and "certification" not in self.errors:
            self.add_error("certification", "Choose the certification the people must hold.")
        if kind and kind != Kind.CERTIFIED and certification is not None:
            self.add_error(
                "certification",
                "Only “People holding a certification” names a certification: clear it.",
            )
        if threshold is not None and threshold < 0:
            self.add_error("threshold", "The threshold cannot be negative.")
        if kind == Kind.HEALTH and threshold is not None and threshold > 100:
            self.add_error("threshold", "A health score runs from 0 to 100.")
        return cleaned


class CriteriaFormSet(BaseInlineFormSet):
    """A tier's criteria: each kind once (each certification once), and at
    least as many counted criteria as the tier asks to meet."""

    def validate_unique(self) -> None:
        """Each criterion once: checked in ``clean``, with a message for
        people (Django's names the fields)."""

    def clean(self) -> None:
        super().clean()
        kept = [
            f
            for f in self.forms
            if f.has_changed() or f.instance.pk
            if f.is_valid() and not f.cleaned_data.get("DELETE")
        ]
        seen: dict[tuple[Any, Any], forms.Form] = {}
        for form in kept:
            key = (form.cleaned_data.get("kind"), form.cleaned_data.get("certification"))
            if key in seen:
                form.add_error(
                    "kind" if key[1] is None else "certification",
                    "This criterion is listed already: a tier asks for each figure once.",
                )
            seen[key] = form
        counted = sum(not f.cleaned_data.get("required") for f in kept)
        minimum = self.instance.counted_minimum or 0
        if minimum > counted:
            raise ValidationError(
                f"The tier asks to meet {plural(minimum, 'counted criterion', 'counted criteria')}"
                f" but has {counted} not marked required: lower “counted criteria to meet” or "
                "untick “required” on more criteria."
            )


def without_related_links(formfield: Any) -> Any:
    """A choice without the admin's add/change/delete/view links beside it
    (tiers and certifications are kept on their own pages)."""
    widget = getattr(formfield, "widget", None)
    if isinstance(widget, RelatedFieldWidgetWrapper):
        widget.can_add_related = widget.can_change_related = False
        widget.can_delete_related = widget.can_view_related = False
    return formfield


class DraftOnlyInline(TenantTabularInline):
    """Editable only while the parent's version is a draft."""

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        return without_related_links(super().formfield_for_dbfield(db_field, request, **kwargs))

    def _version(self, obj: Any) -> Any:
        return obj.version if isinstance(obj, TierTarget) else obj

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_draft(self._version(obj)) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_draft(self._version(obj)) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_draft(self._version(obj)) and super().has_delete_permission(request, obj)


class CriterionInline(DraftOnlyInline):
    model = TierCriterion
    form = CriterionForm
    formset = CriteriaFormSet
    fields = ["kind", "certification", "threshold", "required"]
    verbose_name = "criterion"
    verbose_name_plural = "criteria"

    def _allowed(self, request: HttpRequest, action: str, obj: Any = None) -> bool:
        # The criteria go with their tier's target: the same permissions.
        perm = f"program.{action}_tiertarget"
        membership = self._membership(request)
        return membership is not None and membership.has_perm(perm, obj)


class TargetDraftAdmin(TenantModelAdmin):
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        draft = obj is None or is_draft(obj.version)
        return draft and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        draft = obj is None or is_draft(obj.version)
        return draft and super().has_delete_permission(request, obj)


@admin.register(TierTarget, site=tenant_admin_site)
class TierTargetAdmin(TargetDraftAdmin):
    """One tier of a criteria version and its criteria. Reached from the
    version's page (not listed on the admin's index)."""

    list_display = ["tier", "version_link", "counted_minimum", "criteria_count"]
    list_filter = ["version__status"]
    list_select_related = ["tier", "version"]
    ordering = ["-version__number", "tier__rank"]
    fields = ["version_link", "tier", "counted_minimum"]
    readonly_fields = ["version_link", "tier"]
    inlines = [CriterionInline]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a tier is added to a version on the version's page

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(n_criteria=Count("criteria"))

    @admin.display(description="version", ordering="version__number")
    def version_link(self, obj: TierTarget) -> str:
        return format_html('<a href="{}">{}</a>', admin_url(obj.version), obj.version)

    @admin.display(description="criteria", ordering="n_criteria")
    def criteria_count(self, obj: Any) -> int:
        return int(obj.n_criteria)

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        return super().render_change_form(
            request, {**context, "show_save_and_add_another": False}, *args, **kwargs
        )

    def response_change(self, request: HttpRequest, obj: TierTarget) -> HttpResponse:
        if "_continue" in request.POST:
            return super().response_change(request, obj)
        messages.success(request, f"The criteria of {obj.tier} were saved.")
        return HttpResponseRedirect(admin_url(obj.version))

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: Any) -> HttpResponse:
        messages.success(request, f"{obj_display} was removed from the draft.")
        return redirect(VERSIONS)


# --- A version's page: its tiers ------------------------------------------------------------


class TargetForm(forms.ModelForm):
    # No Meta: built per request by the inline (see CriterionForm).

    def clean_counted_minimum(self) -> int:
        minimum: int = self.cleaned_data["counted_minimum"]
        counted = 0
        if self.instance.pk:
            counted = self.instance.criteria.filter(required=False).count()
        if minimum > counted:
            raise ValidationError(
                f"This tier has {plural(counted, 'criterion', 'criteria')} not marked required: "
                "it cannot ask to meet more. Add counted criteria on the tier's page first."
            )
        return minimum


class TargetInline(DraftOnlyInline):
    model = TierTarget
    form = TargetForm
    fields = ["tier", "counted_minimum", "criteria_list", "edit"]
    readonly_fields = ["criteria_list", "edit"]
    verbose_name = "tier"
    verbose_name_plural = "tiers (a tier not listed is by invitation, except the lowest)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .select_related("tier")
            .prefetch_related("criteria__certification")
            .order_by("tier__rank")
        )

    @admin.display(description="criteria")
    def criteria_list(self, obj: TierTarget) -> str:
        if not obj.pk:
            return "-"
        found = [(describe(c),) for c in obj.criteria.all()]
        if not found:
            return format_html("{}", chip("none yet: every partner would qualify", "error"))
        return format_html_join("", "<div>{}</div>", found)

    @admin.display(description="")
    def edit(self, obj: TierTarget) -> str:
        if not obj.pk:
            return "Save first, then add its criteria."
        label = "Edit criteria" if is_draft(obj.version) else "Open"
        return format_html('<a class="button" href="{}">{}</a>', admin_url(obj), label)


class NewDraftForm(forms.ModelForm):
    """The add page: start a draft (a note only; the rest is copied)."""

    class Meta:
        model = CriteriaVersion
        fields = ["note"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        existing = criteria.draft_of(self.instance.tenant)
        if existing is not None:
            self.add_error(
                None,
                f"Draft v{existing.number} is open already: edit it, or discard it before "
                "starting another.",
            )
        return cleaned


@admin.register(CriteriaVersion, site=tenant_admin_site)
class CriteriaVersionAdmin(ActionFormsMixin, TenantModelAdmin):
    list_display = ["version", "status_chip", "published", "published_by", "note_short"]
    list_display_links = ["version"]
    list_filter = ["status"]
    list_select_related = ["published_by"]
    search_fields = ["note"]
    fields = ["note", "status_chip", "created", "published"]
    readonly_fields = ["status_chip", "created", "published"]
    inlines = [TargetInline]
    change_form_template = "admin/program/criteriaversion/change_form.html"
    change_list_template = "admin/program/criteriaversion/change_list.html"
    action_forms = {"publish": forms.Form, "discard": forms.Form}
    action_errors = ProgramError

    class Media:
        css = {"all": ["admin/dealreg.css", "admin/program_criteria.css"]}

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return (obj is None or is_draft(obj)) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a draft is discarded on its page; published ones are the record

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return [] if obj is None else list(self.inlines)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        if obj is None:
            kwargs["form"] = NewDraftForm
            kwargs["fields"] = ["note"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["note"] if obj is None else self.fields

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        # One draft at a time: there is never another to add.
        return super().render_change_form(
            request, {**context, "show_save_and_add_another": False}, *args, **kwargs
        )

    @admin.display(description="version", ordering="number")
    def version(self, obj: CriteriaVersion) -> str:
        return f"v{obj.number}"

    @admin.display(description="status", ordering="status")
    def status_chip(self, obj: CriteriaVersion) -> str:
        return chip(obj.get_status_display(), obj.status)

    @admin.display(description="published", ordering="published_at")
    def published(self, obj: CriteriaVersion) -> str:
        return fmt.moment(obj.published_at) if obj.published_at else "-"

    @admin.display(description="started")
    def created(self, obj: CriteriaVersion) -> str:
        who = f" by {obj.created_by}" if obj.created_by_id else ""
        return f"{fmt.moment(obj.created_at)}{who}"

    @admin.display(description="note")
    def note_short(self, obj: CriteriaVersion) -> str:
        return obj.note if len(obj.note) <= 80 else obj.note[:79] + "…"

    # Starting a draft

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        draft = criteria.new_draft(
            tenant_of(request), by=as_member(request).user, note=form.cleaned_data["note"]
        )
        for name in ("id", "tenant_id", "number", "status", "created_by_id", "created_at"):
            setattr(obj, name, getattr(draft, name))
        obj._state.adding = False

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().add_view(request, form_url, extra_context)
        except ProgramError as refused:  # another draft started in between
            messages.error(request, str(refused))
            return redirect(VERSIONS)

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: str | None = None
    ) -> HttpResponse:
        source = "empty: no criteria are published yet"
        if TierTarget.objects.filter(version=obj).exists():
            source = "a copy of the published criteria"
        messages.success(
            request,
            f"Draft v{obj.number} started, {source}. Add or change each tier's criteria, "
            "simulate it, then publish it.",
        )
        return HttpResponseRedirect(admin_url(obj))

    # Publish and discard (forms posting ``_action`` to the draft's page)

    def action_allowed(self, request: HttpRequest, action: str, obj: Any) -> bool:
        return is_draft(obj) and super().has_change_permission(request, obj)

    def action_confirmation(
        self, request: HttpRequest, action: str, obj: Any, form: Any
    ) -> Confirmation:
        live = CriteriaVersion.objects.filter(status=Status.PUBLISHED).first()
        if action == "publish":
            consequences = [
                f"v{obj.number} becomes the published criteria: evaluations use it from now on.",
                f"v{live.number} is retired (kept, read-only)."
                if live
                else "No criteria were published before.",
                "Nobody moves now: partners move at the next evaluation, under the review "
                "policy (grace periods included).",
            ]
            return Confirmation(
                title=f"Publish tier criteria v{obj.number}?",
                object_label=str(obj),
                consequences=consequences,
                action_label="Publish",
                cancel_url=request.path,
                danger=False,
            )
        return Confirmation(
            title=f"Discard draft v{obj.number}?",
            object_label=str(obj),
            consequences=[
                "The draft and every tier's criteria in it are deleted.",
                "The published criteria stay as they are.",
            ],
            action_label="Discard the draft",
            cancel_url=request.path,
        )

    def run_action(self, request: HttpRequest, action: str, obj: Any, form: Any) -> str:
        user = as_member(request).user
        if action == "publish":
            criteria.publish(obj, by=user)
            return f"Tier criteria v{obj.number} are published: the next evaluation uses them."
        criteria.discard(obj, by=user)
        return f"Draft v{obj.number} was discarded."

    def action_done_url(self, request: HttpRequest) -> str:
        if request.POST.get(ACTION_FIELD) == "discard":
            return reverse(VERSIONS)
        return request.path

    def action_page_context(
        self, request: HttpRequest, obj: Any, bound: dict[str, forms.Form]
    ) -> dict[str, Any]:
        membership = as_member(request).membership
        return {
            "version": obj,
            "forms": self.action_page_forms(request, obj, bound),
            "can_simulate": is_draft(obj) and membership.has_perm(SIMULATE_PERM),
            "problems": criteria.problems(obj) if is_draft(obj) else [],
        }

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        membership = as_member(request).membership
        draft = criteria.draft_of(tenant_of(request))
        context = {
            **(extra_context or {}),
            "draft": draft,
            "can_simulate": draft is not None and membership.has_perm(SIMULATE_PERM),
        }
        return super().changelist_view(request, context)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "simulate/",
                wrap(partial(admin_simulation.simulate_view, self)),
                name="program_criteriaversion_simulate",
            ),
            *super().get_urls(),
        ]

"""Tier holds in the tenant admin: ops hold a partner in a tier with a
reason until an end date (``holds.hold``: the partner moves to the tier at
once; evaluations leave it there) and release a hold early
(``holds.release``), from the hold's page or the list; every staff role
reads them. A hold is never edited or deleted: it is the record."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms.models import construct_instance
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from prm import format as fmt
from prm.tenancy.admin_base import ActionFormsMixin, ServiceFormsAdmin, admin_url, tenant_admin_site
from prm.tenancy.chips import chip
from prm.tenancy.requests import as_member
from prm.tenancy.text import plural

from . import holds
from .admin_criteria import without_related_links
from .errors import ProgramError
from .models import TierHold

CHANGE_PERM = "program.change_tierhold"


class _Refused(Exception):
    """The service refused a hold form that had validated."""

    def __init__(self, error: ProgramError) -> None:
        super().__init__(str(error))
        self.error = error


class HoldForm(forms.ModelForm):
    """Partner, tier, reason and end date; the rules are the service's
    (``holds.hold``), its refusal shown on the field it names."""

    # No Meta: the admin builds the form per request, inside the tenant's
    # scope, so choice querysets are never evaluated at import.
    FIELDS = ["partner", "tier", "reason", "ends_on"]
    refusal: ProgramError | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ends_on = self.fields["ends_on"]
        ends_on.label = "Held through"
        ends_on.widget = forms.DateInput(attrs={"type": "date"})

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        if self.refusal is not None:
            name = self.refusal.field if self.refusal.field in self.fields else None
            self.add_error(name, str(self.refusal))
        return cleaned

    def _post_clean(self) -> None:
        # The service checks the hold (one open hold per partner, the end
        # date) with messages for people; the model's constraints would
        # only name themselves.
        opts = self._meta
        self.instance = construct_instance(self, self.instance, opts.fields, opts.exclude)


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open"), ("ended", "Ended")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        today = as_member(request).membership.tenant.local_today()
        if self.value() == "open":
            return queryset.filter(released_on__isnull=True, ends_on__gte=today)
        if self.value() == "ended":
            return queryset.exclude(released_on__isnull=True, ends_on__gte=today)
        return queryset


def is_open(row: TierHold) -> bool:
    return row.released_on is None


@admin.register(TierHold, site=tenant_admin_site)
class TierHoldAdmin(ActionFormsMixin, ServiceFormsAdmin):
    # Part of the partner: deleting the partner deletes these with it.
    deleted_with_partner = True
    list_display = ["partner", "tier", "state", "starts", "ends", "reason", "created_by"]
    list_filter = [StateFilter, "tier"]
    list_select_related = ["partner", "tier", "created_by"]
    search_fields = ["partner__name", "reason"]
    ordering = ["-starts_on", "-created_at"]
    fieldsets = [
        (None, {"fields": ["partner", "tier", "state", "reason"]}),
        ("Dates", {"fields": ["starts", "ends", "released"]}),
        ("Record", {"fields": ["created_by", "created_at"]}),
    ]
    actions = ["release_selected"]
    change_form_template = "admin/program/tierhold/change_form.html"
    action_forms = {"release": forms.Form}
    action_errors = ProgramError

    class Media:
        css = {"all": ["admin/dealreg.css", "admin/program_criteria.css"]}

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, "add")

    # The add page: holds.hold

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return [(None, {"fields": HoldForm.FIELDS})]
        return self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if obj is None else super().get_readonly_fields(request, obj)

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        return without_related_links(super().formfield_for_dbfield(db_field, request, **kwargs))

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        if obj is None:
            kwargs["form"] = HoldForm
        form_class = super().get_form(request, obj, change=change, **kwargs)
        refusal = getattr(request, "_hold_refusal", None)
        if refusal is None:
            return form_class
        return type(form_class.__name__, (form_class,), {"refusal": refusal})

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        try:
            row = holds.hold(
                data["partner"],
                data["tier"],
                reason=data["reason"],
                ends_on=data["ends_on"],
                by=as_member(request).user,
            )
        except ProgramError as exc:
            raise _Refused(exc) from exc
        obj.pk, obj.tenant_id, obj.starts_on = row.pk, row.tenant_id, row.starts_on
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # nothing related: the service saved everything

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().add_view(request, form_url, extra_context)
        except _Refused as refused:
            # Rolled back; the form again, with the service's reason.
            request._hold_refusal = refused.error  # type: ignore[attr-defined]  # for get_form
            return super().add_view(request, form_url, extra_context)

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: str | None = None
    ) -> HttpResponse:
        messages.success(
            request, f"{obj.partner} is held in {obj.tier} through {fmt.day(obj.ends_on)}."
        )
        return HttpResponseRedirect(admin_url(obj))

    # Columns

    @admin.display(description="state")
    def state(self, obj: TierHold) -> str:
        today = obj.tenant.local_today()
        if obj.released_on is not None:
            return chip("released", "closed")
        if obj.ends_on < today:
            return chip("ended", "closed")
        return chip("open", "hold")

    @admin.display(description="from", ordering="starts_on")
    def starts(self, obj: TierHold) -> str:
        return fmt.day(obj.starts_on)

    @admin.display(description="through", ordering="ends_on")
    def ends(self, obj: TierHold) -> str:
        return fmt.day(obj.ends_on)

    @admin.display(description="released")
    def released(self, obj: TierHold) -> str:
        if obj.released_on is None:
            return "-"
        who = f" by {obj.released_by}" if obj.released_by_id else ""
        return f"{fmt.day(obj.released_on)}{who}"

    # Release: the hold's page and the list

    def action_allowed(self, request: HttpRequest, action: str, obj: Any) -> bool:
        return is_open(obj) and as_member(request).membership.has_perm(CHANGE_PERM)

    def run_action(self, request: HttpRequest, action: str, obj: Any, form: Any) -> str:
        holds.release(obj, by=as_member(request).user)
        return (
            f"The hold of {obj.partner} in {obj.tier} is released: the next evaluation "
            "decides its tier."
        )

    def action_page_context(
        self, request: HttpRequest, obj: Any, bound: dict[str, forms.Form]
    ) -> dict[str, Any]:
        return {"hold": obj, "forms": self.action_page_forms(request, obj, bound)}

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        if not as_member(request).membership.has_perm(CHANGE_PERM):
            actions.pop("release_selected", None)
        return actions

    @admin.action(description="Release the selected holds")
    def release_selected(self, request: HttpRequest, queryset: QuerySet[TierHold]) -> None:
        released = 0
        for row in queryset.filter(released_on__isnull=True):
            holds.release(row, by=as_member(request).user)
            released += 1
        skipped = queryset.count() - released
        message = f"Released {plural(released, 'hold')}."
        if skipped:
            message += f" {plural(skipped, 'hold')} had ended already."
        messages.success(request, message)

"""API keys in the tenant admin, for ops: every key of the program (staff
and partner keys), a new staff key acting as any active staff member
(``keys.create_key``, its refusal on the field it names), its token shown
once on the page after, renaming, and revoking (``keys.revoke_key``, asked
first) from the key's page or the list. Partner keys are made by partner
admins on the portal; a key is never deleted (it stays listed, revoked)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from prm import format as fmt
from prm.tenancy import confirm
from prm.tenancy.admin_base import (
    ActionFormsMixin,
    TenantModelAdmin,
    audit_form_changes,
    tenant_admin_site,
)
from prm.tenancy.chips import chip
from prm.tenancy.requests import as_member, tenant_of
from prm.tenancy.services import AlreadyDone
from prm.tenancy.text import plural

from . import keys, reveal
from .forms import StaffKeyForm
from .models import ApiKey

CHANGE_PERM = "api.change_apikey"


class _Refused(Exception):
    """create_key refused a form that had validated (rolled back, shown on the form)."""

    def __init__(self, error: keys.ApiKeyError) -> None:
        super().__init__(str(error))
        self.error = error


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(keys.STATE_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        live = Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        member_on = Q(membership__is_active=True, membership__user__is_active=True)
        chosen = {
            "active": live & member_on,
            "inactive": live & ~member_on,
            "expired": Q(revoked_at__isnull=True, expires_at__lte=now),
            "revoked": Q(revoked_at__isnull=False),
        }.get(self.value() or "")
        return queryset if chosen is None else queryset.filter(chosen)


@admin.register(ApiKey, site=tenant_admin_site)
class ApiKeyAdmin(ActionFormsMixin, TenantModelAdmin):
    list_display = [
        "name",
        "prefix_shown",
        "acts_as",
        "role",
        "scopes_shown",
        "expires",
        "last_used",
        "state",
        "created_by",
    ]
    list_filter = [StateFilter, ("membership__role", admin.ChoicesFieldListFilter)]
    list_select_related = ["membership__user", "membership__partner", "created_by"]
    search_fields = [
        "name",
        "prefix",
        "membership__user__email",
        "membership__user__full_name",
        "membership__partner__name",
    ]
    ordering = ["-created_at"]
    actions = ["revoke_selected"]
    change_form_template = "admin/api/apikey/change_form.html"
    action_forms = {"revoke": forms.Form}
    action_errors = keys.ApiKeyError
    # The key's page: only the name changes there.
    CHANGE_FIELDS = [
        "name",
        "prefix_shown",
        "acts_as",
        "role",
        "scopes_shown",
        "expires",
        "last_used",
        "state",
        "created",
        "revoked",
    ]

    class Media:
        css = {"all": ["css/api_keys.css"]}
        js = [forms.Script("js/api_keys.js", defer=True)]

    # --- The add page: keys.create_key, then the token once -----------------------

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        return StaffKeyForm.FIELDS if obj is None else self.CHANGE_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if obj is None else self.CHANGE_FIELDS[1:]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)
        kwargs["form"] = StaffKeyForm
        form_class = super().get_form(request, obj, change=change, **kwargs)
        bound = {
            "tenant": tenant_of(request),
            "member": as_member(request).membership,
            "refusal": getattr(request, "_key_refusal", None),
        }
        return type(form_class.__name__, (form_class,), bound)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            if form.changed_data:
                audit_form_changes(request, obj, form, "api.key_renamed")
            return
        try:
            key, token = keys.create_key(
                tenant=tenant_of(request),
                membership=form.cleaned_data["membership"],
                by=as_member(request).user,
                **form.key_input(),
            )
        except AlreadyDone as done:
            # The same form again: the first answer kept the token to show.
            key = ApiKey.objects.get(pk=done.object_id)
        except keys.ApiKeyError as exc:
            raise _Refused(exc) from exc
        else:
            reveal.keep(request, key, token)
        obj.pk, obj.tenant_id, obj.name, obj.prefix = key.pk, key.tenant_id, key.name, key.prefix
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # nothing related: create_key saved everything

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Saving shows the token: no "save and add another" or "continue editing".
        extra_context = {
            **(extra_context or {}),
            "show_save_and_add_another": False,
            "show_save_and_continue": False,
        }
        try:
            return super().add_view(request, form_url, extra_context)
        except _Refused as refused:
            # Rolled back; the form again, with create_key's reason.
            request._key_refusal = refused.error  # type: ignore[attr-defined]  # for get_form
            return super().add_view(request, form_url, extra_context)

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: str | None = None
    ) -> HttpResponse:
        return HttpResponseRedirect(reverse("tenant_admin:api_apikey_created"))

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("created/", wrap(self.created_view), name="api_apikey_created"),
            *super().get_urls(),
        ]

    def created_view(self, request: HttpRequest) -> HttpResponse:
        """The new key's token, this once (never cached: ``admin_view``);
        afterwards, that it is not shown again."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        shown = reveal.take(request, self.get_queryset(request))
        key, token = shown if shown is not None else (None, "")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "The new API key" if key is not None else "No new API key to show",
            "key": key,
            "token": token,
            "scopes": keys.scope_labels(key.scopes) if key is not None else [],
            "media": self.media,
        }
        return TemplateResponse(request, "admin/api/apikey/created.html", context)

    # --- The key's page: rename, revoke ----------------------------------------------

    def action_allowed(self, request: HttpRequest, action: str, obj: Any) -> bool:
        return obj.revoked_at is None and as_member(request).membership.has_perm(CHANGE_PERM)

    def action_confirmation(
        self, request: HttpRequest, action: str, obj: Any, form: Any
    ) -> confirm.Confirmation:
        return confirm.Confirmation(
            title=f"Revoke the key “{obj.name}”?",
            object_label=f"{obj.name} · {obj.display_prefix}… · acts as {obj.membership.user}",
            consequences=[
                "Every request made with this key is refused from now on (401), whatever "
                "still uses it.",
                f"It was last used: {self.last_used(obj).lower()}.",
                "A revoked key cannot be turned back on: to give access again, create a new key.",
            ],
            action_label="Revoke the key",
            cancel_url=request.path,
        )

    def run_action(self, request: HttpRequest, action: str, obj: Any, form: Any) -> str:
        keys.revoke_key(obj, by=as_member(request).user)
        return f"The key “{obj.name}” is revoked: it no longer works."

    def action_page_context(
        self, request: HttpRequest, obj: Any, bound: dict[str, forms.Form]
    ) -> dict[str, Any]:
        return {"key": obj, "forms": self.action_page_forms(request, obj, bound)}

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        if not as_member(request).membership.has_perm(CHANGE_PERM):
            actions.pop("revoke_selected", None)
        return actions

    @admin.action(description="Revoke the selected keys")
    def revoke_selected(
        self, request: HttpRequest, queryset: QuerySet[ApiKey]
    ) -> HttpResponse | None:
        chosen = list(queryset.filter(revoked_at__isnull=True).select_related("membership__user"))
        if not chosen:
            messages.info(request, "Every key selected is revoked already.")
            return None
        names = ", ".join(f"{k.name} ({k.display_prefix}…)" for k in chosen[:10])
        names += "…" if len(chosen) > 10 else ""
        page = confirm.ask_for_admin_action(
            self,
            request,
            confirm.Confirmation(
                title=f"Revoke {plural(len(chosen), 'key')}?",
                object_label=names,
                consequences=[
                    f"Every request made with {'this key' if len(chosen) == 1 else 'these keys'} "
                    "is refused from now on (401), whatever still uses them.",
                    "A revoked key cannot be turned back on: to give access again, "
                    "create a new key.",
                ],
                action_label="Revoke",
                cancel_url=request.get_full_path(),
            ),
        )
        if page is not None:
            return page
        revoked = 0
        for key in chosen:
            try:
                keys.revoke_key(key, by=as_member(request).user)
                revoked += 1
            except keys.ApiKeyError as exc:
                messages.error(request, f"{key.name}: {exc}")
        if revoked:
            messages.success(request, f"Revoked {plural(revoked, 'key')}.")
        return None

    # --- Columns -----------------------------------------------------------------------

    @admin.display(description="key", ordering="prefix")
    def prefix_shown(self, obj: ApiKey) -> str:
        return format_html("<code>{}…</code>", obj.display_prefix)

    @admin.display(description="acts as", ordering="membership__user__email")
    def acts_as(self, obj: ApiKey) -> str:
        return str(obj.membership.user)

    @admin.display(description="role", ordering="membership__role")
    def role(self, obj: ApiKey) -> str:
        membership = obj.membership
        partner = f" · {membership.partner}" if membership.partner_id else ""
        return f"{membership.get_role_display()}{partner}"

    @admin.display(description="scopes")
    def scopes_shown(self, obj: ApiKey) -> str:
        return ", ".join(label.capitalize() for label in keys.scope_labels(obj.scopes)) or "—"

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, obj: ApiKey) -> str:
        return fmt.moment(obj.expires_at) if obj.expires_at else "Never"

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, obj: ApiKey) -> str:
        return fmt.moment(obj.last_used_at) if obj.last_used_at else "Never"

    @admin.display(description="state")
    def state(self, obj: ApiKey) -> str:
        state = keys.state_of(obj)
        return chip(keys.STATE_LABELS[state], state)

    @admin.display(description="created")
    def created(self, obj: ApiKey) -> str:
        by = f" by {obj.created_by}" if obj.created_by_id else ""
        return f"{fmt.moment(obj.created_at)}{by}"

    @admin.display(description="revoked")
    def revoked(self, obj: ApiKey) -> str:
        if obj.revoked_at is None:
            return "—"
        by = f" by {obj.revoked_by}" if obj.revoked_by_id else ""
        return f"{fmt.moment(obj.revoked_at)}{by}"

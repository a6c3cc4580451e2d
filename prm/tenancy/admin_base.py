"""The tenant-aware Django admin: one site and one ModelAdmin base that every
app's admin uses. Querysets, foreign-key and many-to-many choices, saved
objects, inlines, actions and history are all limited to ``request.tenant``;
permissions come from ``prm.tenancy.roles`` through the request's membership.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from functools import update_wrapper
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import BadRequest, PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.db.models.options import Options
from django.forms import BaseForm, Form, ModelChoiceField, ModelForm, ModelMultipleChoiceField
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import URLPattern, URLResolver, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from simple_history.admin import SimpleHistoryAdmin

from .admin_lists import LargeTablePaginator as LargeTablePaginator
from .admin_lists import TenantChangeList
from .admin_widgets import autocomplete_widget
from .confirm import Confirmation, admin_page, is_confirmed
from .errors import add_service_error
from .models import Membership, Tenant, TenantOwned, User
from .params import quoted
from .requests import tenant_of
from .services import audit

_ViewT = TypeVar("_ViewT", bound=Callable[..., HttpResponseBase])
_FormT = TypeVar("_FormT", bound=BaseForm)
_RequestT = TypeVar("_RequestT", bound=HttpRequest)

if TYPE_CHECKING:
    from django.contrib.admin.options import BaseModelAdmin, InlineModelAdmin

    # What the mixins below are mixed into, for the type checker only.
    _AdminBase = BaseModelAdmin[Any]
    _InlineBase = InlineModelAdmin[Any, Any]
    _ModelAdminBase = admin.ModelAdmin[Any]
else:
    _AdminBase = _InlineBase = _ModelAdminBase = object


class TenantAdminSite(admin.AdminSite):
    site_header = "Partner program administration"
    index_title = "Administration"
    index_template = "admin/tenant_index.html"
    enable_nav_sidebar = True

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        tenant = getattr(request, "tenant", None)
        if tenant is not None:
            context["site_header"] = f"{tenant.name} · partner program"
            context["site_title"] = tenant.name
        context["site_url"] = reverse("home")
        return context

    def has_permission(self, request: HttpRequest) -> bool:
        membership = getattr(request, "membership", None)
        return bool(
            getattr(request, "tenant", None) is not None
            and membership is not None
            and membership.has_perm("admin.access")
        )

    # Views that only send people on to allauth; anyone may follow them.
    OPEN_VIEWS = frozenset({"login", "logout", "password_change", "password_change_done"})

    def admin_view(self, view: _ViewT, cacheable: bool = False) -> _ViewT:
        inner = super().admin_view(view, cacheable)
        is_open = getattr(view, "__name__", "") in self.OPEN_VIEWS

        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not is_open and request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied
            return inner(request, *args, **kwargs)

        return cast(_ViewT, update_wrapper(wrapper, view))

    def get_urls(self) -> list[URLResolver | URLPattern]:
        urls = super().get_urls()
        # The content-type shortcut ("view on site") looks objects up through
        # the unscoped base manager; the portal links objects directly instead.
        return [u for u in urls if getattr(u, "name", None) != "view_on_site"]

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Staff log in through allauth like everyone else, so rate limits and
        two-factor authentication apply to the admin too."""
        target = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("tenant_admin:index")  # only ever a page of this host
        if request.user.is_authenticated:
            if self.has_permission(request):
                return redirect(target)
            raise PermissionDenied
        return redirect(f"{reverse('account_login')}?{urlencode({'next': target})}")

    def logout(  # type: ignore[override]  # a redirect, not the template
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponseRedirect:
        return redirect("account_logout")

    def password_change(  # type: ignore[override]  # a redirect, not the template
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponseRedirect:
        return redirect("account_change_password")

    def password_change_done(  # type: ignore[override]  # a redirect, not the template
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponseRedirect:
        return redirect("account_change_password")


tenant_admin_site = TenantAdminSite(name="tenant_admin")


def tenant_member_users(tenant: Tenant, roles: Iterable[str] | None = None) -> QuerySet[User]:
    """People with an active membership in ``tenant`` (optionally with one of
    ``roles``): the choices for any foreign key to a user."""
    memberships = Membership.objects.filter(tenant=tenant, is_active=True)
    if roles:
        memberships = memberships.filter(role__in=list(roles))
    return User.objects.filter(pk__in=memberships.values("user_id"), is_active=True)


class TenantAdminMixin(_AdminBase):
    """What a ModelAdmin and an inline share: permissions from roles, scoped
    querysets and choices."""

    # For foreign keys to User: field name -> roles whose members may be chosen.
    user_fk_roles: dict[str, tuple[str, ...]] = {}

    def _perm(self, action: str) -> str:
        return f"{self.opts.app_label}.{action}_{self.opts.model_name}"

    def _membership(self, request: HttpRequest) -> Membership | None:
        return getattr(request, "membership", None)

    def _allowed(self, request: HttpRequest, action: str, obj: Any = None) -> bool:
        membership = self._membership(request)
        return membership is not None and membership.has_perm(self._perm(action), obj)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, "view", obj) or self._allowed(request, "change", obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, "add", obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, "delete", obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return any(self._allowed(request, action) for action in ("view", "add", "change", "delete"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        if issubclass(self.model, TenantOwned):
            # The scope filters already; naming the tenant again makes the
            # intent explicit and survives a manager that forgets the scope.
            qs = qs.filter(tenant=tenant_of(request))
        return qs

    def _limit_choices(
        self, db_field: models.Field[Any, Any], request: HttpRequest, kwargs: dict[str, Any]
    ) -> None:
        related = db_field.related_model
        if related is User:
            roles = self.user_fk_roles.get(db_field.name)
            kwargs["queryset"] = tenant_member_users(tenant_of(request), roles)
        elif isinstance(related, type) and issubclass(related, TenantOwned):
            kwargs["queryset"] = related.objects.filter(tenant=tenant_of(request))
        else:
            raise PermissionDenied(f"{db_field.name} points outside the tenant")
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = autocomplete_widget(db_field, self.admin_site, kwargs.get("using"))

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        self._limit_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(
        self, db_field: models.ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField[Any] | None:
        self._limit_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


def tenant_form(form_class: type[_FormT], tenant: Tenant) -> type[_FormT]:
    """``form_class`` with the tenant set on new instances before validation,
    so unique constraints that include ``tenant`` are checked as form errors
    (Django skips constraints on fields a form does not show)."""

    class TenantForm(form_class):  # type: ignore[misc,valid-type]  # built on the admin's form
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if getattr(self.instance, "tenant_id", True) is None:
                self.instance.tenant = tenant

        def _get_validation_exclusions(self) -> set[str]:
            exclusions: set[str] = super()._get_validation_exclusions()
            exclusions.discard("tenant")
            return exclusions

    TenantForm.__name__ = form_class.__name__
    return TenantForm


class TenantInlineMixin(TenantAdminMixin, _InlineBase):
    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = tenant_form(formset.form, tenant_of(request))
        return formset


class TenantTabularInline(TenantInlineMixin, admin.TabularInline):  # type: ignore[type-arg]
    extra = 0


class TenantStackedInline(TenantInlineMixin, admin.StackedInline):  # type: ignore[type-arg]
    extra = 0


class TenantModelAdmin(TenantAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_per_page = 50
    show_full_result_count = False
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return TenantChangeList

    def action_checkbox(self, obj: models.Model) -> SafeString:
        """Django's markup for a row's selection box, written directly:
        Django renders it through the form widget templates, once per row,
        which took a fifth of a 50-row changelist's time."""
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            format_html(_("Select this object for an action - {}"), str(obj)),
        )

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[ModelForm[Any]]:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if issubclass(self.model, TenantOwned):
            form_class = tenant_form(form_class, tenant_of(request))
        return form_class

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        tenant = tenant_of(request)
        if issubclass(self.model, TenantOwned):
            if not change:
                obj.tenant = tenant
            elif obj.tenant_id != tenant.pk:
                raise PermissionDenied
        super().save_model(request, obj, form, change)

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        obj = super().get_object(request, object_id, from_field)
        tenant_pk = tenant_of(request).pk
        if obj is not None and getattr(obj, "tenant_id", tenant_pk) != tenant_pk:
            return None
        return obj

    def _require_object(self, request: HttpRequest, object_id: str) -> None:
        """404 before any permission check for ids outside the tenant, so
        another tenant's object and a missing one answer alike."""
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404("No such object.")

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        self._require_object(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._require_object(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._require_object(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def _get_obj_does_not_exist_redirect(
        self, request: HttpRequest, opts: Options[Any], object_id: str
    ) -> NoReturn:
        # Django redirects to the index with "perhaps it was deleted"; another
        # tenant's id must look exactly like one that never existed.
        raise Http404("No such object.")

    def get_actions(
        self, request: HttpRequest
    ) -> dict[str, tuple[Callable[..., str], str, str] | None]:
        actions = super().get_actions(request)
        # Deleting tenant data in bulk is for services with their own checks.
        actions.pop("delete_selected", None)
        return actions

    def message_refusal(self, request: HttpRequest, error: Exception) -> None:
        messages.error(request, str(error))


def form_changes(form: BaseForm) -> dict[str, str]:
    """The fields ``form`` changed, with their new values as text (for an
    audit entry)."""
    return {name: str(form.cleaned_data.get(name)) for name in form.changed_data}


def audit_form_changes(
    request: HttpRequest, obj: models.Model, form: BaseForm, action: str
) -> None:
    """An audit entry ``action`` for ``obj`` with the fields ``form`` changed."""
    user = request.user
    assert isinstance(user, User)  # the admin is for signed-in members
    audit(tenant_of(request), by=user, action=action, obj=obj, data=form_changes(form))


class ServiceFormsAdmin(TenantModelAdmin):
    """A model that changes only through its services, from the forms its
    change page offers (decisions, ticks, notes): the admin never saves it
    itself (no change, no delete) and shows every field of its fieldsets
    read-only. Whether it may be added here is each admin's own say."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return flatten_fieldsets(self.get_fieldsets(request, obj))


class SettingsRowAdmin(TenantModelAdmin):
    """A model with one row per tenant, made with the defaults the first time
    (``Model.for_tenant(tenant)``): the list opens the tenant's row, there is
    nothing to add or delete, and each save is audited as ``audit_action``."""

    audit_action: str = ""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        row = self.model.for_tenant(tenant_of(request))
        # The form posts back here (its action is the current address).
        return self.change_view(request, str(row.pk), extra_context=extra_context)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_form_changes(request, obj, form, self.audit_action)


class TenantHistoryAdmin(SimpleHistoryAdmin, TenantModelAdmin):
    """A TenantModelAdmin with django-simple-history's history pages, whose
    lookups go through the historical tables directly: both are pinned to the
    request's tenant here."""

    def get_history_queryset(
        self, request: HttpRequest, history_manager: Any, pk_name: str, object_id: str
    ) -> QuerySet[Any]:
        qs = super().get_history_queryset(request, history_manager, pk_name, object_id)
        return cast(QuerySet[Any], qs.filter(tenant_id=tenant_of(request).pk))

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._require_object(request, object_id)  # an id that is none: 404, not a query
        return super().history_view(request, object_id, extra_context)

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """A past version, read-only. simple-history would save a POSTed form
        as a revert after checking only *view* permission; reverting is off
        (SIMPLE_HISTORY_REVERT_DISABLED), so any write is refused here, after
        the same 404 a foreign or missing version gets."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None or not str(version_id).isdigit():
            raise Http404
        history = self.model.history.filter(tenant_id=tenant_of(request).pk, history_id=version_id)
        if not history.filter(**{self.opts.pk.attname: obj.pk}).exists():
            raise Http404
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        response: HttpResponse = super().history_form_view(
            request, object_id, version_id, extra_context
        )
        return response


ACTION_FIELD = "_action"


def as_get(request: _RequestT) -> _RequestT:
    """The same request as a GET: the admin renders the read-only page again
    (with a form's errors) instead of trying to save the model."""
    clone = copy.copy(request)
    clone.method = "GET"
    return clone


class ActionFormsMixin(_ModelAdminBase):
    """A read-only change page whose forms each post a named ``_action``
    back to the page, which runs the matching service (the object itself is
    never saved as a form). Goes before ``TenantModelAdmin`` in the bases.

    A subclass declares ``action_forms`` (action -> form class) and
    ``action_errors`` (the services' refusal exceptions), implements
    ``action_allowed``, ``run_action`` (returns the success message) and
    ``action_page_context`` (the page's template context, with the forms
    from ``action_page_forms``), and may override ``make_action_form`` (how a
    form is made), ``action_refused`` and ``action_done_url``.

    A destructive action's ``action_confirmation`` is asked on the admin's
    confirmation page first (the valid form's fields repeated, ``confirm=yes``).

    A POST answers: an unknown action 400, one the person may not run 403;
    an invalid form, or one the service refused (the error on the field it
    names, else above the form), renders the page again with its errors; a
    success shows the message and redirects back to the page.
    """

    action_forms: dict[str, type[Form]] = {}
    action_errors: type[Exception] | tuple[type[Exception], ...] = ()

    def action_allowed(self, request: HttpRequest, action: str, obj: Any) -> bool:
        raise NotImplementedError

    def make_action_form(
        self, request: HttpRequest, action: str, obj: Any, data: QueryDict | None = None
    ) -> Form:
        return self.action_forms[action](data, prefix=action)

    def run_action(self, request: HttpRequest, action: str, obj: Any, form: Any) -> str:
        raise NotImplementedError

    def action_page_context(
        self, request: HttpRequest, obj: Any, bound: dict[str, Form]
    ) -> dict[str, Any]:
        """The change page's context; ``bound`` holds the posted form that
        failed (by action), if any."""
        raise NotImplementedError

    def action_refused(
        self, request: HttpRequest, action: str, obj: Any, form: Any, error: Exception
    ) -> HttpResponse | None:
        """A service refused the action: shown on the form (a response
        returned here is sent instead of the page)."""
        add_service_error(form, error)
        return None

    def action_done_url(self, request: HttpRequest) -> str:
        return request.path

    def action_confirmation(
        self, request: HttpRequest, action: str, obj: Any, form: Any
    ) -> Confirmation | None:
        """What a destructive or irreversible action will do, asked on the
        admin's confirmation page before it runs (None: runs at once)."""
        return None

    def action_page_forms(
        self,
        request: HttpRequest,
        obj: Any,
        bound: dict[str, Form],
        offered: Iterable[str] | None = None,
    ) -> dict[str, Form]:
        """A fresh form for each ``offered`` action (all by default) the
        person may run, and every bound form, so that a refusal still shows
        when the object's state no longer offers its action."""
        offered = set(self.action_forms if offered is None else offered)
        forms: dict[str, Form] = {}
        for action in self.action_forms:
            if action in bound:
                forms[action] = bound[action]
            elif action in offered and self.action_allowed(request, action, obj):
                forms[action] = self.make_action_form(request, action, obj)
        return forms

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such object.")
        bound: dict[str, Form] = {}
        if request.method == "POST" and ACTION_FIELD in request.POST:
            action = request.POST[ACTION_FIELD]
            if action not in self.action_forms:
                raise BadRequest(f"{quoted(action)} is not an action of this page.")
            if not self.action_allowed(request, action, obj):
                raise PermissionDenied
            form = self.make_action_form(request, action, obj, data=request.POST)
            ask = form.is_valid() and self.action_confirmation(request, action, obj, form)
            if ask and not is_confirmed(request):
                return admin_page(request, ask, admin_site=self.admin_site, opts=self.opts, obj=obj)
            if form.is_valid():
                try:
                    message = self.run_action(request, action, obj, form)
                except self.action_errors as exc:
                    response = self.action_refused(request, action, obj, form, exc)
                    if response is not None:
                        return response
                else:
                    messages.success(request, message)
                    return redirect(self.action_done_url(request))
            bound[action] = form
            request = as_get(request)
        context = {**(extra_context or {}), **self.action_page_context(request, obj, bound)}
        return super().change_view(request, object_id, form_url, context)


def admin_url(obj: models.Model, view: str = "change") -> str:
    opts = obj._meta
    return reverse(f"tenant_admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])


__all__ = [
    "ACTION_FIELD",
    "ActionFormsMixin",
    "SettingsRowAdmin",
    "TenantAdminSite",
    "TenantHistoryAdmin",
    "TenantModelAdmin",
    "TenantStackedInline",
    "TenantTabularInline",
    "admin_url",
    "as_get",
    "audit_form_changes",
    "tenant_admin_site",
    "tenant_member_users",
]

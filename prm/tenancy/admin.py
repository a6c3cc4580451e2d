"""Admin registrations for people and access.

Two sites: ``tenant_admin_site`` on each tenant's host (vendor staff, scoped
to their tenant) and Django's default ``admin.site`` on the platform host
(superusers only, across tenants on purpose: creating tenants and domains).
"""

from typing import Any

from allauth.account.decorators import secure_admin_login
from allauth.usersessions.models import UserSession
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from . import confirm, outbox
from .admin_base import TenantModelAdmin, audit_form_changes, tenant_admin_site
from .chips import chip
from .models import AuditEntry, Invitation, Membership, OutboxMessage, Tenant, TenantDomain, User
from .requests import as_member, tenant_of
from .roles import PARTNER_ROLES
from .services import TenancyError, invite, set_membership_active
from .text import plural

# --- The tenant admin --------------------------------------------------------


@admin.register(Membership, site=tenant_admin_site)
class MembershipAdmin(TenantModelAdmin):
    list_display = ["user", "user_email", "role", "partner", "title", "is_active", "created_at"]
    list_filter = ["role", "is_active"]
    search_fields = ["user__email", "user__full_name", "partner__name"]
    list_select_related = ["user", "partner"]
    fields = ["user", "role", "partner", "title", "is_active", "created_at"]
    readonly_fields = ["user", "role", "partner", "is_active", "created_at"]
    actions = ["deactivate", "reactivate"]

    @admin.display(description="email", ordering="user__email")
    def user_email(self, obj: Membership) -> str:
        return obj.user.email

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # people join through invitations

    def _set_active(
        self, request: HttpRequest, queryset: QuerySet[Membership], active: bool
    ) -> None:
        done = 0
        for membership in queryset.select_related("user", "partner"):
            try:
                set_membership_active(membership, by=as_member(request).membership, active=active)
                done += 1
            except TenancyError as exc:
                messages.error(request, f"{membership.user}: {exc}")
        if done:
            verb = "Reactivated" if active else "Deactivated"
            messages.success(request, f"{verb} {plural(done, 'membership')}.")

    @admin.action(description="Deactivate selected people (they lose access)")
    def deactivate(
        self, request: HttpRequest, queryset: QuerySet[Membership]
    ) -> HttpResponse | None:
        chosen = list(queryset.filter(is_active=True).select_related("user", "partner"))
        if not chosen:
            messages.info(request, "Everybody selected is already deactivated.")
            return None
        names = ", ".join(str(m.user) for m in chosen[:10]) + ("…" if len(chosen) > 10 else "")
        tenant = tenant_of(request)
        invitations = Invitation.objects.filter(
            invited_by__in=[m.user_id for m in chosen],
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        ).count()
        consequences = [
            f"{plural(len(chosen), 'person', 'people')} can no longer sign in to {tenant.name} "
            f"({names}): they are signed out at their next request and stop receiving its "
            "notifications.",
        ]
        if invitations:
            consequences.append(
                f"{plural(invitations, 'open invitation')} they sent "
                f"{'is' if invitations == 1 else 'are'} revoked."
            )
        consequences.append("Nothing they did is deleted; you can reactivate them from this list.")
        page = confirm.ask_for_admin_action(
            self,
            request,
            confirm.Confirmation(
                title=f"Deactivate {plural(len(chosen), 'person', 'people')}?",
                object_label=names,
                consequences=consequences,
                action_label="Deactivate",
                cancel_url=request.get_full_path(),
            ),
        )
        if page is not None:
            return page
        self._set_active(request, queryset, False)
        return None

    @admin.action(description="Reactivate selected people")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        self._set_active(request, queryset, True)


class InvitationForm(forms.ModelForm):  # type: ignore[type-arg]
    # No Meta: built per request by the admin, inside the tenant's scope.

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        if cleaned.get("role") in PARTNER_ROLES and not cleaned.get("partner"):
            self.add_error("partner", "Partner roles must name the partner organisation.")
        return cleaned

    def _post_clean(self) -> None:
        pass  # the invite service validates and creates


@admin.register(Invitation, site=tenant_admin_site)
class InvitationAdmin(TenantModelAdmin):
    form = InvitationForm
    list_display = ["email", "role", "partner", "invited_by", "created_at", "expires_at", "state"]
    list_filter = ["role"]
    search_fields = ["email"]
    list_select_related = ["partner", "invited_by"]
    actions = ["revoke"]

    @admin.display(description="status")
    def state(self, obj: Invitation) -> str:
        status = obj.status()
        return chip(status.capitalize(), status)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        if obj is None:
            return ["email", "role", "partner"]
        return [
            "email",
            "role",
            "partner",
            "invited_by",
            "created_at",
            "expires_at",
            "accepted_at",
            "accepted_by",
            "revoked_at",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if obj is None else self.get_fields(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead; the record stays

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        try:
            invitation, _token = invite(
                tenant=tenant_of(request),
                by=as_member(request).membership,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                partner=form.cleaned_data.get("partner"),
            )
        except TenancyError as exc:
            raise PermissionDenied(str(exc)) from exc
        obj.pk = invitation.pk
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass

    @admin.action(description="Revoke selected open invitations")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> HttpResponse | None:
        from .services import revoke_invitation

        emails = [i.email for i in queryset if i.status() == "open"]
        if emails:
            listed = ", ".join(emails[:10]) + ("…" if len(emails) > 10 else "")
            page = confirm.ask_for_admin_action(
                self,
                request,
                confirm.Confirmation(
                    title=f"Revoke {plural(len(emails), 'invitation')}?",
                    object_label=listed,
                    consequences=[
                        f"The link in each invitation stops working at once ({listed}).",
                        "A revoked invitation cannot be reopened: to let them join, "
                        "invite them again.",
                    ],
                    action_label="Revoke",
                    cancel_url=request.get_full_path(),
                ),
            )
            if page is not None:
                return page
        for invitation in queryset:
            try:
                revoke_invitation(invitation, by=as_member(request).membership)
            except TenancyError as exc:
                messages.error(request, f"{invitation.email}: {exc}")
        return None


@admin.register(AuditEntry, site=tenant_admin_site)
class AuditEntryAdmin(TenantModelAdmin):
    list_display = ["created_at", "actor", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "object_id", "actor__email"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TenantSettings(Tenant):
    class Meta:
        proxy = True
        verbose_name = "program settings"
        verbose_name_plural = "program settings"


@admin.register(TenantSettings, site=tenant_admin_site)
class TenantSettingsAdmin(TenantModelAdmin):
    """Ops edit their own tenant's settings; the slug, domains and activation
    are the platform operator's."""

    fields = [
        "name",
        "timezone",
        "base_currency",
        "country",
        "fiscal_year_start",
        "require_staff_mfa",
        "support_email",
    ]

    def _perm(self, action: str) -> str:
        return f"tenancy.{action}_tenant"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return Tenant.objects.filter(pk=tenant_of(request).pk)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if obj.pk != tenant_of(request).pk:
            raise PermissionDenied
        obj.save(update_fields=self.fields)
        audit_form_changes(request, obj, form, "tenant.settings_changed")


# --- The platform admin (superusers, on the base domain) ----------------------


class TenantDomainInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TenantDomain
    extra = 0


@admin.register(Tenant)
class PlatformTenantAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "name",
        "slug",
        "timezone",
        "base_currency",
        "country",
        "fiscal_year_start",
        "is_active",
    ]
    search_fields = ["name", "slug"]
    list_filter = ["is_active"]
    inlines = [TenantDomainInline]


class PlatformMembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    fk_name = "user"
    extra = 0
    fields = ["tenant", "role", "partner", "is_active"]
    readonly_fields = ["tenant", "role", "partner"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class PlatformUserAdmin(DjangoUserAdmin):  # type: ignore[type-arg]
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_superuser", "date_joined"]
    list_filter = ["is_active", "is_superuser"]
    search_fields = ["email", "full_name"]
    inlines = [PlatformMembershipInline]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal", {"fields": ["full_name", "phone"]}),
        ("Access", {"fields": ["is_active", "is_superuser", "last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    readonly_fields = ["last_login", "date_joined"]
    filter_horizontal = []


class OutboxStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("pending", "Not done yet"),
            ("failing", "Failing (will be tried again)"),
            ("gave_up", "Given up"),
            ("done", "Done"),
        ]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        pending = queryset.filter(done_at__isnull=True, gave_up_at__isnull=True)
        return {
            "pending": pending,
            "failing": pending.exclude(last_error=""),
            "gave_up": queryset.filter(done_at__isnull=True, gave_up_at__isnull=False),
            "done": queryset.filter(done_at__isnull=False),
        }.get(self.value() or "", queryset)


@admin.register(OutboxMessage)
class PlatformOutboxAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Deferred work of every tenant (prm.tenancy.outbox), for whoever runs
    the installation: what waits, what fails and why, and a way to hand
    given-up work over again once its cause is fixed."""

    list_display = ["task", "tenant", "state", "attempts", "created_at", "due_at", "last_error"]
    list_filter = [OutboxStateFilter, "task"]
    list_select_related = ["tenant"]
    search_fields = ["task", "last_error"]
    ordering = ["-created_at"]
    actions = ["hand_over_again"]
    readonly_fields = [
        "tenant",
        "task",
        "kwargs",
        "created_at",
        "due_at",
        "sent_at",
        "attempts",
        "done_at",
        "gave_up_at",
        "last_error",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Hand the selected given-up work over again")
    def hand_over_again(self, request: HttpRequest, queryset: Any) -> None:
        count = outbox.retry_given_up(queryset.filter(gave_up_at__isnull=False))
        self.message_user(
            request, f"{plural(count, 'deferred task')} will be handed over within seconds."
        )


# Django's default site serves the platform host: superusers only, logging in
# through allauth (rate limits, two-factor) like everyone else.
admin.site.site_header = "PRM platform administration"
admin.site.site_title = "PRM platform"
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
# Permissions come from memberships and roles, not Django groups.
admin.site.unregister(Group)


# allauth.usersessions' own admin searches the user's primary key (a UUID
# here) and a username the user model does not have: any search answered 500.
# Superusers search sessions by the person's email instead.
admin.site.unregister(UserSession)


@admin.register(UserSession)
class PlatformUserSessionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "created_at", "last_seen_at", "ip", "user_agent"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    search_fields = ["user__email"]
    ordering = ["-created_at"]

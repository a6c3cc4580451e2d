"""Deal registration in the tenant admin.

Channel managers and ops decide registrations here: a changelist with the
SLA state in colour and the conflict count, bulk approve/reject, and a
change page that shows the conflicts, the extension requests and the
timeline, with the decision forms. The registration itself is never saved
as a form: the page is read-only and its forms post a named ``_action``
back to it, which runs the matching ``dealreg.services`` operation (the
same checks, events, audit and notifications as everywhere else).

Ops configure product lines, routing rules, the policy (one settings row per
tenant, opened directly), closure days, per-tier protection, custom fields
and the vendor's direct pipeline (with a CSV import).
"""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from partners.models import Partner
from prm.tenancy.admin_base import (
    ActionFormsMixin,
    LargeTablePaginator,
    SettingsRowAdmin,
    TenantModelAdmin,
    tenant_admin_site,
)
from prm.tenancy.models import AuditEntry

from . import admin_forms, direct_import, services
from .conflicts import conflicts_of
from .forms import OutcomeForm
from .models import (
    ClosureDay,
    Conflict,
    CustomField,
    DealRegistration,
    DealRegSettings,
    DirectOpportunity,
    ExtensionRequest,
    ProductLine,
    RoutingRule,
    TierProtection,
)
from .routing import APPROVER_ROLES

Status = DealRegistration.Status
# How long a checked import file waits for its confirmation.
IMPORT_PREVIEW_SECONDS = 60 * 60
# Bulk decisions are for a page of routine registrations, not the backlog.
MAX_BULK = 100
# Regions, tiers, product lines and approvers are short lists: tick boxes.
CHECKBOXES = {
    **TenantModelAdmin.formfield_overrides,
    models.ManyToManyField: {"widget": forms.CheckboxSelectMultiple},
}


# --- The SLA clock, once per request ---------------------------------------------

SLA_LABELS = {
    "on_track": "on track",
    "due_soon": "due soon",
    "breached": "overdue",
    "paused": "paused",
}


@dataclass(frozen=True)
class SlaClock:
    """``services.sla_state`` for many rows at once: the tenant's calendar is
    read once, and "under a quarter of the SLA left" becomes a moment
    (``soon_before``) that a due time can be compared with in SQL."""

    now: datetime
    soon_before: datetime

    @classmethod
    def for_request(cls, request) -> "SlaClock":
        clock = getattr(request, "_dealreg_sla_clock", None)
        if clock is None:
            settings_row = DealRegSettings.for_tenant(request.tenant)
            settings_row.tenant = request.tenant
            now = timezone.now()
            quarter = timedelta(hours=settings_row.sla_business_hours) / 4
            # between(now, due) <= quarter  <=>  due < add(now, quarter + 1µs)
            soon = settings_row.calendar().add(now, quarter + timedelta(microseconds=1))
            clock = request._dealreg_sla_clock = cls(now=now, soon_before=soon)
        return clock

    @staticmethod
    def paused() -> Q:
        return Q(status=Status.MORE_INFO, sla_paused_at__isnull=False, sla_due_at__isnull=False)

    def running(self) -> Q:
        return Q(status__in=DealRegistration.PENDING, sla_due_at__isnull=False) & ~self.paused()

    def condition(self, state: str) -> Q:
        return {
            "paused": self.paused(),
            "breached": self.running() & Q(sla_due_at__lte=self.now),
            "due_soon": self.running()
            & Q(sla_due_at__gt=self.now, sla_due_at__lt=self.soon_before),
            "on_track": self.running() & Q(sla_due_at__gte=self.soon_before),
        }[state]

    def annotation(self) -> Case:
        return Case(
            *(When(self.condition(state), then=Value(state)) for state in SLA_LABELS),
            default=Value(""),
            output_field=CharField(),
        )


def conflict_count():
    """Stored conflicts of a registration, both sides, each counterpart once
    (a pair checked from both ends is stored twice)."""
    own = (
        Conflict.objects.filter(registration=OuterRef("pk"))
        .order_by()
        .values("registration")
        .annotate(n=Count("pk"))
        .values("n")
    )
    mirrored = Conflict.objects.filter(
        registration_id=OuterRef("other_registration_id"),
        other_registration_id=OuterRef("registration_id"),
    )
    theirs = (
        Conflict.objects.filter(other_registration=OuterRef("pk"))
        .exclude(Exists(mirrored))
        .order_by()
        .values("other_registration")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(own, output_field=IntegerField()), 0) + Coalesce(
        Subquery(theirs, output_field=IntegerField()), 0
    )


def conflict_rows(registration: DealRegistration) -> list[dict]:
    """``conflicts_of`` with each counterpart once, first-to-file order kept;
    of a pair stored from both ends, this registration's own row is shown."""
    rows = conflicts_of(registration)
    own = {
        row["other"].pk
        for row in rows
        if row["other"] is not None and row["conflict"].registration_id == registration.pk
    }
    shown, seen = [], set()
    for row in rows:
        other = row["other"]
        if other is not None:
            if other.pk in seen:
                continue
            if row["conflict"].registration_id != registration.pk and other.pk in own:
                continue
            seen.add(other.pk)
        shown.append(row)
    return shown


# --- Registration list filters ------------------------------------------------------


class StatusFilter(admin.SimpleListFilter):
    """The statuses the admin lists (drafts stay the partner's own)."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [(value, label) for value, label in Status.choices if value != Status.DRAFT]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(status=self.value())
        return queryset


class SlaStateFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [(state, label.capitalize()) for state, label in SLA_LABELS.items()]

    def queryset(self, request, queryset):
        if self.value() in SLA_LABELS:
            return queryset.filter(SlaClock.for_request(request).condition(self.value()))
        return queryset


class AssignedFilter(admin.SimpleListFilter):
    title = "assigned"
    parameter_name = "assigned"

    def lookups(self, request, model_admin):
        return [
            ("me", "Assigned to me"),
            ("my_partners", "My partners"),
            ("nobody", "No approver"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(approver=request.user)
        if self.value() == "my_partners":
            return queryset.filter(partner__channel_manager=request.user)
        if self.value() == "nobody":
            return queryset.filter(approver__isnull=True)
        return queryset


class PartnerFilter(admin.SimpleListFilter):
    """One partner's registrations. Lists the partners the person manages (a
    list of every partner is no use at thousands of partners, and computing
    which partners have registrations costs a scan of them all); any partner
    can be chosen by link (?partner=<id>, as the partner's page does)."""

    title = "partner"
    parameter_name = "partner"

    def _selected(self):
        try:
            return uuid.UUID(str(self.value())) if self.value() else None
        except ValueError:
            return None

    def lookups(self, request, model_admin):
        partners = (
            Partner.objects.filter(channel_manager=request.user)
            .order_by("name")
            .values_list("pk", "name")[:100]
        )
        choices = [(str(pk), name) for pk, name in partners]
        selected = self._selected()
        if selected and str(selected) not in dict(choices):
            chosen = Partner.objects.filter(pk=selected).first()
            if chosen is not None:
                choices.insert(0, (str(chosen.pk), chosen.name))
        return choices

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        selected = self._selected()
        return queryset.filter(partner_id=selected) if selected else queryset.none()


class ExtensionFilter(admin.SimpleListFilter):
    title = "extension"
    parameter_name = "extension"

    def lookups(self, request, model_admin):
        return [("pending", "Extension requested")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            pending = ExtensionRequest.objects.filter(
                registration=OuterRef("pk"), status=ExtensionRequest.Status.PENDING
            )
            return queryset.filter(Exists(pending))
        return queryset


# --- Registrations ---------------------------------------------------------------------


def _hours(duration: timedelta) -> str:
    minutes = int(duration.total_seconds()) // 60
    return f"{minutes // 60} h {minutes % 60:02d} min"


@admin.register(DealRegistration, site=tenant_admin_site)
class DealRegistrationAdmin(ActionFormsMixin, TenantModelAdmin):
    list_display = [
        "registration",
        "partner",
        "status_badge",
        "sla_due",
        "conflicts",
        "approver",
        "value",
    ]
    list_display_links = ["registration"]
    list_filter = [
        StatusFilter,
        SlaStateFilter,
        AssignedFilter,
        PartnerFilter,
        "conflict_state",
        ExtensionFilter,
    ]
    search_fields = ["code", "customer_name", "customer_domain", "partner__name"]
    list_select_related = ["partner", "approver"]
    ordering = ["-created_at"]
    paginator = LargeTablePaginator
    actions = ["approve_selected", "reject_selected"]
    object_history_template = "admin/dealreg/dealregistration/object_history.html"
    fieldsets = [
        (
            "Customer",
            {
                "fields": [
                    "customer_name",
                    "customer_domain",
                    "customer_country",
                    "customer_region",
                    "customer_contact_name",
                    "customer_contact_email",
                    "customer_contact_phone",
                ]
            },
        ),
        (
            "Deal",
            {
                "fields": [
                    "partner",
                    "submitted_by",
                    "product_lines",
                    "estimated_value",
                    "currency",
                    "expected_close_date",
                    "description",
                    "custom_answers",
                ]
            },
        ),
        (
            "Decision",
            {
                "fields": [
                    "status",
                    "approver",
                    "submitted_at",
                    "sla_due_at",
                    "decided_at",
                    "decided_by",
                    "decision_reason",
                    "sla_met",
                    "protected_until",
                    "extension_count",
                ]
            },
        ),
        (
            "Outcome",
            {
                "classes": ["collapse"],
                "fields": ["won_amount", "won_currency", "won_close_date", "lost_reason"],
            },
        ),
    ]

    class Media:
        css = {"all": ["admin/dealreg.css"]}

    # The registration changes only through the services (the page's forms).
    def has_change_permission(self, request, obj=None):
        return False

    def has_decide_permission(self, request):
        return request.membership.has_perm("dealreg.decide_dealregistration")

    def get_readonly_fields(self, request, obj=None):
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    def get_queryset(self, request):
        # A draft is the partner's own until it is submitted.
        return (
            super()
            .get_queryset(request)
            .exclude(status=Status.DRAFT)
            .annotate(
                conflict_total=conflict_count(),
                sla_state=SlaClock.for_request(request).annotation(),
            )
        )

    # Columns

    @admin.display(description="registration", ordering="customer_name")
    def registration(self, obj):
        return format_html('<strong class="dr-code">{}</strong><br>{}', obj.code, obj.customer_name)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return format_html(
            '<span class="dr-status dr-status-{}">{}</span>', obj.status, obj.get_status_display()
        )

    @admin.display(description="decision due", ordering="sla_due_at")
    def sla_due(self, obj):
        if obj.sla_state:
            due = date_format(timezone.localtime(obj.sla_due_at), "D j M H:i")
            return format_html(
                '<span class="dr-sla dr-sla-{}">{}</span> <span class="dr-due">{}</span>',
                obj.sla_state,
                SLA_LABELS[obj.sla_state],
                due,
            )
        if obj.sla_met is not None:
            met = "met" if obj.sla_met else "missed"
            return format_html('<span class="dr-sla-done dr-sla-{}">SLA {}</span>', met, met)
        return None

    @admin.display(description="conflicts", ordering="conflict_total")
    def conflicts(self, obj):
        if not obj.conflict_total:
            return format_html('<span class="dr-muted">{}</span>', 0)
        return format_html('<span class="dr-conflict-count">{}</span>', obj.conflict_total)

    @admin.display(description="value", ordering="estimated_value")
    def value(self, obj):
        return f"{obj.estimated_value:,} {obj.currency}"

    @admin.display(description="custom questions")
    def custom_answers(self, obj):
        labels = dict(CustomField.objects.values_list("key", "label"))
        answers = [(labels.get(k, k), v) for k, v in (obj.custom_data or {}).items()]
        if not answers:
            return self.get_empty_value_display()
        return format_html(
            '<dl class="dr-answers">{}</dl>',
            format_html_join("", "<dt>{}</dt><dd>{}</dd>", answers),
        )

    # Bulk decisions

    @admin.action(permissions=["decide"], description="Approve selected registrations")
    def approve_selected(self, request, queryset):
        return self._bulk_decide(request, queryset, "approve")

    @admin.action(permissions=["decide"], description="Reject selected registrations")
    def reject_selected(self, request, queryset):
        return self._bulk_decide(request, queryset, "reject")

    def _bulk_decide(self, request, queryset, decision: str):
        """An intermediate page asks for the reason; its confirmation posts
        back to the changelist (which is wrapped by admin_view) and each
        registration then goes through the service on its own: one that may
        not be decided here (not yours, no longer pending, or conflicting with
        an approved registration, which needs an override reason given on its
        own page) is reported and left as it is."""
        membership = request.membership
        registrations = list(
            queryset.select_related("partner", "approver").order_by("submitted_at", "created_at")[
                : MAX_BULK + 1
            ]
        )
        if len(registrations) > MAX_BULK:
            messages.error(request, f"Decide at most {MAX_BULK} registrations at a time.")
            return None
        form = admin_forms.BulkDecisionForm(decision=decision)
        if "confirm" in request.POST:
            form = admin_forms.BulkDecisionForm(request.POST, decision=decision)
            if form.is_valid():
                self._run_bulk(request, registrations, decision, form.cleaned_data["reason"])
                return None
        rows = [
            {
                "registration": r,
                "decidable": r.is_pending and services.can_decide(membership, r),
            }
            for r in registrations
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{decision.capitalize()} {len(rows)} registration(s)",
            "decision": decision,
            "action_name": f"{decision}_selected",
            "rows": rows,
            "decidable_count": sum(1 for r in rows if r["decidable"]),
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/dealreg/dealregistration/bulk_decide.html", context)

    def _run_bulk(self, request, registrations, decision: str, reason: str) -> None:
        membership = request.membership
        done = []
        for registration in registrations:
            if not registration.is_pending:
                messages.warning(
                    request,
                    f"{registration.code} is {registration.get_status_display().lower()}; "
                    "left as it is.",
                )
                continue
            if not services.can_decide(membership, registration):
                messages.error(request, f"{registration.code}: you may not decide it.")
                continue
            try:
                if decision == "approve":
                    services.approve(registration, by=membership, reason=reason)
                else:
                    services.reject(registration, by=membership, reason=reason)
            except services.DealRegError as exc:
                if exc.field == "override_reason":
                    message = (
                        "it conflicts with an approved registration; approve it on its own "
                        "page with an override reason."
                    )
                else:
                    message = str(exc)
                messages.error(request, f"{registration.code}: {message}")
                continue
            done.append(registration.code)
        if done:
            verb = "Approved" if decision == "approve" else "Rejected"
            messages.success(request, f"{verb} {len(done)} registration(s): {', '.join(done)}.")

    # The change page: read-only, with the decision forms

    action_forms = {
        "approve": admin_forms.ApproveForm,
        "reject": admin_forms.RejectForm,
        "request_info": admin_forms.RequestInfoForm,
        "message": admin_forms.MessageForm,
        "reassign": admin_forms.ReassignForm,
        "extension": admin_forms.ExtensionDecisionForm,
        "outcome": OutcomeForm,
        "correct": admin_forms.CorrectOutcomeForm,
        "reverse": admin_forms.ReverseWinForm,
    }

    action_errors = services.DealRegError

    def action_allowed(self, request, action: str, registration: DealRegistration) -> bool:
        membership = request.membership
        if action == "reassign":
            return membership.has_perm("dealreg.reassign_dealregistration")
        if action == "extension" and not membership.has_perm("dealreg.decide_extensionrequest"):
            return False
        # Deciding, asking for information and writing to the partner are
        # for the person who may decide the registration.
        return services.can_decide(membership, registration)

    def make_action_form(self, request, action: str, registration, data=None):
        kwargs = {"prefix": action, "data": data}
        if action == "reassign":
            kwargs.update(tenant=request.tenant, current=registration.approver)
        if action == "outcome":
            kwargs.update(registration=registration)
        form = self.action_forms[action](**kwargs)
        if action == "correct" and data is None:
            form.initial = {
                "amount": registration.won_amount,
                "close_date": registration.won_close_date,
            }
        return form

    def run_action(self, request, action: str, registration, form) -> str:
        by, data, code = request.membership, form.cleaned_data, registration.code
        if action == "approve":
            done = services.approve(
                registration, by=by, reason=data["reason"], override_reason=data["override_reason"]
            )
            return f"{code} approved: protected until {done.protected_until:%d %b %Y}."
        if action == "reject":
            services.reject(registration, by=by, reason=data["reason"])
            return f"{code} rejected."
        if action == "request_info":
            services.request_info(registration, by=by, message=data["message"])
            return f"{code} sent back to the partner for more information; the SLA is paused."
        if action == "message":
            services.add_message(registration, by=by, text=data["text"])
            return "Message sent to the partner."
        if action == "reassign":
            services.reassign(registration, by=by, approver=data["approver"], reason=data["reason"])
            return f"{code} reassigned to {data['approver']}."
        if action == "outcome":
            won = data["outcome"] == OutcomeForm.WON
            services.record_outcome(
                registration,
                by=by,
                won=won,
                amount=data["amount"],
                close_date=data["close_date"],
                reason=data["reason"],
            )
            return f"{code} recorded as {'won' if won else 'lost'}."
        if action == "correct":
            services.correct_outcome(
                registration,
                by=by,
                amount=data["amount"],
                close_date=data["close_date"],
                reason=data["reason"],
            )
            return f"{code}: won amount corrected; incentives will be adjusted."
        if action == "reverse":
            services.reverse_win(registration, by=by, reason=data["reason"])
            return f"{code}: win reversed; incentives accrued on it will be clawed back."
        extension = ExtensionRequest.objects.filter(
            registration=registration, pk=data["extension"]
        ).first()
        if extension is None:
            raise Http404("No such extension request.")
        approve = data["decision"] == "approve"
        done = services.decide_extension(extension, by=by, approve=approve, reason=data["reason"])
        if approve:
            return f"Extension approved: {code} is protected until {done.new_until:%d %b %Y}."
        return "Extension refused."

    def action_page_context(self, request, registration, bound: dict) -> dict:
        rows = conflict_rows(registration)
        pending_extension = next(
            (
                e
                for e in registration.extension_requests.all()
                if e.status == ExtensionRequest.Status.PENDING
            ),
            None,
        )
        context = {
            "registration": registration,
            "conflict_rows": rows,
            "needs_override": any(
                row["other"] is not None and row["other"].status == Status.APPROVED for row in rows
            ),
            "events": registration.events.select_related("actor").order_by("created_at"),
            "extensions": registration.extension_requests.select_related(
                "requested_by", "decided_by"
            ),
            "pending_extension": pending_extension,
            "sla_label": SLA_LABELS.get(registration.sla_state, ""),
            "time_left": _hours(services.business_time_left(registration))
            if registration.is_pending
            else "",
        }
        # No forms for what the registration's state no longer allows, unless
        # they carry the service's refusal to show.
        unavailable = set()
        if not registration.is_pending:
            unavailable |= {"approve", "reject", "request_info", "reassign"}
        if registration.status != Status.SUBMITTED:
            unavailable.add("request_info")
        if registration.status != Status.APPROVED:
            unavailable.add("outcome")
        if registration.status != Status.WON:
            unavailable |= {"correct", "reverse"}
        if pending_extension is None:
            unavailable.add("extension")
        offered = [action for action in self.action_forms if action not in unavailable]
        forms = self.action_page_forms(request, registration, bound, offered)
        if "extension" in forms and not forms["extension"].is_bound:
            forms["extension"].initial["extension"] = pending_extension.pk
        context["forms"] = forms
        return context

    def history_view(self, request, object_id, extra_context=None):
        registration = self.get_object(request, unquote(object_id))
        if registration is None:
            raise Http404("No such object.")
        context = {
            **(extra_context or {}),
            "events": registration.events.select_related("actor").order_by("created_at"),
            "audit_entries": AuditEntry.objects.filter(
                object_type=DealRegistration._meta.label_lower, object_id=str(registration.pk)
            ).select_related("actor"),
        }
        return super().history_view(request, object_id, context)


# --- Configuration ------------------------------------------------------------------


@admin.register(ProductLine, site=tenant_admin_site)
class ProductLineAdmin(TenantModelAdmin):
    list_display = ["name", "code", "is_active", "registration_count"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}
    fields = ["name", "code", "description", "is_active"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(registration_total=Count("registrations"))

    @admin.display(description="registrations", ordering="registration_total")
    def registration_count(self, obj):
        return obj.registration_total

    def get_deleted_objects(self, objs, request):
        """A product line in use is deactivated, not deleted: deleting it
        would silently drop it from registrations and pipeline deals, and
        would widen a routing rule limited to it to every product."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        objs = list(objs)
        uses = [
            (
                f"Deal registration {r.code} ({r.customer_name})"
                for r in _using(DealRegistration, objs)
            ),
            (f"Routing rule {r.name}" for r in _using(RoutingRule, objs)),
            (f"Direct opportunity {o}" for o in _using(DirectOpportunity, objs)),
        ]
        protected = list(protected) + [text for use in uses for text in use]
        return deleted, counts, perms_needed, protected


def _using(model, product_lines, limit: int = 20):
    return model.objects.filter(product_lines__in=product_lines).distinct()[:limit]


@admin.register(RoutingRule, site=tenant_admin_site)
class RoutingRuleAdmin(TenantModelAdmin):
    form = admin_forms.RoutingRuleForm
    list_display = ["priority", "name", "is_active", "conditions", "assigns_to"]
    list_display_links = ["name"]
    list_editable = ["priority", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    ordering = ["priority", "name"]
    formfield_overrides = CHECKBOXES
    user_fk_roles = {"approver": APPROVER_ROLES, "pool": APPROVER_ROLES}
    readonly_fields = ["last_assigned"]
    fieldsets = [
        (None, {"fields": ["name", "priority", "is_active"]}),
        (
            "Conditions (all given ones must match; empty matches anything)",
            {
                "fields": [
                    "countries",
                    "regions",
                    "tiers",
                    "partner_types",
                    "product_lines",
                    "min_value",
                    "max_value",
                ]
            },
        ),
        ("Who decides", {"fields": ["approver", "pool", "last_assigned"]}),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("approver")
            .prefetch_related("regions", "tiers", "product_lines", "pool")
        )

    @admin.display(description="conditions")
    def conditions(self, obj):
        parts = []
        if obj.countries:
            parts.append("countries " + ", ".join(c.code for c in obj.countries))
        for label, related in (
            ("regions", obj.regions.all()),
            ("tiers", obj.tiers.all()),
            ("products", obj.product_lines.all()),
        ):
            names = [str(r) for r in related]
            if names:
                parts.append(f"{label} {', '.join(names)}")
        if obj.partner_types:
            parts.append("types " + ", ".join(obj.partner_types))
        if obj.min_value is not None:
            parts.append(f"value ≥ {obj.min_value:,}")
        if obj.max_value is not None:
            parts.append(f"value ≤ {obj.max_value:,}")
        return "; ".join(parts) or "anything"

    @admin.display(description="assigns to")
    def assigns_to(self, obj):
        if obj.approver:
            return str(obj.approver)
        pool = [str(u) for u in obj.pool.all()]
        return f"round-robin: {', '.join(pool)}" if pool else None


@admin.register(DealRegSettings, site=tenant_admin_site)
class DealRegSettingsAdmin(SettingsRowAdmin):
    form = admin_forms.DealRegSettingsForm
    audit_action = "dealreg.settings_changed"
    fieldsets = [
        (
            "Decision SLA",
            {
                "fields": [
                    "sla_business_hours",
                    "workdays",
                    "day_start",
                    "day_end",
                    "reminder_percents",
                    "escalate_on_breach",
                    "auto_approve_on_breach",
                ]
            },
        ),
        (
            "Protection",
            {
                "fields": [
                    "protection_days",
                    "expiry_warning_days",
                    "max_extensions",
                    "extension_days",
                ]
            },
        ),
        ("Conflicts", {"fields": ["name_similarity_threshold"]}),
    ]


@admin.register(ClosureDay, site=tenant_admin_site)
class ClosureDayAdmin(TenantModelAdmin):
    list_display = ["day", "name"]
    search_fields = ["name"]
    date_hierarchy = "day"
    fields = ["day", "name"]


@admin.register(TierProtection, site=tenant_admin_site)
class TierProtectionAdmin(TenantModelAdmin):
    list_display = ["tier", "protection_days"]
    list_select_related = ["tier"]
    ordering = ["-tier__rank"]
    fields = ["tier", "protection_days"]


@admin.register(CustomField, site=tenant_admin_site)
class CustomFieldAdmin(TenantModelAdmin):
    form = admin_forms.CustomFieldForm
    list_display = ["label", "key", "field_type", "required", "position", "is_active"]
    list_filter = ["field_type", "is_active"]
    ordering = ["position", "label"]
    fields = [
        "label",
        "key",
        "field_type",
        "choices",
        "required",
        "help_text",
        "position",
        "is_active",
    ]

    def get_readonly_fields(self, request, obj=None):
        # Answers are stored under the key: renaming it would orphan them.
        used = DealRegistration.objects.filter(custom_data__has_key=obj.key) if obj else None
        if used is not None and used.exists():
            return ["key"]
        return []


@admin.register(DirectOpportunity, site=tenant_admin_site)
class DirectOpportunityAdmin(TenantModelAdmin):
    form = admin_forms.DirectOpportunityForm
    change_list_template = "admin/dealreg/directopportunity/change_list.html"
    list_display = [
        "customer_name",
        "external_id",
        "customer_domain",
        "stage",
        "amount_display",
        "owner_name",
        "close_date",
        "imported_at",
    ]
    list_filter = ["stage", "product_lines"]
    search_fields = ["customer_name", "external_id", "customer_domain", "owner_name", "owner_email"]
    formfield_overrides = CHECKBOXES
    readonly_fields = ["customer_name_normalized", "imported_at"]
    fieldsets = [
        (
            "Customer",
            {
                "fields": [
                    "external_id",
                    "customer_name",
                    "customer_name_normalized",
                    "customer_domain",
                    "customer_country",
                ]
            },
        ),
        (
            "Opportunity",
            {
                "fields": [
                    "product_lines",
                    "owner_name",
                    "owner_email",
                    "stage",
                    "amount",
                    "currency",
                    "close_date",
                    "imported_at",
                ]
            },
        ),
    ]

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return f"{obj.amount:,} {obj.currency}" if obj.amount is not None else None

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="dealreg_directopportunity_import"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_import": request.membership.has_perm("dealreg.import_directopportunity"),
        }
        return super().changelist_view(request, extra_context)

    def import_view(self, request):
        """Upload a CRM export, see a dry run with each row's problems and
        whether it is new or an update, then import all rows or none."""
        if not request.membership.has_perm("dealreg.import_directopportunity"):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import direct opportunities from CSV",
            "columns": direct_import.CSV_COLUMNS,
            "changelist_url": reverse("tenant_admin:dealreg_directopportunity_changelist"),
            "base_currency": request.tenant.base_currency,
        }
        form = admin_forms.DirectImportForm()
        if request.method == "POST" and "confirm" in request.POST:
            # The checked file waits on the server under a one-use token,
            # bound to this tenant and person.
            key = self._preview_key(request, request.POST.get("token", ""))
            text = cache.get(key)
            if text is None:
                messages.error(request, "The preview has expired; upload the file again.")
                return redirect("tenant_admin:dealreg_directopportunity_import")
            cache.delete(key)
            result = direct_import.import_direct_opportunities(
                tenant=request.tenant, by=request.user, text=text
            )
            if result.ok:
                messages.success(
                    request,
                    f"Imported {result.created} new and updated {result.updated} "
                    "direct opportunities.",
                )
                return redirect("tenant_admin:dealreg_directopportunity_changelist")
            messages.error(request, "Nothing was imported: the file no longer validates.")
            context["result"] = result
        elif request.method == "POST":
            form = admin_forms.DirectImportForm(request.POST, request.FILES)
            if form.is_valid():
                text = form.cleaned_data["file"]
                result = direct_import.parse_direct_csv(request.tenant, text)
                context["result"] = result
                if result.ok:
                    token = secrets.token_urlsafe(24)
                    cache.set(self._preview_key(request, token), text, IMPORT_PREVIEW_SECONDS)
                    context["token"] = token
        context["form"] = form
        return TemplateResponse(request, "admin/dealreg/directopportunity/import.html", context)

    @staticmethod
    def _preview_key(request, token: str) -> str:
        return f"dealreg:direct-import:{request.tenant.pk}:{request.user.pk}:{token}"

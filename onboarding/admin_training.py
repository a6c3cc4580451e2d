"""Training and certifications in the tenant admin.

Courses and certifications (ops keep the catalogue; every staff role reads
it): searchable lists, a certification with its courses (the tenant's only),
its validity and the functions it is for.

Training records: the list every staff role reads (person, partner, what,
when, until when, status, source) with filters for the status, the kind,
what expires within 60 days or has expired, and the partner, in a constant
number of queries. A record's page is read-only: recorded data are never
edited (a wrong record is deleted by ops). On a reported record waiting for
confirmation, ops and channel managers confirm it or reject it with a
reason (``training.confirm`` / ``training.reject``) after opening the
certificate the person uploaded (``?certificate=1`` on the page serves it
as an attachment, to staff of the tenant only). Staff record a course or
certification by hand on the add page (``training.record``), and ops import
a learning system's CSV export (``training_import``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, QuerySet
from django.forms import Form
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from partners.admin_filters import PartnerFilter
from prm import format as fmt
from prm.tenancy.admin_base import (
    ActionFormsMixin,
    ServiceFormsAdmin,
    TenantModelAdmin,
    admin_url,
    audit_form_changes,
    tenant_admin_site,
)
from prm.tenancy.chips import chip
from prm.tenancy.csv_import import CsvImporter, CsvImportMixin
from prm.tenancy.drill import MetricRowsFilter
from prm.tenancy.errors import add_service_error
from prm.tenancy.files import serve
from prm.tenancy.models import Membership
from prm.tenancy.requests import as_member, tenant_of
from prm.tenancy.roles import PARTNER_ROLES
from prm.tenancy.services import audit
from prm.tenancy.text import plural

from . import training, training_import
from .errors import OnboardingError
from .models import Certification, Course, Function, TrainingRecord

Status = TrainingRecord.Status
CHANGE_PERM = training.CONFIRM_PERM
IMPORT_PERM = "onboarding.import_trainingrecord"
RECORDS = "tenant_admin:onboarding_trainingrecord_changelist"
EXPIRY_DAYS = 60


class AuditedAdmin(TenantModelAdmin):
    """The catalogue's admins: every save is audited with what changed."""

    audit_name = ""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        action = "changed" if change else "added"
        audit_form_changes(request, obj, form, f"onboarding.{self.audit_name}_{action}")


@admin.register(Course, site=tenant_admin_site)
class CourseAdmin(AuditedAdmin):
    audit_name = "course"
    list_display = ["code", "title", "hours", "link", "certification_count", "is_active"]
    list_display_links = ["code", "title"]
    list_filter = ["is_active"]
    search_fields = ["code", "title"]
    fields = ["code", "title", "description", "url", "hours", "is_active"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        counted = Count("certifications", distinct=True)
        return super().get_queryset(request).annotate(cert_count=counted)

    @admin.display(description="link")
    def link(self, obj: Course) -> str:
        if not obj.url:
            return "-"
        return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', obj.url, obj.url)

    @admin.display(description="in certifications", ordering="cert_count")
    def certification_count(self, obj: Any) -> int:
        return int(obj.cert_count)


class CertificationForm(forms.ModelForm):
    """The functions as boxes to tick (the array field's default is a text box)."""

    functions = forms.TypedMultipleChoiceField(
        choices=Function.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Who it is for (none ticked: anyone at a partner).",
    )

    class Meta:
        # The admin names the rest (built in the request's tenant scope).
        model = Certification
        fields = ["functions"]


@admin.register(Certification, site=tenant_admin_site)
class CertificationAdmin(AuditedAdmin):
    audit_name = "certification"
    form = CertificationForm
    fields = [
        "code",
        "name",
        "description",
        "courses",
        "exam",
        "validity_years",
        "functions",
        "is_active",
    ]
    list_display = ["code", "name", "validity", "functions_list", "course_count", "is_active"]
    list_display_links = ["code", "name"]
    list_filter = ["validity_years", "is_active"]
    search_fields = ["code", "name", "exam"]
    formfield_overrides = {
        **TenantModelAdmin.formfield_overrides,
        # Boxes work on a phone; the choices are the tenant's courses only.
        models.ManyToManyField: {"widget": forms.CheckboxSelectMultiple},
    }

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(n_courses=Count("courses", distinct=True))

    @admin.display(description="valid for", ordering="validity_years")
    def validity(self, obj: Certification) -> str:
        return obj.get_validity_years_display()

    @admin.display(description="for")
    def functions_list(self, obj: Certification) -> str:
        labels = dict(Function.choices)
        return ", ".join(str(labels.get(f, f)) for f in obj.functions) or "anyone"

    @admin.display(description="courses", ordering="n_courses")
    def course_count(self, obj: Any) -> int:
        return int(obj.n_courses)


# --- Training records -----------------------------------------------------------------------


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("course", "Courses"), ("certification", "Certifications")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "course":
            return queryset.filter(course__isnull=False)
        if self.value() == "certification":
            return queryset.filter(certification__isnull=False)
        return queryset


class ExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("soon", f"Expiring within {EXPIRY_DAYS} days"), ("expired", "Expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        today = tenant_of(request).local_today()
        if self.value() == "soon":
            return queryset.filter(
                status=Status.CONFIRMED,
                expires_on__gt=today,
                expires_on__lte=today + timedelta(days=EXPIRY_DAYS),
            )
        if self.value() == "expired":
            return queryset.filter(status=Status.CONFIRMED, expires_on__lte=today)
        return queryset


def people() -> QuerySet[Membership]:
    """Who training is recorded for: the active people of the tenant's partners."""
    return (
        Membership.objects.filter(
            is_active=True, user__is_active=True, role__in=sorted(PARTNER_ROLES)
        )
        .filter(partner__isnull=False)
        .select_related("user", "partner")
        .order_by("user__email")
    )


class PersonField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.user.email} — {obj.partner.name}"


class RecordForm(forms.Form):
    """Staff record a course completed or a certification earned."""

    person = PersonField(queryset=Membership.objects.none(), empty_label="Choose the person")
    achievement = forms.ChoiceField(label="Course or certification")
    completed_on = forms.DateField(
        label="Completed or earned on", widget=forms.DateInput(attrs={"type": "date"})
    )
    score = forms.DecimalField(max_digits=5, decimal_places=1, min_value=0, required=False)
    certificate_id = forms.CharField(label="Certificate number", max_length=100, required=False)
    note = forms.CharField(max_length=300, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        person = self.fields["person"]
        assert isinstance(person, forms.ModelChoiceField)
        person.queryset = people()
        self.catalogue: dict[str, Course | Certification] = {
            **{f"course:{c.pk}": c for c in Course.objects.filter(is_active=True)},
            **{f"cert:{c.pk}": c for c in Certification.objects.filter(is_active=True)},
        }
        courses = [(k, str(v)) for k, v in self.catalogue.items() if k.startswith("course:")]
        certs = [(k, str(v)) for k, v in self.catalogue.items() if k.startswith("cert:")]
        achievement = self.fields["achievement"]
        assert isinstance(achievement, forms.ChoiceField)
        achievement.choices = [
            ("", "Choose a course or certification"),
            ("Certifications", certs),
            ("Courses", courses),
        ]

    def clean_achievement(self) -> Course | Certification:
        return self.catalogue[self.cleaned_data["achievement"]]


class ConfirmForm(forms.Form):
    pass


class RejectForm(forms.Form):
    reason = forms.CharField(
        label="Why it is not confirmed",
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="The person sees it and may report the training again.",
    )


class TrainingImporter(CsvImporter):
    noun = "training records"
    columns = training_import.CSV_COLUMNS
    required_columns = training_import.REQUIRED_COLUMNS
    template = "admin/onboarding/training_import.html"

    def allowed(self) -> bool:
        return self.membership.has_perm(IMPORT_PERM)

    def check(self, text: str) -> training_import.TrainingImportResult:
        return training_import.parse_training_csv(self.tenant, text)

    def apply(self, text: str) -> training_import.TrainingImportResult:
        return training_import.import_training(self.tenant, text, by=self.membership)

    def success_message(self, result: Any) -> str:
        return f"Imported {plural(result.created, 'training record')}, confirmed."


@admin.register(TrainingRecord, site=tenant_admin_site)
class TrainingRecordAdmin(CsvImportMixin, ActionFormsMixin, ServiceFormsAdmin):
    csv_importer = TrainingImporter
    list_display = [
        "person",
        "partner_name",
        "achievement_column",
        "completed",
        "expires",
        "status_chip",
        "source",
    ]
    list_display_links = ["person"]
    list_filter = [MetricRowsFilter, "status", KindFilter, ExpiryFilter, PartnerFilter, "source"]
    list_select_related = ["membership__user", "partner", "course", "certification"]
    search_fields = [
        "membership__user__email",
        "partner__name",
        "course__code",
        "certification__code",
        "certificate_id",
    ]
    ordering = ["-completed_on", "-recorded_at"]
    change_form_template = "admin/onboarding/training_change_form.html"
    change_list_template = "admin/onboarding/training_change_list.html"
    fieldsets = [
        (None, {"fields": ["person", "partner_name", "achievement_column"]}),
        ("Achievement", {"fields": ["completed_on", "expires_on", "score", "certificate_id"]}),
        (
            "Record",
            {
                "fields": [
                    "source",
                    "status",
                    "note",
                    "recorded_by",
                    "recorded_at",
                    "decided_by",
                    "decided_at",
                ]
            },
        ),
    ]
    action_forms = {"confirm": ConfirmForm, "reject": RejectForm}
    action_errors = OnboardingError

    class Media:
        css = {"all": ["admin/dealreg.css"]}

    # Recorded data are never edited here; ops delete a wrong record.
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, "delete", obj)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        audit(
            tenant_of(request),
            by=as_member(request).user,
            action="onboarding.training_deleted",
            obj=obj,
            data={
                "person": obj.membership.user.email,
                "achievement": str(obj.achievement),
                "completed_on": str(obj.completed_on),
            },
        )
        super().delete_model(request, obj)

    # Columns

    @admin.display(description="person", ordering="membership__user__email")
    def person(self, obj: TrainingRecord) -> str:
        return str(obj.membership.user.email)

    @admin.display(description="partner", ordering="partner__name")
    def partner_name(self, obj: TrainingRecord) -> str:
        return obj.partner.name

    @admin.display(description="course or certification")
    def achievement_column(self, obj: TrainingRecord) -> str:
        if obj.certification_id:
            return format_html('{} <span class="dr-muted">certification</span>', obj.certification)
        return format_html('{} <span class="dr-muted">course</span>', obj.course)

    @admin.display(description="completed", ordering="completed_on")
    def completed(self, obj: TrainingRecord) -> str:
        return fmt.day(obj.completed_on)

    @admin.display(description="expires", ordering="expires_on")
    def expires(self, obj: TrainingRecord) -> str:
        if obj.expires_on is None:
            return "-"
        return fmt.day(obj.expires_on)

    @admin.display(description="status", ordering="status")
    def status_chip(self, obj: TrainingRecord) -> str:
        tones = {"pending": "pending", "confirmed": "done", "rejected": "rejected"}
        return chip(obj.get_status_display(), tones.get(str(obj.status), str(obj.status)))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        may_import = as_member(request).membership.has_perm(IMPORT_PERM)
        context = {**(extra_context or {}), "title": "Training records", "may_import": may_import}
        return super().changelist_view(request, context)

    # Recording by hand: training.record

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = RecordForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            data = form.cleaned_data
            try:
                row = training.record(
                    person=data["person"],
                    achievement=data["achievement"],
                    completed_on=data["completed_on"],
                    by=as_member(request).membership,
                    score=data["score"],
                    certificate_id=data["certificate_id"],
                    note=data["note"],
                )
            except OnboardingError as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request, f"Recorded {row.achievement} for {row.membership.user.email}."
                )
                return redirect(admin_url(row))
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "opts": self.opts,
            "title": "Record training",
            "form": form,
            "changelist_url": reverse(RECORDS),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/onboarding/training_add.html", context)

    # A record's page: read-only, confirm or reject a reported one, its certificate

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "GET" and request.GET.get("certificate") == "1":
            return self.certificate(request, object_id)  # type: ignore[return-value]  # a file
        return super().change_view(request, object_id, form_url, extra_context)

    def certificate(self, request: HttpRequest, object_id: str) -> FileResponse:
        """The certificate the person uploaded, as an attachment under its
        name, typed as detected at upload; for staff who may see the record."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None or not obj.evidence:
            raise Http404("No such file.")
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        return serve(
            obj.evidence,
            filename=obj.evidence_name or "certificate",
            content_type=obj.evidence_type,
        )

    def action_allowed(self, request: HttpRequest, action: str, obj: TrainingRecord) -> bool:
        return as_member(request).membership.has_perm(CHANGE_PERM)

    def make_action_form(
        self, request: HttpRequest, action: str, obj: TrainingRecord, data: QueryDict | None = None
    ) -> Form:
        return self.action_forms[action](data, prefix=action)

    def run_action(self, request: HttpRequest, action: str, obj: TrainingRecord, form: Any) -> str:
        by = as_member(request).membership
        who, what = obj.membership.user.email, obj.achievement
        if action == "confirm":
            training.confirm(obj, by=by)
            return f"Confirmed: {what} for {who} counts from now."
        training.reject(obj, by=by, reason=form.cleaned_data["reason"])
        return f"Not confirmed: {what} for {who}; the reason is recorded."

    def action_page_context(
        self, request: HttpRequest, obj: TrainingRecord, bound: dict[str, Form]
    ) -> dict[str, Any]:
        offered = set(self.action_forms) if obj.status == Status.PENDING else set()
        today = tenant_of(request).local_today()
        return {
            "record": obj,
            "counts": obj.counts_on(today),
            "certificate_url": f"{request.path}?certificate=1" if obj.evidence else "",
            "forms": self.action_page_forms(request, obj, bound, offered),
        }

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .select_related("membership__user", "partner", "course", "certification")
        )


# --- The staff home card ----------------------------------------------------------------------

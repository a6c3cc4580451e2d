"""Training and certifications in the REST API: the catalogue
(``/api/v1/courses/``, ``/certifications/``), people's records
(``/training-records/``) with the import of a learning system's records
(``/training-records/import/``).

Every staff role reads the catalogue and the records; a partner's people
read the active catalogue and their own organisation's records (another
partner's record is 404), as the portal's training page shows them. Ops
import records as the admin's CSV import does (``training_import``): the
same columns and checks, all rows or none."""

from typing import Any

import django_filters
from django.db.models import Prefetch, Q, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from prm.api.problems import Invalid
from prm.api.routes import Route
from prm.api.views import TenantViewSet

from .. import training_import
from ..models import Certification, Course, TrainingRecord, valid_on
from ..representations import CertificationSerializer, CourseSerializer, TrainingRecordSerializer
from . import examples as ex

IMPORT_PERM = "onboarding.import_trainingrecord"


class CatalogueViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """What the catalogue's resources share: every member reads it; a
    partner's people see what is offered (active) only."""

    resource = "training"
    owner_field = None
    filterset_fields = {"is_active": ["exact"], "code": ["iexact"]}

    def get_queryset(self) -> QuerySet[Any]:
        queryset = self.base_queryset()
        if self.membership.is_partner_role:
            queryset = queryset.filter(is_active=True)
        return queryset


@extend_schema_view(
    list=extend_schema(summary="List courses", examples=ex.examples("A course", ex.COURSE)),
    retrieve=extend_schema(summary="Get a course", examples=ex.examples("A course", ex.COURSE)),
)
class CourseViewSet(CatalogueViewSet):
    """The courses of the program's training catalogue."""

    read_perms = ("onboarding.view_course", "portal.training")
    serializer_class = CourseSerializer
    ordering_fields = ("code", "title")

    def base_queryset(self) -> QuerySet[Course]:
        return Course.objects.all()


@extend_schema_view(
    list=extend_schema(
        summary="List certifications", examples=ex.examples("A certification", ex.CERTIFICATION)
    ),
    retrieve=extend_schema(
        summary="Get a certification", examples=ex.examples("A certification", ex.CERTIFICATION)
    ),
)
class CertificationViewSet(CatalogueViewSet):
    """The certifications of the catalogue, with the courses that earn them."""

    read_perms = ("onboarding.view_certification", "portal.training")
    serializer_class = CertificationSerializer
    ordering_fields = ("code", "name")

    def base_queryset(self) -> QuerySet[Certification]:
        offered = Q(is_active=True) if self.membership.is_partner_role else Q()
        return Certification.objects.all().prefetch_related(
            Prefetch("courses", queryset=Course.objects.filter(offered).order_by("code"))
        )


class TrainingRecordFilter(django_filters.FilterSet):
    partner = django_filters.UUIDFilter(field_name="partner_id")
    person = django_filters.UUIDFilter(field_name="membership_id")
    email = django_filters.CharFilter(field_name="membership__user__email", lookup_expr="iexact")
    status = django_filters.ChoiceFilter(choices=TrainingRecord.Status.choices)
    source = django_filters.ChoiceFilter(choices=TrainingRecord.Source.choices)
    kind = django_filters.ChoiceFilter(
        choices=[("course", "Courses"), ("certification", "Certifications")],
        method="filter_kind",
    )
    course = django_filters.UUIDFilter(field_name="course_id")
    certification = django_filters.UUIDFilter(field_name="certification_id")
    completed_since = django_filters.DateFilter(field_name="completed_on", lookup_expr="gte")
    completed_before = django_filters.DateFilter(field_name="completed_on", lookup_expr="lt")
    expires_since = django_filters.DateFilter(field_name="expires_on", lookup_expr="gte")
    expires_before = django_filters.DateFilter(field_name="expires_on", lookup_expr="lt")
    valid_on = django_filters.DateFilter(
        method="filter_valid_on",
        label="Counts on this day: confirmed, completed by then and not expired.",
    )

    class Meta:
        model = TrainingRecord
        fields: list[str] = []

    def filter_kind(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(**{f"{value}__isnull": False})

    def filter_valid_on(self, queryset: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        return queryset.filter(valid_on(value))


class TrainingImportRowSerializer(serializers.Serializer):
    """One record of a batch: the CSV import's columns."""

    email = serializers.CharField()
    course_or_certification_code = serializers.CharField()
    completed_on = serializers.CharField(help_text="YYYY-MM-DD, not in the future.")
    score = serializers.CharField(required=False, help_text="A number, at most one decimal.")
    certificate_id = serializers.CharField(required=False)


class TrainingImportSerializer(serializers.Serializer):
    rows = serializers.ListField(
        child=serializers.DictField(
            child=serializers.CharField(allow_blank=True, allow_null=True, trim_whitespace=False)
        ),
        allow_empty=False,
        max_length=training_import.MAX_IMPORT_ROWS,
        help_text="The records, each with the columns of the CSV import as its keys.",
    )
    dry_run = serializers.BooleanField(
        default=False, help_text="Check every row and save nothing (the admin's dry run)."
    )


class TrainingImportRequestSerializer(serializers.Serializer):
    """The import's body as documented (each row's columns)."""

    rows = TrainingImportRowSerializer(many=True)
    dry_run = serializers.BooleanField(default=False)


class TrainingImportResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    rows = serializers.IntegerField(help_text="How many rows were checked.")
    created = serializers.IntegerField(help_text="How many records were made (0 on a dry run).")
    records = TrainingRecordSerializer(many=True)


def row_errors(result: training_import.TrainingImportResult) -> dict[str, Any]:
    """The refused batch's problems by where they are: ``rows.<index>.<column>``
    (``non_field_errors`` for a row as a whole or for the batch)."""
    found: dict[str, Any] = {}
    for row in result.rows:
        fields: dict[str, list[str]] = {}
        for column, message in row.field_errors:
            fields.setdefault(column or "non_field_errors", []).append(message)
        if fields:
            found[str(row.line)] = fields
    errors: dict[str, Any] = {}
    if found:
        errors["rows"] = found
    if result.errors:
        errors["non_field_errors"] = list(result.errors)
    return errors


@extend_schema_view(
    list=extend_schema(
        summary="List training and certification records",
        examples=ex.examples("A certification record", ex.TRAINING_RECORD),
    ),
    retrieve=extend_schema(
        summary="Get a training or certification record",
        examples=ex.examples("A certification record", ex.TRAINING_RECORD),
    ),
    import_records=extend_schema(
        summary="Import training and certification records",
        description=(
            "A learning system's records, as the admin's CSV import takes them: each row "
            "names a partner's person by email, an active course or certification by code, "
            "the completion date and optionally a score and certificate number. Every row is "
            "checked first; any problem refuses the whole batch with 422 and the errors at "
            "`rows.<index>.<column>`, and nothing is saved. Imported records are confirmed "
            "(a certification sends `certification.earned`). With `dry_run` the rows are "
            "checked and nothing is saved (200)."
        ),
        request=TrainingImportRequestSerializer,
        responses={201: TrainingImportResultSerializer, 200: TrainingImportResultSerializer},
        examples=ex.examples("An import", ex.IMPORT_RESULT, request=ex.IMPORT_REQUEST),
    ),
)
class TrainingRecordViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Who at a partner completed which course or earned which certification."""

    resource = "training"
    read_perms = ("onboarding.view_trainingrecord", "portal.training")
    write_perms = (IMPORT_PERM,)
    action_perms = {"import_records": (IMPORT_PERM,)}
    serializer_class = TrainingRecordSerializer
    filterset_class = TrainingRecordFilter
    ordering_fields = ("completed_on", "expires_on", "recorded_at")
    http_method_names = ["get", "post", "head", "options"]

    def base_queryset(self) -> QuerySet[TrainingRecord]:
        return TrainingRecord.objects.select_related("membership__user", "course", "certification")

    @action(detail=False, methods=["post"], url_path="import", url_name="import")
    def import_records(self, request: Request) -> Response:
        """Ops import a batch (``training_import``): all rows or none."""
        form = TrainingImportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        rows = form.validated_data["rows"]
        dry_run = form.validated_data["dry_run"]
        if dry_run:
            result = training_import.parse_training_rows(self.tenant, rows)
        else:
            result = training_import.import_training_rows(self.tenant, rows, by=self.membership)
        if not result.ok:
            raise Invalid(row_errors(result))
        records = [row.record for row in result.rows if row.record is not None]
        data = TrainingImportResultSerializer(
            {
                "dry_run": dry_run,
                "rows": len(result.rows),
                "created": result.created,
                "records": records,
            }
        ).data
        return Response(data, status=status.HTTP_200_OK if dry_run else status.HTTP_201_CREATED)


ROUTES = [
    Route("courses", CourseViewSet, "course"),
    Route("certifications", CertificationViewSet, "certification"),
    Route("training-records", TrainingRecordViewSet, "training-record"),
]

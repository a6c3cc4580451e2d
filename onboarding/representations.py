"""Onboarding's objects as the REST API shows them (``onboarding.api``) and
as its webhook events carry them (the same representation, built without a
request: the services emit them).

Ids are the rows' UUIDs (an application also has its public code); money
does not occur; dates are ISO 8601. The applicant's network address and
browser are kept for abuse handling and left out."""

from datetime import date
from typing import Any

from rest_framework import serializers

from partners.serializers import PersonRef

from . import plans
from .models import (
    Acceptance,
    Application,
    Certification,
    Course,
    Function,
    Plan,
    PlanStep,
    TrainingRecord,
)

# --- Applications ------------------------------------------------------------------------


class ApplicationApplicantSerializer(serializers.Serializer):
    name = serializers.CharField(source="contact_name")
    email = serializers.EmailField(source="contact_email")
    phone = serializers.CharField(source="contact_phone")


class ApplicationSerializer(serializers.ModelSerializer):
    """A partner application, as its reviewers read it."""

    country = serializers.CharField(source="country.code")
    applicant = ApplicationApplicantSerializer(source="*", read_only=True)
    reviewer = PersonRef(read_only=True, allow_null=True)
    decided_by = PersonRef(read_only=True, allow_null=True)
    partner = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    duplicate_partner = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    duplicate_application = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Application
        fields = [
            "id",
            "code",
            "status",
            "company_name",
            "legal_name",
            "website",
            "domain",
            "country",
            "partner_type",
            "company_size",
            "specialities",
            "markets",
            "applicant",
            "answers",
            "created_at",
            "confirmed_at",
            "reviewer",
            "due_at",
            "info_request",
            "info_requested_at",
            "decided_at",
            "decided_by",
            "decision_reason",
            "partner",
            "duplicate_partner",
            "duplicate_application",
        ]


def application_data(application: Application) -> dict[str, Any]:
    """The webhook payload of ``application`` (its API representation)."""
    return dict(ApplicationSerializer(application).data)


# --- Training and certifications ---------------------------------------------------------


class CourseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Course
        fields = ["id", "code", "title", "description", "url", "hours", "is_active"]


class CourseRef(serializers.ModelSerializer):
    class Meta:
        model = Course
        fields = ["id", "code", "title"]


class CertificationSerializer(serializers.ModelSerializer):
    courses = CourseRef(many=True, read_only=True)
    functions = serializers.ListField(child=serializers.ChoiceField(choices=Function.choices))
    validity_years = serializers.IntegerField(
        help_text="How many years it counts once earned (0: it does not expire)."
    )

    class Meta:
        model = Certification
        fields = [
            "id",
            "code",
            "name",
            "description",
            "courses",
            "exam",
            "validity_years",
            "functions",
            "is_active",
        ]


class CertificationRef(serializers.ModelSerializer):
    class Meta:
        model = Certification
        fields = ["id", "code", "name"]


class TrainingPersonSerializer(serializers.Serializer):
    """A partner's person: their membership's id, name and email."""

    id = serializers.UUIDField()
    name = serializers.CharField(source="user.get_full_name")
    email = serializers.EmailField(source="user.email")


class TrainingRecordSerializer(serializers.ModelSerializer):
    """One person's completed course or earned certification."""

    person = TrainingPersonSerializer(source="membership", read_only=True)
    partner = serializers.PrimaryKeyRelatedField(read_only=True)
    kind = serializers.SerializerMethodField()
    course = CourseRef(read_only=True, allow_null=True)
    certification = CertificationRef(read_only=True, allow_null=True)
    has_certificate = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRecord
        fields = [
            "id",
            "person",
            "partner",
            "kind",
            "course",
            "certification",
            "completed_on",
            "expires_on",
            "score",
            "certificate_id",
            "source",
            "status",
            "note",
            "has_certificate",
            "recorded_at",
            "decided_at",
        ]

    def get_kind(self, obj: TrainingRecord) -> str:
        return "course" if obj.course_id else "certification"

    def get_has_certificate(self, obj: TrainingRecord) -> bool:
        return bool(obj.evidence)


def training_record_data(record: TrainingRecord) -> dict[str, Any]:
    """The webhook payload of ``record`` (its API representation)."""
    return dict(TrainingRecordSerializer(record).data)


# --- Agreements ----------------------------------------------------------------------------


class AcceptanceSerializer(serializers.ModelSerializer):
    """A partner's acceptance of one version of an agreement (what its
    receipt states)."""

    agreement = serializers.SerializerMethodField()
    version = serializers.SerializerMethodField()
    partner = serializers.PrimaryKeyRelatedField(read_only=True)
    accepted_by = PersonRef(source="user", read_only=True)

    class Meta:
        model = Acceptance
        fields = [
            "id",
            "partner",
            "agreement",
            "version",
            "accepted_by",
            "typed_name",
            "accepted_at",
            "ip_address",
            "user_agent",
            "content_sha256",
        ]

    def get_agreement(self, obj: Acceptance) -> dict[str, Any]:
        agreement = obj.version.agreement
        return {"id": str(agreement.pk), "title": agreement.title}

    def get_version(self, obj: Acceptance) -> dict[str, Any]:
        version = obj.version
        return {
            "id": str(version.pk),
            "number": version.number,
            "effective_on": version.effective_on.isoformat(),
            "expires_on": version.expires_on.isoformat() if version.expires_on else None,
        }


# --- Onboarding plans ----------------------------------------------------------------------


class PlanStepSerializer(serializers.ModelSerializer):
    agreement = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    completed_by = PersonRef(read_only=True, allow_null=True)
    has_document = serializers.SerializerMethodField()

    class Meta:
        model = PlanStep
        fields = [
            "id",
            "position",
            "title",
            "kind",
            "owner",
            "required",
            "instructions",
            "agreement",
            "document_name",
            "course_code",
            "due_on",
            "completed_at",
            "completed_by",
            "source",
            "evidence",
            "has_document",
        ]

    def get_has_document(self, obj: PlanStep) -> bool:
        return bool(obj.document)


class PlanProgressSerializer(serializers.Serializer):
    percent = serializers.IntegerField(help_text="Required steps done ÷ required steps, 0-100.")
    required_steps = serializers.IntegerField()
    done_steps = serializers.IntegerField()
    next_step = serializers.UUIDField(allow_null=True)
    overdue_steps = serializers.ListField(child=serializers.UUIDField())
    days_left = serializers.IntegerField(help_text="Days to the target date (negative: late).")


class PlanSerializer(serializers.ModelSerializer):
    """A partner's onboarding plan with its steps and progress, as the
    portal's plan page shows it (``plans.progress``)."""

    partner = serializers.PrimaryKeyRelatedField(read_only=True)
    progress = serializers.SerializerMethodField()
    steps = serializers.SerializerMethodField()

    class Meta:
        model = Plan
        fields = [
            "id",
            "partner",
            "name",
            "status",
            "started_at",
            "target_on",
            "completed_at",
            "progress",
            "steps",
        ]

    def _progress(self, obj: Plan) -> plans.Progress:
        cache = self.context.setdefault("progress", {})
        if obj.pk not in cache:
            today: date | None = self.context.get("today")
            cache[obj.pk] = plans.progress(obj, today=today, steps=obj.steps.all())
        found: plans.Progress = cache[obj.pk]
        return found

    def get_progress(self, obj: Plan) -> dict[str, Any]:
        found = self._progress(obj)
        required = [s for s in found.steps if s.required]
        return dict(
            PlanProgressSerializer(
                {
                    "percent": found.percent,
                    "required_steps": len(required),
                    "done_steps": sum(1 for s in required if s.completed_at is not None),
                    "next_step": found.next_step.pk if found.next_step else None,
                    "overdue_steps": [s.pk for s in found.overdue],
                    "days_left": found.days_left,
                }
            ).data
        )

    def get_steps(self, obj: Plan) -> list[dict[str, Any]]:
        return [dict(PlanStepSerializer(s).data) for s in self._progress(obj).steps]


__all__ = [
    "AcceptanceSerializer",
    "ApplicationSerializer",
    "CertificationSerializer",
    "CourseSerializer",
    "PlanSerializer",
    "TrainingRecordSerializer",
    "application_data",
    "training_record_data",
]

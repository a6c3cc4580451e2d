"""The partner program's objects as the REST API shows them
(``program.api``) and as its webhook events carry them: a partner's tier
progress (``progress.build``: what the portal's tier progress page shows)
and compliance reviews.

Figures are Decimals as strings ("180000.00"), with the currency beside a
money figure; yes/no criteria are booleans. What only staff see on the
pages (a hold's reason) is left out for a partner's people."""

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from partners.models import Tier
from partners.serializers import PersonRef, TierRef

from . import progress
from .models import ComplianceAnswer, ComplianceReview, TierCriterion

Kind = TierCriterion.Kind

# --- Tier progress -------------------------------------------------------------------------


def _tier(tier: Tier | None) -> dict[str, Any] | None:
    return None if tier is None else dict(TierRef(tier).data)


def _figure(value: Decimal | bool | int | None) -> Any:
    if value is None or isinstance(value, bool):
        return value
    return str(Decimal(value))


class TierCriterionFigureSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Kind.choices)
    label = serializers.CharField()
    required = serializers.BooleanField(help_text="Otherwise it counts toward the minimum.")
    met = serializers.BooleanField()
    value = serializers.JSONField(
        help_text="The partner's figure today: a decimal string, a boolean for a yes/no "
        "criterion, null when there is none (no health score yet)."
    )
    threshold = serializers.CharField(allow_null=True, help_text="Null for a yes/no criterion.")
    currency = serializers.CharField(allow_null=True, help_text="For won revenue: the currency.")
    certification = serializers.UUIDField(allow_null=True)
    standing = serializers.CharField(help_text="The figure as the portal words it.")
    missing = serializers.CharField(help_text="What is still missing; empty when met.")
    share = serializers.IntegerField(help_text="0-100: how far toward the threshold.")


class TierStepSerializer(serializers.Serializer):
    tier = TierRef()
    qualifies = serializers.BooleanField()
    summary = serializers.CharField()
    still_to_do = serializers.ListField(child=serializers.CharField())
    counted_needed = serializers.IntegerField(help_text="How many counted criteria must be met.")
    counted_met = serializers.IntegerField()
    criteria = TierCriterionFigureSerializer(many=True)


def step_data(step: progress.Step | None, currency: str) -> dict[str, Any] | None:
    if step is None:
        return None
    criteria = []
    for line, result in zip(step.lines, step.check.results, strict=True):
        c = result.criterion
        yes_no = c.kind in TierCriterion.YES_NO
        criteria.append(
            {
                "kind": c.kind,
                "label": line.label,
                "required": line.required,
                "met": line.met,
                "value": _figure(result.value),
                "threshold": None if yes_no else str(c.threshold),
                "currency": currency if c.kind == Kind.WON_REVENUE else None,
                "certification": c.certification_id,
                "standing": line.standing,
                "missing": line.missing,
                "share": line.share,
            }
        )
    return dict(
        TierStepSerializer(
            {
                "tier": step.tier,
                "qualifies": step.qualifies,
                "summary": step.summary,
                "still_to_do": step.still_to_do,
                "counted_needed": step.counted_needed,
                "counted_met": step.counted_met,
                "criteria": criteria,
            }
        ).data
    )


class TierHoldRefSerializer(serializers.Serializer):
    tier = TierRef()
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    reason = serializers.CharField(required=False, help_text="Staff only.")


class TierGraceSerializer(serializers.Serializer):
    until = serializers.DateField(help_text="The tier is kept through this day.")
    to = TierRef(allow_null=True, help_text="Where the partner moves unless it qualifies again.")


class TierEvaluationRefSerializer(serializers.Serializer):
    evaluated_on = serializers.DateField()
    qualifying_tier = TierRef()


class TierRungSerializer(serializers.Serializer):
    tier = TierRef()
    current = serializers.BooleanField()
    by_invitation = serializers.BooleanField()


class TierHistorySerializer(serializers.Serializer):
    effective_on = serializers.DateField()
    tier = TierRef()
    previous = TierRef(allow_null=True)
    reason = serializers.CharField()


class TierProgressSerializer(serializers.Serializer):
    """A partner's standing in the program today (live figures)."""

    partner = serializers.UUIDField()
    day = serializers.DateField()
    tier = TierRef()
    criteria_published = serializers.BooleanField(
        help_text="False: tiers are assigned by the vendor, no criteria apply."
    )
    headline = serializers.CharField()
    qualifying_tier = TierRef(allow_null=True, help_text="What today's figures qualify for.")
    last_evaluation = TierEvaluationRefSerializer(allow_null=True)
    by_invitation = serializers.BooleanField(help_text="The tier held is by invitation.")
    hold = TierHoldRefSerializer(allow_null=True)
    grace = TierGraceSerializer(allow_null=True)
    upgrade_waits_until = serializers.DateField(
        allow_null=True, help_text="A qualifying upgrade applies at the review on this day."
    )
    next = TierStepSerializer(allow_null=True, help_text="The next tier's criteria.")
    keep = TierStepSerializer(allow_null=True, help_text="What keeps the tier held.")
    ladder = TierRungSerializer(many=True, help_text="The tiers, highest first.")
    history = TierHistorySerializer(many=True, help_text="The latest tier changes, newest first.")


def tier_progress_data(found: progress.Progress, *, staff: bool) -> dict[str, Any]:
    """``found`` as the API shows it (``staff``: with the hold's reason)."""
    currency = found.partner.tenant.base_currency
    hold = None
    if found.hold is not None:
        hold = {
            "tier": found.hold_tier or found.tier,
            "starts_on": found.hold.starts_on,
            "ends_on": found.hold.ends_on,
        }
        if staff:
            hold["reason"] = found.hold.reason
    standing = found.standing
    data = {
        "partner": found.partner.pk,
        "day": found.day,
        "tier": found.tier,
        "criteria_published": found.published,
        "headline": found.headline,
        "qualifying_tier": found.qualifying,
        "last_evaluation": None
        if standing is None or found.evaluated_tier is None
        else {"evaluated_on": standing.evaluated_on, "qualifying_tier": found.evaluated_tier},
        "by_invitation": found.by_invitation,
        "hold": hold,
        "grace": None
        if found.grace_until is None
        else {"until": found.grace_until, "to": found.grace_to},
        "upgrade_waits_until": found.upgrade_waits_until,
        "next": None,
        "keep": None,
        "ladder": [
            {"tier": r.tier, "current": r.current, "by_invitation": r.by_invitation}
            for r in found.rungs
        ],
        "history": [
            {
                "effective_on": c.effective_on,
                "tier": c.tier,
                "previous": c.previous,
                "reason": c.reason,
            }
            for c in found.history
        ],
    }
    shown = dict(TierProgressSerializer(data).data)
    shown["next"] = step_data(found.next, currency)
    shown["keep"] = step_data(found.keep, currency)
    return shown


# --- Compliance reviews --------------------------------------------------------------------


class ComplianceAnswerSerializer(serializers.ModelSerializer):
    item = serializers.PrimaryKeyRelatedField(read_only=True)
    answered_by = PersonRef(read_only=True, allow_null=True)

    class Meta:
        model = ComplianceAnswer
        fields = ["item", "label", "attested_name", "file_name", "answered_by", "answered_at"]


class ComplianceCheckSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    met = serializers.BooleanField()
    detail = serializers.CharField()


class ComplianceReviewSerializer(serializers.ModelSerializer):
    """A partner's compliance review of one period. ``checks`` are the
    automatic items as they stood when it was submitted (empty before)."""

    partner = serializers.PrimaryKeyRelatedField(read_only=True)
    submitted_by = PersonRef(read_only=True, allow_null=True)
    signed_off_by = PersonRef(read_only=True, allow_null=True)
    checks = ComplianceCheckSerializer(many=True, read_only=True)
    answers = ComplianceAnswerSerializer(many=True, read_only=True)
    tax_document = serializers.SerializerMethodField()

    class Meta:
        model = ComplianceReview
        fields = [
            "id",
            "partner",
            "opens_on",
            "due_on",
            "status",
            "created_at",
            "submitted_at",
            "submitted_by",
            "checks",
            "answers",
            "tax_document",
            "returned_at",
            "signed_off_at",
            "signed_off_by",
            "note",
        ]

    def get_tax_document(self, obj: ComplianceReview) -> dict[str, Any] | None:
        if not obj.file:
            return None
        return {
            "name": obj.file_name,
            "type": obj.file_type,
            "size": obj.file_size,
            "sha256": obj.file_sha256,
        }


def compliance_review_data(review: ComplianceReview) -> dict[str, Any]:
    """The webhook payload of ``review`` (its API representation)."""
    return dict(ComplianceReviewSerializer(review).data)

"""The partner program's standing rules: which tier a partner qualifies
for (``qualification``) and its periodic compliance review
(``compliance``)."""

from .compliance import (
    ComplianceAnswer,
    ComplianceItem,
    ComplianceReview,
    ComplianceSettings,
)
from .qualification import (
    CriteriaVersion,
    Evaluation,
    QualificationSettings,
    TierCriterion,
    TierHold,
    TierStanding,
    TierTarget,
)

__all__ = [
    "ComplianceAnswer",
    "ComplianceItem",
    "ComplianceReview",
    "ComplianceSettings",
    "CriteriaVersion",
    "Evaluation",
    "QualificationSettings",
    "TierCriterion",
    "TierHold",
    "TierStanding",
    "TierTarget",
]

"""The partner program's standing rules: which tier a partner qualifies
for (``qualification``) and its periodic compliance review
(``compliance``)."""

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
    "CriteriaVersion",
    "Evaluation",
    "QualificationSettings",
    "TierCriterion",
    "TierHold",
    "TierStanding",
    "TierTarget",
]

"""Reporting's data: daily rollups of the apps' facts, partner health
scores and at-risk episodes, digests sent."""

from .digests import DigestSent
from .health import AtRiskEpisode, HealthScore, HealthSettings, Part
from .rollups import (
    MeasurementDay,
    PartnerDay,
    RollupCheck,
    SegmentDay,
    SegmentTotal,
    StalePartner,
)

__all__ = [
    "AtRiskEpisode",
    "DigestSent",
    "HealthScore",
    "HealthSettings",
    "MeasurementDay",
    "Part",
    "PartnerDay",
    "RollupCheck",
    "SegmentDay",
    "SegmentTotal",
    "StalePartner",
]

"""Reporting's data: daily rollups of the apps' facts, partner health
scores and at-risk episodes, digests sent."""

from .digests import DigestSent
from .rollups import MeasurementDay, PartnerDay, RollupCheck, SegmentDay, StalePartner

__all__ = [
    "DigestSent",
    "MeasurementDay",
    "PartnerDay",
    "RollupCheck",
    "SegmentDay",
    "StalePartner",
]

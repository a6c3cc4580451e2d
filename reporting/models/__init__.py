"""Reporting's data: daily rollups of the apps' facts, partner health
scores and at-risk episodes, digests sent."""

from .rollups import MeasurementDay, PartnerDay, RollupCheck, SegmentDay, StalePartner

__all__ = ["MeasurementDay", "PartnerDay", "RollupCheck", "SegmentDay", "StalePartner"]

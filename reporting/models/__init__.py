"""Reporting's data: daily rollups of the apps' facts, partner health
scores and at-risk episodes, digests sent."""

from .health import AtRiskEpisode, HealthScore, HealthSettings, Part

__all__ = ["AtRiskEpisode", "HealthScore", "HealthSettings", "Part"]

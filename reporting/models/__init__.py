"""Reporting's data: daily rollups of the apps' facts, partner health
scores and at-risk episodes, digests sent."""

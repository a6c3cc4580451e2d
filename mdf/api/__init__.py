"""Market development funds in the REST API: fund requests, claims (with
proof uploads) and allocations. One module per resource; the
representations are ``mdf.serializers`` (the webhook payloads too)."""

from prm.api.routes import Route

from .allocations import AllocationViewSet
from .claims import ClaimViewSet
from .fund_requests import FundRequestViewSet

ROUTES = [
    Route("mdf-requests", FundRequestViewSet, "mdf-request"),
    Route("mdf-claims", ClaimViewSet, "mdf-claim"),
    Route("mdf-allocations", AllocationViewSet, "mdf-allocation"),
]

from .activities import (
    ActivityEvent,
    ActivityLead,
    ClaimExtension,
    CostLine,
    FundRequest,
    SourcedDeal,
)
from .claims import Claim, ClaimLine, ProofFile, Reimbursement
from .config import ActivityType, Document, FundType, MdfSettings
from .funds import Allocation, AllocationChange, Budget, CoopAccrual

__all__ = [
    "ActivityEvent",
    "ActivityLead",
    "ActivityType",
    "Allocation",
    "AllocationChange",
    "Budget",
    "Claim",
    "ClaimExtension",
    "ClaimLine",
    "CoopAccrual",
    "CostLine",
    "Document",
    "FundRequest",
    "FundType",
    "MdfSettings",
    "ProofFile",
    "Reimbursement",
    "SourcedDeal",
]

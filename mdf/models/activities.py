"""Fund requests (pre-approval of an activity), their cost lines and
timeline, and what an activity led to: the registrations it sourced and
the leads it brought."""

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from dealreg.models import DealRegistration
from incentives.models.fields import MONEY, PERCENT
from partners.models import Partner
from prm.tenancy.codes import public_code
from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import Tenant, TenantOwned, User

from .config import ActivityType, FundType
from .funds import Allocation


def new_request_code() -> str:
    """``FR-7KQ2M9XA`` (see ``prm.tenancy.codes``)."""
    return public_code("FR")


class FundRequest(TenantOwned):
    """A partner's proposed marketing activity and the money it asks for.
    Once approved, ``reserved`` holds the approved amount against the
    allocation until the claim is decided or the claim window closes."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        MORE_INFO = "more_info_requested", "More information requested"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        CLAIMED = "claimed", "Claimed"
        CLOSED = "closed", "Claim window closed"

    PENDING = (Status.SUBMITTED, Status.MORE_INFO)
    # Statuses in which the title is taken for the partner and period.
    LIVE = (
        Status.DRAFT,
        Status.SUBMITTED,
        Status.MORE_INFO,
        Status.APPROVED,
        Status.CLAIMED,
        Status.CLOSED,
    )

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", editable=False, db_index=False
    )
    code = models.CharField(max_length=12, default=new_request_code, editable=False)
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="fund_requests", db_constraint=False
    )
    allocation = models.ForeignKey(
        Allocation, on_delete=models.PROTECT, related_name="requests", db_constraint=False
    )
    fund_type = models.ForeignKey(
        FundType, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    period_start = models.DateField(
        editable=False, help_text="The allocation's period: titles are unique per partner in it."
    )
    activity_type = models.CharField(max_length=24, choices=ActivityType.choices)
    title = models.CharField(max_length=200)
    starts_on = models.DateField("activity starts")
    ends_on = models.DateField("activity ends")
    description = models.TextField()
    audience = models.CharField(max_length=300, blank=True)
    expected_reach = models.PositiveIntegerField(default=0)
    expected_leads = models.PositiveIntegerField(default=0)
    expected_pipeline = models.DecimalField(**MONEY, default=0)
    currency = models.CharField(max_length=3, editable=False)
    total_cost = models.DecimalField(**MONEY, default=0, editable=False)
    reimbursement_percent = models.DecimalField(**PERCENT, editable=False)
    requested_amount = models.DecimalField(**MONEY)
    approved_amount = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    reserved = models.DecimalField(**MONEY, default=0, editable=False)

    status = models.CharField(max_length=24, choices=Status.choices, default=Status.DRAFT)
    client_token = models.UUIDField(null=True, blank=True, editable=False)
    submitted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    approver = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    needs_second_approval = models.BooleanField(default=False, editable=False)
    first_approved_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    first_approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    due_at = models.DateTimeField("decision due", null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    escalated_at = models.DateTimeField(null=True, blank=True, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision_reason = models.TextField(blank=True)
    claim_deadline = models.DateField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="mdf_request_code_unique"),
            models.UniqueConstraint(
                fields=["tenant", "client_token"], name="mdf_request_client_token_unique"
            ),
            models.UniqueConstraint(
                "tenant",
                "partner",
                "period_start",
                Lower("title"),
                condition=Q(
                    status__in=[
                        "draft",
                        "submitted",
                        "more_info_requested",
                        "approved",
                        "claimed",
                        "closed",
                    ]
                ),
                name="mdf_request_title_unique",
                violation_error_message="You already have an activity with this title this period.",
            ),
            models.CheckConstraint(
                condition=Q(requested_amount__gt=0), name="mdf_request_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(approved_amount__isnull=True)
                | (Q(approved_amount__gt=0) & Q(approved_amount__lte=F("requested_amount"))),
                name="mdf_request_approved_within_requested",
            ),
            models.CheckConstraint(
                condition=Q(reserved__gte=0)
                & (Q(reserved=0) | Q(reserved__lte=F("approved_amount"))),
                name="mdf_request_reserved_within_approved",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="mdf_request_dates"
            ),
            tenant_key("mdf_request_tenant_key"),
            *tenant_foreign_keys("mdf_request", "partner", "allocation", "fund_type"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "due_at"], name="mdf_request_queue"),
            models.Index(
                fields=["tenant", "next_check_at"],
                condition=Q(next_check_at__isnull=False),
                name="mdf_request_next_check",
            ),
            models.Index(
                fields=["tenant", "claim_deadline"],
                condition=Q(reserved__gt=0),
                name="mdf_request_reserved",
            ),
            models.Index(fields=["partner", "-created_at"], name="mdf_request_partner"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    def object_permission_target(self) -> Partner:
        return self.partner

    @property
    def partner_contribution(self):  # type: ignore[no-untyped-def]
        return self.total_cost - self.requested_amount

    @property
    def is_pending(self) -> bool:
        return self.status in self.PENDING


class CostLine(TenantOwned):
    """One planned cost of an activity (venue, catering, ads, ...)."""

    request = models.ForeignKey(
        FundRequest, on_delete=models.CASCADE, related_name="cost_lines", db_constraint=False
    )
    description = models.CharField(max_length=200)
    amount = models.DecimalField(**MONEY)

    position = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="mdf_costline_positive"),
            *tenant_foreign_keys("mdf_costline", "request"),
        ]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"


class ActivityEvent(TenantOwned):
    """An activity's timeline: the request's and its claims' status
    changes, messages between the partner and the reviewers, reminders."""

    class Kind(models.TextChoices):
        CREATED = "created", "Draft saved"
        SUBMITTED = "submitted", "Submitted"
        ASSIGNED = "assigned", "Assigned"
        MESSAGE = "message", "Message"
        INFO_REQUESTED = "info_requested", "More information requested"
        INFO_PROVIDED = "info_provided", "Information provided"
        FIRST_APPROVAL = (
            "first_approval",
            "Approved by the channel manager, awaiting second approval",
        )
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        REMINDER = "reminder", "Decision reminder"
        ESCALATED = "escalated", "Decision overdue, escalated"
        CLAIM_SUBMITTED = "claim_submitted", "Claim submitted"
        CLAIM_INFO_REQUESTED = "claim_info_requested", "More information requested on the claim"
        CLAIM_INFO_PROVIDED = "claim_info_provided", "Claim information provided"
        CLAIM_VERIFIED = "claim_verified", "Proof checked by the channel manager"
        CLAIM_APPROVED = "claim_approved", "Claim approved"
        CLAIM_REJECTED = "claim_rejected", "Claim rejected"
        REIMBURSED = "reimbursed", "Reimbursement paid"
        EXTENSION_REQUESTED = "extension_requested", "Claim window extension requested"
        EXTENSION_APPROVED = "extension_approved", "Claim window extended"
        EXTENSION_REJECTED = "extension_rejected", "Claim window extension refused"
        WINDOW_CLOSING = "window_closing", "Claim window closes soon"
        RELEASED = "released", "Unclaimed funds released"

    request = models.ForeignKey(
        FundRequest, on_delete=models.CASCADE, related_name="events", db_constraint=False
    )
    claim = models.ForeignKey(
        "Claim",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
        db_constraint=False,
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.TextField(blank=True)
    visible_to_partner = models.BooleanField(default=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["request", "created_at"], name="mdf_event_time")]
        constraints = [*tenant_foreign_keys("mdf_event", "request", "claim")]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.get_kind_display()}"


class ClaimExtension(TenantOwned):
    """A partner's request for more time to claim an approved activity."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    request = models.ForeignKey(
        FundRequest, on_delete=models.CASCADE, related_name="extensions", db_constraint=False
    )
    days = models.PositiveSmallIntegerField()
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "request"],
                condition=Q(status="pending"),
                name="mdf_extension_one_pending",
                violation_error_message="An extension of this claim window is already pending.",
            ),
            models.CheckConstraint(
                condition=Q(days__gte=1, days__lte=180), name="mdf_extension_days"
            ),
            *tenant_foreign_keys("mdf_extension", "request"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}: +{self.days} days"


class SourcedDeal(TenantOwned):
    """A deal registration the partner says an activity sourced: what the
    ROI of the activity counts."""

    registration = models.OneToOneField(
        DealRegistration, on_delete=models.CASCADE, related_name="mdf_source", db_constraint=False
    )
    request = models.ForeignKey(
        FundRequest, on_delete=models.PROTECT, related_name="sourced_deals", db_constraint=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [*tenant_foreign_keys("mdf_sourced", "registration", "request")]
        indexes = [models.Index(fields=["request"], name="mdf_sourced_request")]

    def __str__(self) -> str:
        return f"{self.registration_id} ← {self.request_id}"


class ActivityLead(TenantOwned):
    """A lead an activity brought, uploaded by the partner as CSV."""

    request = models.ForeignKey(
        FundRequest, on_delete=models.CASCADE, related_name="leads", db_constraint=False
    )
    name = models.CharField(max_length=200)
    email = models.EmailField()
    company = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "tenant", "request", Lower("email"), name="mdf_lead_email_unique"
            ),
            *tenant_foreign_keys("mdf_lead", "request"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

"""Registrations and what happens to them: the claims conflict checks
search, the conflicts found, the timeline, extension requests and SLA
marks."""

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone
from django_countries.fields import CountryField
from django_scopes import ScopedManager

from partners.models import Partner, Region
from prm.tenancy.codes import public_code
from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import Tenant, TenantOwned, User, currency_validator

from .config import ProductLine
from .direct import DirectOpportunity


def new_registration_code() -> str:
    """``DR-7KQ2M9XA`` (see ``prm.tenancy.codes``)."""
    return public_code("DR")


class DealRegistration(TenantOwned):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        MORE_INFO = "more_info_requested", "More information requested"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"
        WON = "won", "Won"
        LOST = "lost", "Lost"
        WITHDRAWN = "withdrawn", "Withdrawn"
        REVERSED = "reversed", "Won, then reversed"

    # Waiting for the vendor's decision (the SLA clock runs in SUBMITTED).
    PENDING = (Status.SUBMITTED, Status.MORE_INFO)
    # Registrations that hold or claim the customer: what conflict checks compare.
    ACTIVE = (Status.SUBMITTED, Status.MORE_INFO, Status.APPROVED)

    class ConflictState(models.TextChoices):
        NOT_CHECKED = "not_checked", "Not checked yet"
        CLEAR = "clear", "No conflicts"
        CONFLICT = "conflict", "Under conflict review"

    # Indexed with the id instead of alone (dealreg_tenant_key, below).
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", editable=False, db_index=False
    )
    code = models.CharField(max_length=12, default=new_registration_code, editable=False)
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="registrations", db_constraint=False
    )
    submitted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    client_token = models.UUIDField(
        null=True, blank=True, editable=False, help_text="Form token: a double submit saves once."
    )

    customer_name = models.CharField(max_length=200)
    customer_name_normalized = models.CharField(max_length=200, editable=False)
    customer_domain = models.CharField(max_length=253, blank=True)
    customer_country = CountryField()
    customer_region = models.ForeignKey(
        Region,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    customer_contact_name = models.CharField(max_length=200, blank=True)
    customer_contact_email = models.EmailField(blank=True)
    customer_contact_phone = models.CharField(max_length=40, blank=True)
    product_lines = models.ManyToManyField(ProductLine, related_name="registrations")
    estimated_value = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    expected_close_date = models.DateField()
    description = models.TextField(blank=True)
    custom_data = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=24, choices=Status.choices, default=Status.DRAFT)
    conflict_state = models.CharField(
        max_length=16, choices=ConflictState.choices, default=ConflictState.NOT_CHECKED
    )
    approver = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField("decision due", null=True, blank=True)
    sla_paused_at = models.DateTimeField("SLA paused at", null=True, blank=True)
    sla_remaining_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Business time left when the clock was paused."
    )
    sla_cycle = models.PositiveSmallIntegerField(default=0, editable=False)
    sla_next_check_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the SLA sweep next has something to do (reminder, breach).",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision_reason = models.TextField(blank=True)
    sla_met = models.BooleanField("decided within SLA", null=True, blank=True)
    protected_until = models.DateField(null=True, blank=True)
    extension_count = models.PositiveSmallIntegerField(default=0)
    won_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    won_currency = models.CharField(max_length=3, blank=True)
    won_close_date = models.DateField(null=True, blank=True)
    lost_reason = models.TextField(blank=True)
    reversal_reason = models.TextField(
        blank=True, help_text="Why a won deal was cancelled or refunded."
    )
    outcome_recorded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="dealreg_code_unique"),
            models.UniqueConstraint(
                fields=["tenant", "client_token"], name="dealreg_client_token_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(estimated_value__gte=0), name="dealreg_value_not_negative"
            ),
            # Serves the tenant foreign key as a plain tenant index would, and
            # is what the composite (tenant, registration) keys refer to.
            tenant_key("dealreg_tenant_key"),
            *tenant_foreign_keys("dealreg", "partner", "customer_region"),
        ]
        indexes = [
            # Names are searched through ActiveClaim, not an index here.
            models.Index(fields=["tenant", "customer_domain"], name="dealreg_domain"),
            models.Index(fields=["tenant", "status", "sla_due_at"], name="dealreg_status_sla"),
            models.Index(
                fields=["tenant", "sla_next_check_at"],
                condition=models.Q(sla_next_check_at__isnull=False),
                name="dealreg_sla_next_check",
            ),
            models.Index(
                fields=["tenant", "partner", "-created_at"], name="dealreg_partner_recent"
            ),
            models.Index(fields=["tenant", "-created_at", "-id"], name="dealreg_recent"),
            models.Index(fields=["tenant", "status", "protected_until"], name="dealreg_protection"),
            models.Index(Upper("code"), name="dealreg_code_upper"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.customer_name}"

    def object_permission_target(self) -> Partner:
        return self.partner

    @property
    def is_pending(self) -> bool:
        return self.status in self.PENDING

    @property
    def sla_paused(self) -> bool:
        return self.status == self.Status.MORE_INFO and self.sla_paused_at is not None


class ActiveClaim(models.Model):
    """The normalized customer name of each active registration (submitted,
    more information requested, approved): what a conflict check searches
    by name. Kept by database triggers on ``dealreg_dealregistration``
    (migration 0009): a row is added when a registration becomes active,
    follows a change of its name and goes when it stops being active, so no
    code path (services, admin, bulk SQL) can leave it behind.

    Why a table of its own: the trigram index returns every active name
    that shares enough trigrams with the searched one (thousands for a name
    ending in a long common word such as "semiconductors"), and each must be
    re-read and compared. Read from the registrations, those rows lie on
    thousands of pages of a table much larger than PostgreSQL's buffer
    cache; here they are a few narrow rows per page of a table that stays
    cached, which takes most of the time out of the slowest checks."""

    registration = models.OneToOneField(
        DealRegistration,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        editable=False,
        db_constraint=False,
    )
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", editable=False, db_index=False
    )
    customer_name_normalized = models.CharField(max_length=200, editable=False)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        indexes = [
            # Led by the tenant (btree_gin's uuid_ops): a search keeps only
            # the tenant's names, so one large tenant's names do not slow
            # another's checks (the trigram lists alone hold every tenant's).
            # Without fastupdate: every submission is searched right after it
            # is inserted, and a GIN pending list (up to 4 MB of unsorted
            # entries until vacuum merges it) is read in full by each search.
            GinIndex(
                fields=["tenant", "customer_name_normalized"],
                opclasses=["uuid_ops", "gin_trgm_ops"],
                name="activeclaim_tenant_name_trgm",
                fastupdate=False,
            ),
        ]
        constraints = [*tenant_foreign_keys("activeclaim", "registration")]

    def __str__(self) -> str:
        return self.customer_name_normalized


class Conflict(TenantOwned):
    """A possible channel conflict found for a registration: another
    partner's active registration or a direct opportunity."""

    registration = models.ForeignKey(
        DealRegistration, on_delete=models.CASCADE, related_name="conflicts", db_constraint=False
    )
    other_registration = models.ForeignKey(
        DealRegistration,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    direct_opportunity = models.ForeignKey(
        DirectOpportunity,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    score = models.DecimalField(max_digits=4, decimal_places=3)
    reasons = models.JSONField(default=list)
    other_filed_first = models.BooleanField(default=False)
    found_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-score"]
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "other_registration"], name="conflict_registration_unique"
            ),
            models.UniqueConstraint(
                fields=["registration", "direct_opportunity"], name="conflict_directopp_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(other_registration__isnull=False)
                ^ models.Q(direct_opportunity__isnull=False),
                name="conflict_has_one_target",
            ),
            *tenant_foreign_keys(
                "conflict", "registration", "other_registration", "direct_opportunity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.registration.code}: {', '.join(self.reasons)}"


class RegistrationEvent(TenantOwned):
    """The registration's timeline: status changes, messages between the
    partner and the approver, reminders, extension decisions."""

    class Kind(models.TextChoices):
        CREATED = "created", "Draft saved"
        SUBMITTED = "submitted", "Submitted"
        ASSIGNED = "assigned", "Assigned"
        REASSIGNED = "reassigned", "Reassigned"
        CONFLICTS_FOUND = "conflicts_found", "Conflicts found"
        MESSAGE = "message", "Message"
        INFO_REQUESTED = "info_requested", "More information requested"
        INFO_PROVIDED = "info_provided", "Information provided"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"
        REMINDER = "reminder", "SLA reminder"
        ESCALATED = "escalated", "SLA breached, escalated"
        AUTO_APPROVED = "auto_approved", "Approved automatically (SLA)"
        EXTENSION_REQUESTED = "extension_requested", "Extension requested"
        EXTENSION_APPROVED = "extension_approved", "Extension approved"
        EXTENSION_REJECTED = "extension_rejected", "Extension rejected"
        EXPIRY_WARNING = "expiry_warning", "Protection ends soon"
        EXPIRED = "expired", "Expired"
        WON = "won", "Won"
        LOST = "lost", "Lost"
        OUTCOME_CORRECTED = "outcome_corrected", "Won amount corrected"
        REVERSED = "reversed", "Win reversed (cancelled or refunded)"

    registration = models.ForeignKey(
        DealRegistration, on_delete=models.CASCADE, related_name="events", db_constraint=False
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
        ordering = ["created_at"]
        indexes = [models.Index(fields=["registration", "created_at"], name="dealreg_event_time")]
        constraints = [*tenant_foreign_keys("regevent", "registration")]

    def __str__(self) -> str:
        return f"{self.registration.code}: {self.get_kind_display()}"


class ExtensionRequest(TenantOwned):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    registration = models.ForeignKey(
        DealRegistration,
        on_delete=models.CASCADE,
        related_name="extension_requests",
        db_constraint=False,
    )
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    days = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    previous_until = models.DateField(null=True, blank=True)
    new_until = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["registration"],
                condition=models.Q(status="pending"),
                name="one_pending_extension",
            ),
            *tenant_foreign_keys("extension", "registration"),
        ]

    def __str__(self) -> str:
        return f"{self.registration.code}: +{self.days} days ({self.get_status_display()})"


class SlaMark(TenantOwned):
    """A timed action already taken for a registration (a reminder at 50%,
    the breach escalation, an expiry warning). Unique per SLA cycle, so the
    beat sweep acts once however often it runs."""

    registration = models.ForeignKey(
        DealRegistration, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    kind = models.CharField(max_length=32)
    cycle = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "kind", "cycle"], name="slamark_once_per_cycle"
            ),
            *tenant_foreign_keys("slamark", "registration"),
        ]

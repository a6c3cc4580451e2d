"""Deal registration: partners register the deals they work so the vendor
protects them from channel conflict, and decides within an SLA."""

from datetime import time
from decimal import Decimal
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone
from django_countries.fields import CountryField
from django_scopes import ScopedManager

from partners.models import Partner, Region, Tier
from prm.tenancy.businesstime import BusinessCalendar
from prm.tenancy.codes import public_code
from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import Tenant, TenantOwned, User, currency_validator


def new_registration_code() -> str:
    """``DR-7KQ2M9XA`` (see ``prm.tenancy.codes``)."""
    return public_code("DR")


class ProductLine(TenantOwned):
    name = models.CharField(max_length=100)
    code = models.SlugField(max_length=40)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="productline_name_unique"),
            models.UniqueConstraint(fields=["tenant", "code"], name="productline_code_unique"),
        ]

    def __str__(self) -> str:
        return self.name


def default_workdays() -> list[int]:
    return [0, 1, 2, 3, 4]


def default_reminders() -> list[int]:
    return [50, 90]


class DealRegSettings(TenantOwned):
    """A tenant's deal registration policy: SLA, reminders, protection,
    extensions and the conflict threshold. One row per tenant."""

    sla_business_hours = models.PositiveIntegerField(
        "decision SLA (business hours)",
        default=16,
        validators=[MinValueValidator(1)],
        help_text="16 = two business days of eight working hours.",
    )
    workdays = ArrayField(
        models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)]),
        default=default_workdays,
        help_text="Working weekdays, 0 = Monday … 6 = Sunday.",
    )
    day_start = models.TimeField(default=time(9, 0))
    day_end = models.TimeField(default=time(17, 0))
    reminder_percents = ArrayField(
        models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(99)]),
        default=default_reminders,
        blank=True,
        help_text="Remind the approver when this share of the SLA has passed, e.g. 50,90.",
    )
    escalate_on_breach = models.BooleanField(
        default=True, help_text="Tell the ops admins when a decision is overdue."
    )
    auto_approve_on_breach = models.BooleanField(
        default=False,
        help_text="Approve a registration with no conflicts automatically when its SLA passes.",
    )
    protection_days = models.PositiveIntegerField(
        default=90, validators=[MinValueValidator(1)], help_text="Protection after approval."
    )
    expiry_warning_days = models.PositiveIntegerField(
        default=14, help_text="Warn the partner this many days before protection ends."
    )
    max_extensions = models.PositiveSmallIntegerField(default=2)
    extension_days = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1)])
    name_similarity_threshold = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.60"),
        validators=[MinValueValidator(Decimal("0.10")), MaxValueValidator(Decimal("1.00"))],
        help_text="Customer names at least this similar (0-1, trigram) count as a conflict.",
    )

    class Meta:
        verbose_name = "deal registration settings"
        verbose_name_plural = "deal registration settings"
        constraints = [models.UniqueConstraint(fields=["tenant"], name="one_dealreg_settings")]

    def __str__(self) -> str:
        return "Deal registration settings"

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> "DealRegSettings":
        settings_row, _ = cls.objects.get_or_create(tenant=tenant)
        return settings_row

    def calendar(self) -> BusinessCalendar:
        closures = ClosureDay.objects.filter(tenant_id=self.tenant_id).values_list("day", flat=True)
        return BusinessCalendar.build(
            timezone=self.tenant.timezone,
            country=self.tenant.country,
            workdays=self.workdays,
            day_start=self.day_start,
            day_end=self.day_end,
            closures=closures,
        )


class ClosureDay(TenantOwned):
    """A day the vendor's channel team does not work (beside public holidays)."""

    day = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["tenant", "day"], name="closure_day_unique")]

    def __str__(self) -> str:
        return f"{self.day}: {self.name}"


class TierProtection(TenantOwned):
    """A tier's own protection period, instead of the tenant default."""

    tier = models.OneToOneField(
        Tier, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    protection_days = models.PositiveIntegerField(validators=[MinValueValidator(1)])

    class Meta:
        constraints = tenant_foreign_keys("tierprotection", "tier")

    def __str__(self) -> str:
        return f"{self.tier}: {self.protection_days} days"


class CustomField(TenantOwned):
    """An extra question on the registration form, defined by ops."""

    class Type(models.TextChoices):
        TEXT = "text", "Short text"
        TEXTAREA = "textarea", "Long text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        CHOICE = "choice", "Choice"
        CHECKBOX = "checkbox", "Yes/no"

    key = models.SlugField(max_length=40, help_text="Stored name; do not change once used.")
    label = models.CharField(max_length=120)
    field_type = models.CharField(max_length=20, choices=Type.choices, default=Type.TEXT)
    choices = models.TextField(blank=True, help_text="For choice fields: one option per line.")
    required = models.BooleanField(default=False)
    help_text = models.CharField(max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "label"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="customfield_key_unique")
        ]

    def __str__(self) -> str:
        return self.label

    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]


class RoutingRule(TenantOwned):
    """Ordered rules that pick the approver of a new registration. The first
    active rule whose every given condition matches wins; empty conditions
    match anything. A rule names one approver or a pool (round-robin)."""

    name = models.CharField(max_length=100)
    priority = models.PositiveIntegerField(default=100, help_text="Lower runs first.")
    is_active = models.BooleanField(default=True)
    countries = CountryField(multiple=True, blank=True)
    regions = models.ManyToManyField(Region, blank=True, related_name="+")
    tiers: "models.ManyToManyField[Tier, Any]" = models.ManyToManyField(
        Tier, blank=True, related_name="+"
    )
    partner_types = ArrayField(
        models.CharField(max_length=20, choices=Partner.Type.choices), default=list, blank=True
    )
    product_lines: "models.ManyToManyField[ProductLine, Any]" = models.ManyToManyField(
        ProductLine, blank=True, related_name="+"
    )
    min_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    max_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    approver = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    pool: "models.ManyToManyField[User, Any]" = models.ManyToManyField(
        User, blank=True, related_name="+", help_text="Round-robin among these channel managers."
    )
    last_assigned = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return self.name


class DirectOpportunity(TenantOwned):
    """The vendor's own pipeline, imported for conflict checks."""

    class Stage(models.TextChoices):
        PROSPECTING = "prospecting", "Prospecting"
        QUALIFICATION = "qualification", "Qualification"
        PROPOSAL = "proposal", "Proposal"
        NEGOTIATION = "negotiation", "Negotiation"
        CLOSED_WON = "closed_won", "Closed won"
        CLOSED_LOST = "closed_lost", "Closed lost"

    OPEN_STAGES = (Stage.PROSPECTING, Stage.QUALIFICATION, Stage.PROPOSAL, Stage.NEGOTIATION)

    external_id = models.CharField(max_length=64, help_text="The id in the vendor's CRM.")
    customer_name = models.CharField(max_length=200)
    customer_name_normalized = models.CharField(max_length=200, editable=False)
    customer_domain = models.CharField(max_length=253, blank=True)
    customer_country = CountryField(blank=True)
    product_lines = models.ManyToManyField(ProductLine, blank=True, related_name="+")
    owner_name = models.CharField(max_length=200, blank=True)
    owner_email = models.EmailField(blank=True)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.PROSPECTING)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, validators=[currency_validator])
    close_date = models.DateField(null=True, blank=True)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["customer_name"]
        verbose_name_plural = "direct opportunities"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"], name="directopp_external_unique"
            ),
            tenant_key("directopp_tenant_key"),
        ]
        indexes = [
            # Only open opportunities are ever matched: a partial index is
            # a third smaller and faster to search. Led by the tenant and
            # without a pending list, as ActiveClaim's.
            GinIndex(
                fields=["tenant", "customer_name_normalized"],
                opclasses=["uuid_ops", "gin_trgm_ops"],
                name="directopp_tenant_name_trgm",
                condition=models.Q(
                    stage__in=["prospecting", "qualification", "proposal", "negotiation"]
                ),
                fastupdate=False,
            ),
            models.Index(fields=["tenant", "customer_domain"], name="directopp_domain"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_name} ({self.external_id})"

    @property
    def is_open(self) -> bool:
        return self.stage in self.OPEN_STAGES


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
        constraints = tenant_foreign_keys("activeclaim", "registration")

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
        constraints = tenant_foreign_keys("regevent", "registration")

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

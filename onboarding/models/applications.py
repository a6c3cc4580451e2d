"""Applications to join the program: what a company submits on the public
page, the vetting of it, and its timeline."""

import hashlib
import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_countries.fields import CountryField

from partners.models import Partner
from prm.tenancy.codes import public_code
from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import TenantOwned, User

from .config import VettingCheck


def new_application_code() -> str:
    return public_code("AP")


def new_token() -> tuple[str, str]:
    """A secret for a link in a mail, and the hash that is stored."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Application(TenantOwned):
    """A company's application to join the partner program."""

    class Status(models.TextChoices):
        UNCONFIRMED = "unconfirmed", "Email not confirmed"
        SUBMITTED = "submitted", "Waiting for review"
        MORE_INFO = "more_info", "More information requested"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Never confirmed"

    class Size(models.TextChoices):
        MICRO = "1-9", "1 to 9 employees"
        SMALL = "10-49", "10 to 49 employees"
        MEDIUM = "50-249", "50 to 249 employees"
        LARGE = "250-999", "250 to 999 employees"
        ENTERPRISE = "1000+", "1,000 or more employees"

    # Waiting for a reviewer (the queue) and waiting on either side.
    QUEUED = (Status.SUBMITTED,)
    OPEN = (Status.SUBMITTED, Status.MORE_INFO)
    DECIDED = (Status.APPROVED, Status.REJECTED)

    code = models.CharField(max_length=12, default=new_application_code, editable=False)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.UNCONFIRMED, editable=False
    )
    company_name = models.CharField(max_length=200)
    legal_name = models.CharField(max_length=200, blank=True)
    normalized_name = models.CharField(max_length=200, editable=False)
    website = models.URLField(blank=True)
    domain = models.CharField(max_length=253, blank=True, editable=False)
    country = CountryField()
    partner_type = models.CharField(
        "partner type applied for", max_length=20, choices=Partner.Type.choices
    )
    company_size = models.CharField(max_length=10, choices=Size.choices)
    specialities = models.TextField(blank=True, help_text="What the company is good at.")
    markets = models.TextField(blank=True, help_text="Industries and regions it sells to.")
    contact_name = models.CharField("your name", max_length=200)
    contact_email = models.EmailField("your work email")
    contact_phone = models.CharField("your phone", max_length=40, blank=True)
    answers = models.JSONField(default=dict, blank=True, editable=False)

    # Where it came from (for abuse handling; never shown to partners).
    ip_address = models.GenericIPAddressField(null=True, blank=True, editable=False)
    user_agent = models.CharField(max_length=300, blank=True, editable=False)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    confirm_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    confirm_by = models.DateTimeField(null=True, blank=True, editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Duplicates found when it was queued (the reviewer sees them named).
    duplicate_partner = models.ForeignKey(
        Partner,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        editable=False,
    )
    duplicate_application = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        editable=False,
    )

    reviewer = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who decides it; ops when empty.",
    )
    due_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    escalated_at = models.DateTimeField(null=True, blank=True, editable=False)

    # A question to the applicant, answered through a link in the mail.
    info_request = models.TextField(blank=True, editable=False)
    info_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    info_requested_at = models.DateTimeField(null=True, blank=True, editable=False)

    decided_at = models.DateTimeField(null=True, blank=True, editable=False)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    decision_reason = models.TextField(blank=True, editable=False)
    partner = models.ForeignKey(
        Partner,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="applications",
        db_constraint=False,
        editable=False,
        help_text="The partner its approval created.",
    )

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("decide_application", "Approve or reject partner applications"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="onboarding_application_code"),
            models.UniqueConstraint(
                fields=["tenant", "confirm_token_hash"],
                condition=~Q(confirm_token_hash=""),
                name="onboarding_application_confirm_token",
            ),
            models.UniqueConstraint(
                fields=["tenant", "info_token_hash"],
                condition=~Q(info_token_hash=""),
                name="onboarding_application_info_token",
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(partner__isnull=False),
                name="onboarding_application_approved_has_partner",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "rejected"]) | Q(decided_at__isnull=False),
                name="onboarding_application_decided_at",
            ),
            tenant_key("onboarding_application_tenant_key"),
            *tenant_foreign_keys(
                "onboarding_application", "duplicate_partner", "duplicate_application", "partner"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "status"], name="onboarding_app_status"),
            models.Index(fields=["tenant", "normalized_name"], name="onboarding_app_name"),
            models.Index(fields=["tenant", "domain"], name="onboarding_app_domain"),
            models.Index(
                fields=["tenant", "next_check_at"],
                condition=Q(next_check_at__isnull=False),
                name="onboarding_app_next_check",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.company_name}"

    @property
    def email_domain(self) -> str:
        return self.contact_email.rpartition("@")[2].lower()

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class ApplicationCheck(TenantOwned):
    """A vetting check ticked on an application: who, when, with a note."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="checks", db_constraint=False
    )
    check_item = models.ForeignKey(
        VettingCheck, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    done_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    done_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["done_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "check_item"], name="onboarding_check_once"
            ),
            *tenant_foreign_keys("onboarding_appcheck", "application", "check_item"),
        ]

    def __str__(self) -> str:
        return f"{self.check_item} on {self.application.code}"


class ApplicationEvent(TenantOwned):
    """One line of an application's timeline."""

    class Kind(models.TextChoices):
        RECEIVED = "received", "Received"
        CONFIRMED = "confirmed", "Email confirmed"
        NOTE = "note", "Note"
        CHECKED = "checked", "Check done"
        UNCHECKED = "unchecked", "Check undone"
        INFO_REQUESTED = "info_requested", "More information requested"
        INFO_PROVIDED = "info_provided", "Applicant answered"
        ASSIGNED = "assigned", "Reviewer assigned"
        REMINDED = "reminded", "Reviewer reminded"
        ESCALATED = "escalated", "Escalated to ops"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired unconfirmed"

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="events", db_constraint=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    message = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        constraints = [*tenant_foreign_keys("onboarding_appevent", "application")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.application.code})"

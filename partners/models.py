from django.db import models
from django.urls import reverse
from django.utils import timezone
from django_countries.fields import CountryField
from simple_history.models import HistoricalRecords

from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import TenantOwned, User


class Region(TenantOwned):
    """A sales region, configured by ops; partners fall into one through
    their country unless one is chosen explicitly."""

    name = models.CharField(max_length=100)
    code = models.SlugField(max_length=20, help_text="Short code used in imports, e.g. emea.")
    countries = CountryField(multiple=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="region_name_unique"),
            models.UniqueConstraint(fields=["tenant", "code"], name="region_code_unique"),
            tenant_key("region_tenant_key"),
        ]

    def __str__(self) -> str:
        return self.name


class Tier(TenantOwned):
    """A program tier (e.g. Registered, Silver, Gold); a higher rank is better."""

    name = models.CharField(max_length=100)
    rank = models.PositiveSmallIntegerField(help_text="1 is the entry tier; higher is better.")
    benefits = models.TextField(blank=True, help_text="What partners in this tier get.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="tier_name_unique"),
            models.UniqueConstraint(fields=["tenant", "rank"], name="tier_rank_unique"),
            tenant_key("tier_tenant_key"),
        ]

    def __str__(self) -> str:
        return self.name


class Partner(TenantOwned):
    """A partner organisation: a reseller, distributor, MSP, referral partner
    or systems integrator in the vendor's program."""

    class Type(models.TextChoices):
        RESELLER = "reseller", "Reseller"
        DISTRIBUTOR = "distributor", "Distributor"
        MSP = "msp", "Managed service provider"
        REFERRAL = "referral", "Referral partner"
        SI = "si", "Systems integrator"

    class Status(models.TextChoices):
        PROSPECT = "prospect", "Prospect"
        ONBOARDING = "onboarding", "Onboarding"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        TERMINATED = "terminated", "Terminated"

    name = models.CharField(max_length=200)
    legal_name = models.CharField(max_length=200, blank=True)
    normalized_name = models.CharField(max_length=200, editable=False)
    website = models.URLField(blank=True)
    domain = models.CharField(
        max_length=253, blank=True, editable=False, help_text="Taken from the website."
    )
    partner_type = models.CharField("type", max_length=20, choices=Type.choices)
    country = CountryField()
    region = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="partners",
        db_constraint=False,
    )
    tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, related_name="partners", db_constraint=False
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROSPECT)
    channel_manager = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The vendor's channel manager for this partner.",
    )
    phone = models.CharField(max_length=40, blank=True)
    address = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        permissions = [("manage_partner", "Act on this partner's records (channel manager)")]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "normalized_name"], name="partner_normalized_name_unique"
            ),
            models.UniqueConstraint(
                fields=["tenant", "domain"],
                condition=~models.Q(domain=""),
                name="partner_domain_unique",
            ),
            tenant_key("partner_tenant_key"),
            *tenant_foreign_keys("partner", "region", "tier"),
        ]
        indexes = [models.Index(fields=["tenant", "status"])]

    def __str__(self) -> str:
        return self.name

    def object_permission_target(self) -> "Partner":
        return self


class Contact(TenantOwned):
    """A person at a partner organisation the vendor talks to (who may or may
    not have a portal login)."""

    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="contacts", db_constraint=False
    )
    name = models.CharField(max_length=200)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=120, blank=True)
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_primary", "name"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "email"], name="contact_email_unique"),
            *tenant_foreign_keys("contact", "partner"),
        ]

    def __str__(self) -> str:
        return self.name

    def object_permission_target(self) -> Partner:
        return self.partner


class TierChange(TenantOwned):
    """A dated row of a partner's tier history: from ``effective_on`` the
    partner holds ``tier`` (until the next row). Incentives, MDF allocation
    and deal protection read the tier held on the day that matters
    (``partners.tiers.tier_on``), not the partner's tier today. Append-only:
    a correction is a new row."""

    class Reason(models.TextChoices):
        JOINED = "joined", "Joined the program"
        MANUAL = "manual", "Changed by ops"
        UPGRADE = "upgrade", "Qualified for a higher tier"
        DOWNGRADE = "downgrade", "Grace period ended"
        HOLD = "hold", "Held in tier by ops"
        HOLD_ENDED = "hold_ended", "Hold ended"

    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="tier_changes", db_constraint=False
    )
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    previous = models.ForeignKey(
        Tier,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        help_text="The tier held before; empty when the partner joined.",
    )
    effective_on = models.DateField()
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.TextField(blank=True)
    by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["partner", "effective_on", "id"]
        constraints = [
            tenant_key("tierchange_tenant_key"),
            *tenant_foreign_keys("tierchange", "partner", "tier", "previous"),
        ]
        indexes = [
            models.Index(fields=["partner", "effective_on"]),
            models.Index(fields=["tenant", "effective_on"]),
        ]

    def __str__(self) -> str:
        return f"{self.partner}: {self.tier} from {self.effective_on}"

    @property
    def direction(self) -> int:
        """1 up, -1 down, 0 for a first tier or a sideways record."""
        if self.previous_id is None or self.previous is None:
            return 0
        return (self.tier.rank > self.previous.rank) - (self.tier.rank < self.previous.rank)


def partner_admin_url(partner: Partner) -> str:
    return reverse("tenant_admin:partners_partner_change", args=[partner.pk])


def without_people() -> models.Q:
    """Partners nobody of whom has an active membership: nobody of theirs
    can sign in to the portal."""
    from prm.tenancy.models import Membership

    active = Membership.objects.filter(partner_id=models.OuterRef("pk"), is_active=True)
    return ~models.Q(models.Exists(active))

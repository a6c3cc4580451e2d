"""The vendor's own (direct) opportunities, imported from its CRM: what
partner registrations are checked against for channel conflict."""

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils import timezone
from django_countries.fields import CountryField

from prm.tenancy.constraints import tenant_key
from prm.tenancy.models import TenantOwned, currency_validator

from .config import ProductLine


class DirectOpportunity(TenantOwned):
    """The vendor's own pipeline, imported for conflict checks."""

    class Stage(models.TextChoices):
        PROSPECTING = "prospecting", "Prospecting"
        QUALIFICATION = "qualification", "Qualification"
        PROPOSAL = "proposal", "Proposal"
        NEGOTIATION = "negotiation", "Negotiation"
        CLOSED_WON = "closed_won", "Closed won"
        CLOSED_LOST = "closed_lost", "Closed lost"
        # The CRM no longer lists it (the API's DELETE): neither won nor lost here.
        CLOSED = "closed", "Closed (no longer in the CRM)"

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

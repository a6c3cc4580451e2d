"""The MDF admin (the admin helper's modules replace this interim one)."""

from django.contrib import admin

from prm.tenancy.admin_base import TenantModelAdmin, tenant_admin_site

from .models import Claim, FundRequest


@admin.register(FundRequest, site=tenant_admin_site)
class FundRequestAdmin(TenantModelAdmin):
    list_display = ("code", "title", "partner", "status")


@admin.register(Claim, site=tenant_admin_site)
class ClaimAdmin(TenantModelAdmin):
    list_display = ("code", "partner", "status")

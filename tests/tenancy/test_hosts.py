import pytest
from django.test import Client

from prm.tenancy.models import TenantDomain


@pytest.mark.django_db
class TestHostResolution:
    def test_tenant_subdomain_serves_its_portal(self, acme):
        response = acme.client("partner_user").get("/")
        assert response.status_code == 200
        assert response.context["tenant"] == acme.tenant
        assert acme.partner.name in response.content.decode()

    def test_unknown_host_is_a_plain_404(self, acme):
        response = Client(HTTP_HOST="nobody.localhost").get("/accounts/login/")
        assert response.status_code == 404
        assert b"no partner portal at nobody.localhost" in response.content

    def test_nested_subdomain_is_unknown(self, acme):
        response = Client(HTTP_HOST="x.acme.localhost").get("/accounts/login/")
        assert response.status_code == 404

    def test_inactive_tenant_is_unknown(self, acme):
        acme.tenant.is_active = False
        acme.tenant.save()
        response = Client(HTTP_HOST="acme.localhost").get("/accounts/login/")
        assert response.status_code == 404

    def test_custom_domain_resolves_with_port_and_case(self, acme):
        TenantDomain.objects.create(tenant=acme.tenant, host="partners.acme-corp.test")
        client = Client(HTTP_HOST="Partners.Acme-Corp.test:8443")
        response = client.get("/accounts/login/")
        assert response.status_code == 200
        assert response.context["tenant"] == acme.tenant

    def test_platform_host_sends_to_platform_admin(self, acme):
        response = Client(HTTP_HOST="localhost").get("/")
        assert response.status_code == 302
        assert response["Location"] == "/admin/"

    def test_healthz_checks_database_and_redis_on_any_host(self, db):
        response = Client(HTTP_HOST="whatever.invalid").get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"database": "ok", "redis": "ok"}

"""Tenant-owned data is reachable only inside a tenant's scope."""

import pytest
from django.apps import apps
from django_scopes import ScopeError, scope

from prm.celery import TenantTask, app
from prm.tenancy.models import TenantOwned
from prm.tenancy.scoping import tenant_scope

# Copies of tenant-owned rows kept by database triggers (their key is the
# row they copy, not TenantOwned's own); they have the scoped manager.
TRIGGER_KEPT = {"dealreg.ActiveClaim"}
# Reporting's rollups: derived rows (rebuilt from tenant-owned data at any
# time) with integer keys for their millions of rows; the scoped manager.
DERIVED = {
    "reporting.PartnerDay",
    "reporting.SegmentDay",
    "reporting.SegmentTotal",
    "reporting.MeasurementDay",
    "reporting.MeasurementSegment",
    "reporting.StalePartner",
    "reporting.RollupCheck",
}


def tenant_owned_models():
    return [m for m in apps.get_models() if issubclass(m, TenantOwned)]


def scoped_models():
    kept = sorted(TRIGGER_KEPT | DERIVED)
    return tenant_owned_models() + [apps.get_model(label) for label in kept]


def historical_models():
    return [m for m in apps.get_models() if hasattr(m, "instance_type")]


def test_every_model_with_a_tenant_is_tenant_owned():
    """A model that stores a tenant must use the scoped base, so that no one
    can forget the scope. Simple-history's tables copy their model's tenant
    column; they are read only through the (scoped) admin of that model."""
    historical = set(historical_models())
    # Host names are looked up before any scope exists (to find the tenant).
    platform_level = {"tenancy.TenantDomain"}
    offenders = [
        m._meta.label
        for m in apps.get_models()
        if any(f.name == "tenant" for f in m._meta.fields)
        and not issubclass(m, TenantOwned)
        and m not in historical
        and m._meta.label not in platform_level | TRIGGER_KEPT | DERIVED
    ]
    assert offenders == []
    for model in historical:
        assert issubclass(model.instance_type, TenantOwned), model


@pytest.mark.parametrize("model", scoped_models(), ids=lambda m: m._meta.label)
@pytest.mark.django_db
def test_query_outside_a_scope_raises(model):
    with pytest.raises(ScopeError):
        list(model.objects.all())
    with pytest.raises(ScopeError):
        model.objects.filter(pk=None).exists()
    with pytest.raises(ScopeError):
        model.objects.count()


def test_there_are_tenant_owned_models():
    labels = {m._meta.label_lower for m in tenant_owned_models()}
    assert {"partners.partner", "tenancy.membership", "tenancy.auditentry"} <= labels


@pytest.mark.django_db
def test_scope_limits_queries_to_its_tenant(acme, globex):
    from partners.models import Partner

    with acme.scope():
        names = set(Partner.objects.values_list("name", flat=True))
    assert names == {acme.partner.name, acme.other_partner.name}
    with globex.scope():
        assert not Partner.objects.filter(pk=acme.partner.pk).exists()


def test_tenant_scope_refuses_a_missing_tenant():
    # django-scopes reads scope(tenant=None) as "no filter"; ours refuses it.
    with pytest.raises(ValueError), tenant_scope(None):
        pass


@pytest.mark.django_db
def test_tenant_task_runs_inside_the_tenants_scope(acme, globex):
    from partners.models import Partner

    @app.task(base=TenantTask, name="tests.count_partners")
    def count_partners(*, tenant):
        return tenant.slug, Partner.objects.count()

    assert count_partners.delay(tenant_id=str(acme.tenant.pk)).get() == ("acme", 2)
    assert count_partners.delay(tenant_id=str(globex.tenant.pk)).get() == ("globex", 2)
    acme.tenant.is_active = False
    acme.tenant.save()
    assert count_partners.delay(tenant_id=str(acme.tenant.pk)).get() is None
    with scope(tenant=globex.tenant):
        assert Partner.objects.count() == 2


@pytest.mark.django_db
def test_full_clean_refuses_a_foreign_key_into_another_tenant(acme, globex):
    from django.core.exceptions import ValidationError

    from partners.models import Contact

    with acme.scope():
        contact = Contact(
            tenant=acme.tenant, partner=globex.partner, name="X", email="x@example.test"
        )
        with pytest.raises(ValidationError) as caught:
            contact.full_clean()
        assert "partner" in caught.value.message_dict
        contact.partner = acme.partner
        contact.full_clean()

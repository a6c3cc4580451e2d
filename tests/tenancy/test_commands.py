import pytest
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled

from dealreg.models import DealRegistration
from incentives.models import LedgerEntry
from partners.models import Partner, Tier
from prm.tenancy.models import Membership, Tenant, TenantDomain, User
from prm.tenancy.roles import Role


@pytest.mark.django_db
def test_create_tenant_makes_the_tenant_and_its_first_ops_admin(capsys):
    call_command(
        "create_tenant",
        "initech",
        "Initech",
        "--admin-email=Boss@Initech.test",
        "--admin-password=a-long-enough-pass-1",
        "--timezone=Europe/Paris",
        "--currency=eur",
        "--country=fr",
        "--fiscal-year-start=4",
        "--domain=partners.initech.test",
    )
    tenant = Tenant.objects.get(slug="initech")
    assert (tenant.timezone, tenant.base_currency, tenant.country) == ("Europe/Paris", "EUR", "FR")
    assert tenant.fiscal_year_start == 4
    assert TenantDomain.objects.get(tenant=tenant).host == "partners.initech.test"
    with scopes_disabled():
        membership = Membership.objects.get(tenant=tenant)
    assert membership.role == Role.OPS_ADMIN
    assert membership.user.email == "boss@initech.test"
    assert membership.user.check_password("a-long-enough-pass-1")
    assert "http://partners.initech.test/" in capsys.readouterr().out


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad_Slug", "X"], "lowercase letters"),
        (["www", "X"], "reserved"),
        (["ok", "X", "--timezone=Mars/Base"], "not a known time zone"),
        (["ok", "X", "--currency=EURO"], "three-letter"),
        (["ok", "X", "--domain=ok.localhost"], "come from the tenant's slug"),
        (["ok", "X", "--fiscal-year-start=13"], "fiscal_year_start: Value 13 is not a valid"),
    ],
)
def test_create_tenant_refuses_bad_input_and_writes_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_tenant", *args, "--admin-email=a@b.test", "--admin-password=x" * 12)
    assert not Tenant.objects.exists()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_create_tenant_refuses_a_taken_slug():
    Tenant.objects.create(slug="acme", name="Acme")
    with pytest.raises(CommandError, match="already exists"):
        call_command(
            "create_tenant", "acme", "Other", "--admin-email=a@b.test", "--admin-password=x" * 12
        )


def demo_counts() -> dict[str, int]:
    with scopes_disabled():
        return {
            "tenants": Tenant.objects.count(),
            "partners": Partner.objects.count(),
            "tiers": Tier.objects.count(),
            "memberships": Membership.objects.count(),
            "registrations": DealRegistration.objects.count(),
            "ledger entries": LedgerEntry.objects.count(),
        }


@pytest.mark.django_db
def test_seed_demo_is_idempotent(capsys):
    # A fifth of the demo's year of history: the whole of it takes a minute.
    call_command("seed_demo", scale=0.2)
    first = capsys.readouterr().out
    counts = demo_counts()
    call_command("seed_demo", scale=0.2)
    assert demo_counts() == counts
    assert {k: counts[k] for k in ("tenants", "partners", "tiers", "memberships")} == {
        "tenants": 2,
        "partners": 70,
        "tiers": 8,
        # Per tenant: six staff (a second channel manager, a second finance
        # person), the two partner logins and 104 people at the partners.
        "memberships": 224,
    }
    # Today's registrations and incentives' half year, and the year's.
    assert counts["registrations"] > 46 and counts["ledger entries"] > 52
    with scopes_disabled():
        statuses = set(DealRegistration.objects.values_list("status", flat=True))
        assert {"submitted", "approved", "won", "more_info_requested", "reversed"} <= statuses
        for slug in ("acme", "globex"):
            roles = set(Membership.objects.filter(tenant__slug=slug).values_list("role", flat=True))
            assert roles == {r.value for r in Role}
    assert "partner.user@acme.example" in first
    assert "demo-pass-2026" in first

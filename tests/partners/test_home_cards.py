"""The partner directory's and the foundation's home cards: a channel
manager's partners, active partners nobody manages, invitations not yet
accepted; the partner's own organisation and manager on the portal home."""

import pytest

from partners.models import Partner
from prm.tenancy.roles import Role
from prm.tenancy.services import invite
from prm.tenancy.views import home_cards


def cards(world, role) -> dict:
    with world.scope():
        return {c["card"].key: c for c in home_cards(world[role])}


@pytest.mark.django_db
def test_channel_manager_sees_their_partners_and_ops_the_unmanaged_ones(acme, globex):
    with acme.scope():
        Partner.objects.filter(pk=acme.other_partner.pk).update(status=Partner.Status.ACTIVE)
        Partner.objects.filter(pk=acme.partner.pk).update(status=Partner.Status.ACTIVE)
    (mine,) = cards(acme, Role.CHANNEL_MANAGER)["partners.directory"]["counts"]
    assert (mine.text, mine.url) == (
        "1 partner you manage",
        "/admin/partners/partner/?manager=me",
    )
    counts = cards(acme, Role.OPS_ADMIN)["partners.directory"]["counts"]
    [unmanaged] = [c for c in counts if "without a channel manager" in c.text]
    assert unmanaged.text == "1 active partner without a channel manager" and unmanaged.urgent
    response = acme.client(Role.OPS_ADMIN).get(unmanaged.url)
    assert response.context["cl"].result_count == 1
    # A suspended partner without a manager needs nobody.
    with acme.scope():
        Partner.objects.filter(pk=acme.other_partner.pk).update(status=Partner.Status.SUSPENDED)
    assert cards(acme, Role.OPS_ADMIN)["partners.directory"]["counts"] == []


@pytest.mark.django_db
def test_invitations_waiting_are_counted_for_whoever_sent_them(acme):
    with acme.scope():
        invite(
            tenant=acme.tenant,
            by=acme[Role.PARTNER_ADMIN],
            email="new.colleague@example.test",
            role=Role.PARTNER_USER,
        )
    (count,) = cards(acme, Role.PARTNER_ADMIN)["tenancy.team"]["counts"]
    assert (count.text, count.url) == ("1 invitation not accepted yet", "/people/")
    (count,) = cards(acme, Role.OPS_ADMIN)["tenancy.people"]["counts"]
    assert count.text == "1 invitation not accepted yet"
    assert "tenancy.team" not in cards(acme, Role.PARTNER_USER)


@pytest.mark.django_db
def test_partner_home_shows_the_organisation_and_its_manager(acme):
    response = acme.client(Role.PARTNER_USER).get("/")
    page = response.content.decode()
    assert 'data-testid="partner-card"' in page and acme.partner.name in page
    assert 'data-testid="manager-card"' in page
    assert acme[Role.CHANNEL_MANAGER].user.email in page
    assert "partners.directory" not in cards(acme, Role.PARTNER_USER)


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.FINANCE])
def test_executives_and_finance_see_the_active_partners_read_only(acme, globex, role):
    with acme.scope():
        Partner.objects.filter(pk=acme.partner.pk).update(status=Partner.Status.ACTIVE)
        Partner.objects.filter(pk=acme.other_partner.pk).update(status=Partner.Status.SUSPENDED)
    (count,) = cards(acme, role)["partners.directory"]["counts"]
    assert count.text == "1 active partner" and not count.urgent
    response = acme.client(role).get(count.url)
    assert response.status_code == 200 and response.context["cl"].result_count == 1


@pytest.mark.django_db
def test_ops_see_the_imports_of_the_last_30_days(acme, globex):
    from datetime import timedelta

    from django.utils import timezone

    from prm.tenancy.models import AuditEntry
    from prm.tenancy.services import audit

    for world in (acme, globex):
        with world.scope():
            audit(world.tenant, by=None, action="partner.imported", obj=world.tenant)
    with acme.scope():
        audit(acme.tenant, by=None, action="incentives.rates_imported", obj=acme.tenant)
        old = audit(acme.tenant, by=None, action="partner.imported", obj=acme.tenant)
        AuditEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
        audit(acme.tenant, by=None, action="partner.created", obj=acme.tenant)
    (count,) = cards(acme, Role.OPS_ADMIN)["tenancy.imports"]["counts"]
    assert count.text == "2 imports in the last 30 days"
    response = acme.client(Role.OPS_ADMIN).get(count.url)
    assert response.status_code == 200 and response.context["cl"].result_count == 2
    assert "tenancy.imports" not in cards(acme, Role.EXECUTIVE)


@pytest.mark.django_db
def test_ops_see_active_partners_with_nobody_in_the_portal(acme, globex):
    from prm.tenancy.models import Membership

    with acme.scope():
        Partner.objects.filter(pk__in=[acme.partner.pk, acme.other_partner.pk]).update(
            status=Partner.Status.ACTIVE
        )
        assert Membership.objects.filter(partner=acme.partner, is_active=True).exists()
        assert not Membership.objects.filter(partner=acme.other_partner).exists()
    counts = cards(acme, Role.OPS_ADMIN)["partners.directory"]["counts"]
    [nobody] = [c for c in counts if "nobody in the portal" in c.text]
    assert nobody.text == "1 active partner with nobody in the portal yet"
    response = acme.client(Role.OPS_ADMIN).get(nobody.url)
    assert [p.pk for p in response.context["cl"].result_list] == [acme.other_partner.pk]
    # Once its people leave, the first partner has nobody either.
    with acme.scope():
        Membership.objects.filter(partner=acme.partner).update(is_active=False)
    counts = cards(acme, Role.OPS_ADMIN)["partners.directory"]["counts"]
    assert "2 active partners with nobody in the portal yet" in [c.text for c in counts]

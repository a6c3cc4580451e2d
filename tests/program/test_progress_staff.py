"""What staff see of tier progress: the "Tier" panel on a partner's page
(tier held, qualifying tier from the last evaluation, grace or hold with its
reason, the next tier's lines and headline) and the admin list of partners
about to move (filters, order, read-only, roles, other tenant: 404)."""

import datetime as dt

import pytest
from django.urls import reverse

from partners.models import TierChange
from prm.tenancy.roles import PARTNER_ROLES, Role
from program.evaluation import Trigger, evaluate
from program.models import QualificationSettings, TierHold, TierStanding

from . import builders as b
from .builders import TODAY

pytestmark = pytest.mark.django_db
LIST = reverse("tenant_admin:program_tierstanding_changelist")


@pytest.fixture
def cert(world, tiers):
    found = b.engineering(world)
    b.engineers_ladder(world, tiers, found, gold=3)
    return found


@pytest.fixture
def moving(world, tiers, cert):
    """The world's partner (CM: the world's) is Gold with 2 engineers: a
    grace period of 45 days; the other partner is Silver with 3: an upgrade
    waiting for the review; a third, Silver with 1, stays."""
    policy = QualificationSettings.for_tenant(world.tenant)
    policy.upgrades = policy.Upgrades.AT_REVIEW
    policy.grace_days = 45
    policy.save()
    b.certify(world, [world[Role.PARTNER_ADMIN], world[Role.PARTNER_USER]], cert)
    b.at_tier(world, world.other_partner, tiers["Silver"])
    b.certify(world, b.people(world, world.other_partner, 3), cert)
    from tests import factories

    steady = factories.make_partner(world.tenant, "Steady Ltd", tier=tiers["Silver"])
    b.certify(world, b.people(world, steady, 1), cert)
    evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
    return steady


def listed(response):
    return [row.partner.name for row in response.context["cl"].result_list]


class TestAboutToMove:
    def test_lists_partners_moving_grace_first(self, world, moving):
        response = world.client(Role.CHANNEL_MANAGER).get(LIST)
        assert response.status_code == 200
        assert listed(response) == [world.partner.name, world.other_partner.name]
        html = response.content.decode()
        assert "Partners about to move" in html
        assert "29 Jul 2026 (44 days left)" in html
        partner_url = reverse("tenant_admin:partners_partner_change", args=[world.partner.pk])
        assert f'href="{partner_url}#tier"' in html

    def test_filters(self, world, moving):
        client = world.client(Role.OPS_ADMIN)
        assert listed(client.get(f"{LIST}?direction=up")) == [world.other_partner.name]
        assert listed(client.get(f"{LIST}?direction=down")) == [world.partner.name]
        assert listed(client.get(f"{LIST}?manager=me")) == []
        cm = world.client(Role.CHANNEL_MANAGER)
        assert listed(cm.get(f"{LIST}?manager=me")) == [world.partner.name]
        silver = TierChange.objects.filter(tier__name="Silver").first().tier
        assert listed(client.get(f"{LIST}?tier={silver.pk}")) == [world.other_partner.name]
        # Grace ending within the notice days (30): not yet (45 days).
        assert listed(client.get(f"{LIST}?grace=soon")) == []
        QualificationSettings.objects.update(notice_days=45)
        assert listed(client.get(f"{LIST}?grace=soon")) == [world.partner.name]

    def test_a_held_partner_is_not_moving(self, world, tiers, moving):
        TierHold.objects.create(
            tenant=world.tenant,
            partner=world.other_partner,
            tier=tiers["Silver"],
            reason="Contract review",
            starts_on=TODAY,
            ends_on=TODAY + dt.timedelta(days=60),
        )
        response = world.client(Role.OPS_ADMIN).get(LIST)
        assert listed(response) == [world.partner.name]

    def test_read_only(self, world, moving):
        client = world.client(Role.OPS_ADMIN)
        standing = TierStanding.objects.get(partner=world.partner)
        url = reverse("tenant_admin:program_tierstanding_change", args=[standing.pk])
        assert client.get(url).status_code == 200
        before = standing.grace_until
        response = client.post(url, {"grace_until": "2030-01-01"})
        assert response.status_code == 403
        standing.refresh_from_db()
        assert standing.grace_until == before
        assert client.get(reverse("tenant_admin:program_tierstanding_add")).status_code == 403

    def test_constant_queries(self, world, moving, django_assert_max_num_queries):
        client = world.client(Role.OPS_ADMIN)
        client.get(LIST)
        with django_assert_max_num_queries(LIST_QUERIES) as few:
            client.get(LIST)
        for i in range(5):
            from tests import factories

            extra = factories.make_partner(world.tenant, f"More {i}", tier=world.partner.tier)
            extra.channel_manager = world[Role.CHANNEL_MANAGER].user
            extra.save()
        evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        with django_assert_max_num_queries(len(few.captured_queries)):
            response = client.get(LIST)
        assert len(listed(response)) == 7

    @pytest.mark.parametrize("role", sorted(PARTNER_ROLES))
    def test_partners_are_refused(self, world, moving, role):
        response = world.client(role).get(LIST)
        assert response.status_code == 403

    def test_other_tenant_gets_404(self, world, globex, moving):
        standing = TierStanding.objects.get(partner=world.partner)
        url = reverse("tenant_admin:program_tierstanding_change", args=[standing.pk])
        with globex.scope():
            assert globex.client(Role.OPS_ADMIN).get(url).status_code == 404
            assert listed(globex.client(Role.OPS_ADMIN).get(LIST)) == []


LIST_QUERIES = 16


class TestPanel:
    def url(self, partner):
        return reverse("tenant_admin:partners_partner_change", args=[partner.pk])

    def test_grace_and_next_tier(self, world, tiers, moving):
        response = world.client(Role.CHANNEL_MANAGER).get(self.url(world.partner))
        html = response.content.decode()
        assert 'data-testid="tier-panel"' in html
        assert 'data-testid="panel-tier">Gold<' in html
        assert "Silver" in html.split('data-testid="panel-qualifies">')[1].split("</dd>")[0]
        assert "Keeps Gold through 29 Jul 2026 (44 days left)" in html
        assert "1 more certified engineer to keep Gold" in html
        assert "2 of 3 certified engineers" in html

    def test_next_tier_lines_and_hold_reason(self, world, tiers, moving):
        TierHold.objects.create(
            tenant=world.tenant,
            partner=moving,
            tier=tiers["Silver"],
            reason="Strategic account under renegotiation",
            starts_on=TODAY,
            ends_on=TODAY + dt.timedelta(days=60),
        )
        html = world.client(Role.OPS_ADMIN).get(self.url(moving)).content.decode()
        assert "Held in Silver until 14 Aug 2026" in html
        assert "renegotiation" in html  # staff see the reason
        assert "2 more certified engineers to Gold" in html
        assert "1 of 3 certified engineers" in html

    def test_no_criteria(self, world, tiers):
        html = world.client(Role.OPS_ADMIN).get(self.url(world.partner)).content.decode()
        assert "None published: tiers are assigned by ops." in html
